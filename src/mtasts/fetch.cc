// RFC 8461 3.1 discovery and 3.3 policy fetch, and the one place where a
// failure's phase becomes its RFC 8460 result-type.
#include "dns/dns.h"
#include "mtasts/mtasts.h"
#include "net/net.h"

namespace mxsec::mtasts {

std::string_view PhaseName(Phase phase) {
  switch (phase) {
    case Phase::kDns: return "dns";
    case Phase::kRecord: return "record";
    case Phase::kConnect: return "connect";
    case Phase::kTls: return "tls";
    case Phase::kHttp: return "http";
    case Phase::kPolicy: return "policy";
  }
  return "policy";
}

std::string_view TlsrptResultType(Phase phase) {
  switch (phase) {
    case Phase::kDns:
    case Phase::kConnect:
    case Phase::kHttp: return "sts-policy-fetch-error";
    case Phase::kRecord:
    case Phase::kPolicy: return "sts-policy-invalid";
    case Phase::kTls: return "sts-webpki-invalid";
  }
  return "sts-policy-fetch-error";
}

std::string StsError::Message() const { return std::string(PhaseName(phase)) + ": " + error.detail; }

namespace {
tl::unexpected<StsError> StsFail(Phase phase, Code code, std::string detail) {
  return tl::unexpected<StsError>(StsError{phase, Error{code, std::move(detail)}});
}
}  // namespace

StsResult<Record> DiscoverRecord(dns::Resolver& resolver, std::string_view domain) {
  const std::string name = "_mta-sts." + FoldDomain(domain);
  auto txt = resolver.LookupTxt(name);
  if (!txt) {
    if (txt.error().code == Code::kNotFound) return StsFail(Phase::kRecord, Code::kNotFound, txt.error().detail);
    return StsFail(Phase::kDns, txt.error().code, txt.error().detail);
  }
  auto record = SelectRecord(txt->records);
  if (!record) {
    return StsFail(Phase::kRecord, record.error().code, "TXT " + name + ": " + record.error().detail);
  }
  return *record;
}

namespace {

// RFC 8461 3.3: "text/plain", parameters allowed, type/subtype case-insensitive.
bool IsTextPlain(std::string_view content_type) {
  std::string_view type = content_type.substr(0, content_type.find(';'));
  while (!type.empty() && (type.back() == ' ' || type.back() == '\t')) type.remove_suffix(1);
  while (!type.empty() && (type.front() == ' ' || type.front() == '\t')) type.remove_prefix(1);
  return FoldDomain(type) == "text/plain";
}

Phase PhaseOf(net::HttpsStage stage) {
  switch (stage) {
    case net::HttpsStage::kResolve:
    case net::HttpsStage::kConnect:
    case net::HttpsStage::kTls: return Phase::kConnect;  // no secure channel, but nothing to authenticate yet
    case net::HttpsStage::kCertificate: return Phase::kTls;
    case net::HttpsStage::kHttp:
    case net::HttpsStage::kTooLarge:
    case net::HttpsStage::kTimeout: return Phase::kHttp;
  }
  return Phase::kHttp;
}

}  // namespace

StsResult<FetchedPolicy> FetchPolicy(net::HttpsClient& client, std::string_view domain, const FetchOptions& options) {
  net::HttpsRequest request;
  request.host = "mta-sts." + FoldDomain(domain);
  request.port = options.port;
  request.path = "/.well-known/mta-sts.txt";
  request.accept = "text/plain";
  request.max_body = kMaxPolicyBytes;
  request.timeout = options.timeout;
  request.ca_file = options.ca_file;
  auto response = client.Get(request);
  if (!response) {
    const auto& e = response.error();
    Code code = e.stage == net::HttpsStage::kCertificate ? Code::kPermFail : Code::kTempFail;
    std::string detail = e.detail;
    if (e.stage == net::HttpsStage::kTooLarge) {
      detail = "https://" + request.host + request.path + ": policy larger than 64 KiB (65536 bytes)";
    }
    return StsFail(PhaseOf(e.stage), code, std::move(detail));
  }
  const std::string url = "https://" + request.host + request.path;
  if (response->status >= 300 && response->status < 400) {
    return StsFail(Phase::kHttp, Code::kPermFail,
                   url + ": HTTP " + std::to_string(response->status) + " redirect to " +
                       Quote(response->location, 200) + " refused (RFC 8461 3.3)");
  }
  if (response->status != 200) {
    return StsFail(Phase::kHttp, Code::kPermFail, url + ": HTTP status " + std::to_string(response->status));
  }
  if (!IsTextPlain(response->content_type)) {
    return StsFail(Phase::kHttp, Code::kPermFail,
                   url + ": media type " + Quote(response->content_type, 100) + " is not text/plain");
  }
  auto policy = ParsePolicy(response->body);
  if (!policy) return StsFail(Phase::kPolicy, Code::kSyntax, url + ": " + policy.error().detail);
  return FetchedPolicy{std::move(*policy), std::move(response->body)};
}

}  // namespace mxsec::mtasts
