// The checker: DNS, then every MX host once (shared across the domains of a
// scan), then MTA-STS and TLSRPT, then the status rules of check.h.
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <future>
#include <map>
#include <mutex>

#include "check/check.h"
#include "dane/dane.h"
#include "mtasts/mtasts.h"
#include "net/net.h"
#include "tlsrpt/tlsrpt.h"

namespace mxsec::check {

std::string_view StatusName(Status status) {
  switch (status) {
    case Status::kSuccess: return "success";
    case Status::kWarning: return "warning";
    case Status::kFailure: return "failure";
    case Status::kError: return "error";
  }
  return "error";
}

namespace {

using Clock_ = std::chrono::steady_clock;

void Add(std::vector<Finding>& findings, Status& status, std::string check, Status level, std::string message,
         std::string hint = "") {
  findings.push_back(Finding{std::move(check), level, std::move(message), std::move(hint)});
  status = Worst(status, level);
}

std::string LocalHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof name - 1) != 0 || name[0] == '\0') return "localhost";
  return FoldDomain(name);
}

int VersionRank(std::string_view version) {
  if (version == "TLSv1.3") return 4;
  if (version == "TLSv1.2") return 3;
  if (version == "TLSv1.1") return 2;
  if (version == "TLSv1") return 1;
  return 0;  // SSLv3 or unknown
}

// What the host-level work found, shared by every domain using the host.
struct HostResult {
  std::string dnssec;  // of the address records
  std::vector<std::string> addresses;
  Status status = Status::kSuccess;  // of the DNS part
  std::vector<Finding> findings;
  // TLSA at _25._tcp.<host>
  dns::Security tlsa_security = dns::Security::kInsecure;
  bool tlsa_found = false;
  bool tlsa_failed = false;
  std::vector<dns::Tlsa> tlsa;
  std::string tlsa_error;
  std::vector<AddressResult> results;
};

}  // namespace

struct Checker::Impl {
  dns::Resolver& resolver;
  net::SmtpProber& prober;
  net::HttpsClient& https;
  std::shared_ptr<TrustStore> trust;
  CheckOptions options;
  const Clock& clock;

  std::mutex mutex;
  std::condition_variable slot_freed;
  std::map<std::string, int> sessions;  // per address, in use
  std::map<std::string, std::shared_future<HostResult>> hosts;

  Impl(dns::Resolver& r, net::SmtpProber& p, net::HttpsClient& h, std::shared_ptr<TrustStore> t, CheckOptions o,
       const Clock& c)
      : resolver(r), prober(p), https(h), trust(std::move(t)), options(std::move(o)), clock(c) {
    if (options.ehlo_name.empty()) options.ehlo_name = LocalHostName();
  }

  // ---- SMTP sessions, at most per_address_limit at a time per address.
  net::SmtpProbeResult Session(net::SmtpProbeRequest request) {
    {
      std::unique_lock<std::mutex> lock(mutex);
      slot_freed.wait(lock, [&] { return sessions[request.address] < std::max(1, options.per_address_limit); });
      ++sessions[request.address];
    }
    auto result = prober.Probe(request);
    {
      std::lock_guard<std::mutex> lock(mutex);
      if (--sessions[request.address] == 0) sessions.erase(request.address);
    }
    slot_freed.notify_all();
    return result;
  }

  // The result for one MX host, computed once per checker: concurrent
  // callers for the same host wait for the first one.
  HostResult Host(const std::string& host, Clock_::time_point deadline) {
    std::promise<HostResult> promise;
    std::shared_future<HostResult> future;
    bool owner = false;
    {
      std::lock_guard<std::mutex> lock(mutex);
      auto it = hosts.find(host);
      if (it == hosts.end()) {
        future = promise.get_future().share();
        hosts.emplace(host, future);
        owner = true;
      } else {
        future = it->second;
      }
    }
    if (owner) promise.set_value(CheckHost(host, deadline));
    return future.get();
  }

  HostResult CheckHost(const std::string& host, Clock_::time_point deadline) {
    HostResult h;
    // Addresses: A, then AAAA.
    auto a = resolver.LookupA(host);
    Result<dns::Answer<std::string>> aaaa = Fail(Code::kNotFound, "not asked");
    if (options.ipv6) aaaa = resolver.LookupAaaa(host);
    dns::Security security = dns::Security::kSecure;
    bool any = false;
    for (auto* answer : {&a, &aaaa}) {
      if (*answer) {
        any = true;
        security = std::max(security, (*answer)->security);
        for (auto& address : (*answer)->records) h.addresses.push_back(address);
      }
    }
    if (!any) {
      security = dns::Security::kInsecure;
    }
    for (auto* answer : {&a, &aaaa}) {
      if (*answer) continue;
      const Error& e = answer->error();
      if (e.code == Code::kBogus) {
        security = dns::Security::kBogus;
        Add(h.findings, h.status, "mx", Status::kFailure, "address lookup of " + host + " is DNSSEC-bogus: " + e.detail,
            "fix the zone's signatures; validating senders cannot reach this host");
      } else if (e.code == Code::kTempFail && !any) {
        Add(h.findings, h.status, "mx", Status::kError, "address lookup of " + host + " failed: " + e.detail,
            "check the zone's name servers");
      }
    }
    h.dnssec = any || security == dns::Security::kBogus ? std::string(dns::SecurityName(security)) : "";
    if (h.addresses.empty()) {
      if (h.status == Status::kSuccess) {
        Add(h.findings, h.status, "mx", Status::kFailure, host + " has no A or AAAA record",
            "publish the MX host's address or remove it from the MX records");
      }
      return h;
    }

    // TLSA. RFC 7672 2.2: senders use it only when the host's address
    // records are secure too; it is looked up anyway to report records that
    // senders ignore.
    if (security != dns::Security::kBogus) {
      auto tlsa = resolver.LookupTlsa(dane::TlsaName(host, options.port));
      if (tlsa) {
        h.tlsa_found = !tlsa->records.empty();
        h.tlsa_security = tlsa->security;
        h.tlsa = tlsa->records;
      } else if (tlsa.error().code == Code::kBogus) {
        h.tlsa_failed = true;
        h.tlsa_security = dns::Security::kBogus;
        h.tlsa_error = tlsa.error().detail;
      } else if (tlsa.error().code != Code::kNotFound) {
        h.tlsa_failed = true;
        h.tlsa_error = tlsa.error().detail;
      }
    }

    for (const auto& address : h.addresses) h.results.push_back(CheckAddress(host, address, h, deadline));
    return h;
  }

  std::chrono::milliseconds Remaining(Clock_::time_point deadline) const {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock_::now());
    return std::min(left, options.connect_timeout);
  }

  AddressResult CheckAddress(const std::string& host, const std::string& address, const HostResult& h,
                             Clock_::time_point deadline) {
    AddressResult r;
    r.address = address;
    const auto start = Clock_::now();
    auto finish = [&] {
      r.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock_::now() - start).count();
      return r;
    };
    auto timeout = Remaining(deadline);
    if (timeout.count() <= 0) {
      Add(r.findings, r.status, "smtp", Status::kError, "not checked: the time limit for the domain was reached");
      return finish();
    }
    net::SmtpProbeRequest request;
    request.address = address;
    request.port = options.port;
    request.ehlo_name = options.ehlo_name;
    request.server_name = host;
    request.timeout = timeout;
    auto probe = Session(request);
    r.connected = probe.connected;
    r.banner = probe.banner;
    r.answered = !probe.banner.empty() && probe.failed != net::SmtpStage::kBanner;
    r.starttls = probe.starttls_offered;

    const std::string limit = std::to_string(timeout.count()) + " ms";
    if (probe.failed == net::SmtpStage::kConnect || (!probe.connected && probe.failed)) {
      Add(r.findings, r.status, "smtp", Status::kError, "cannot connect: " + probe.error,
          "make sure port " + std::to_string(options.port) + " is open and the MTA is listening");
      return finish();
    }
    if (!r.answered) {
      Add(r.findings, r.status, "smtp", Status::kError, "no SMTP greeting: " + probe.error,
          "the server must greet with 220 (RFC 5321 4.2)");
      return finish();
    }
    if (probe.failed == net::SmtpStage::kEhlo || (probe.failed == net::SmtpStage::kTimeout && !r.starttls &&
                                                  probe.extensions.empty())) {
      Add(r.findings, r.status, "smtp", Status::kError, "EHLO failed: " + probe.error,
          "the server must answer EHLO with 250 (RFC 5321 4.1.1.1)");
      return finish();
    }
    if (!r.starttls) {
      Add(r.findings, r.status, "starttls", Status::kFailure, "STARTTLS is not offered",
          "enable STARTTLS with a certificate (Postfix: smtpd_tls_security_level = may, smtpd_tls_chain_files)");
      return finish();
    }
    if (!probe.tls) {
      const bool unanswered = probe.failed == net::SmtpStage::kTimeout ||
                              probe.error.find("connection closed") != std::string::npos;
      Add(r.findings, r.status, probe.failed == net::SmtpStage::kStartTls ? "starttls" : "tls",
          unanswered ? Status::kError : Status::kFailure, probe.error,
          "STARTTLS is offered but TLS cannot be established: check the server's TLS configuration and logs");
      return finish();
    }
    r.tls_ok = true;
    r.tls.version = probe.tls_version;
    r.tls.cipher = probe.cipher;
    r.tls.key_exchange = probe.key_exchange;
    const int rank = VersionRank(probe.tls_version);
    if (rank < 3) {
      Add(r.findings, r.status, "tls", Status::kFailure,
          "only " + probe.tls_version + " is negotiated: senders with a TLS 1.2 floor (OpenSSL 3's default) cannot "
          "use TLS here and send in plaintext or defer",
          "enable TLS 1.2 and 1.3 (Postfix: smtpd_tls_protocols = >=TLSv1.2)");
    }
    if (options.probe_legacy_tls) {
      auto legacy = [&](net::TlsVersion version) -> std::optional<bool> {
        auto left = Remaining(deadline);
        if (left.count() <= 0) return std::nullopt;
        net::SmtpProbeRequest only = request;
        only.min_version = version;
        only.max_version = version;
        only.timeout = left;
        auto result = Session(only);
        if (result.tls) return true;
        if (result.failed == net::SmtpStage::kTls) return false;
        return std::nullopt;  // the session failed before TLS: no answer
      };
      if (rank > 1) r.tls.tls10_accepted = legacy(net::TlsVersion::kTls10);
      if (rank > 2) r.tls.tls11_accepted = legacy(net::TlsVersion::kTls11);
      if (rank >= 3) {
        std::string old;
        if (r.tls.tls10_accepted.value_or(false)) old = "TLS 1.0";
        if (r.tls.tls11_accepted.value_or(false)) old += std::string(old.empty() ? "" : " and ") + "TLS 1.1";
        if (!old.empty()) {
          Add(r.findings, r.status, "tls", Status::kWarning, old + " still accepted (deprecated by RFC 8996)",
              "disable them (Postfix: smtpd_tls_protocols = >=TLSv1.2)");
        }
      }
    }

    // Certificate.
    const int64_t now = ToUnix(clock.Now());
    r.certificate = AnalyzeCertificate(probe.peer_chain, *trust, host, now);
    // DANE first: a DANE-valid host needs no PKIX for DANE senders.
    if (h.tlsa_found && h.tlsa_security == dns::Security::kSecure && h.dnssec == "secure") {
      r.dane.dnssec = "secure";
      for (const auto& record : h.tlsa) r.dane.tlsa.push_back(dane::TlsaText(record));
      auto verification = dane::Verify(probe.peer_chain, h.tlsa, {host}, now);
      r.dane.usable = verification.usable > 0;
      r.dane.valid = verification.valid;
      r.dane.matched = verification.matched;
      r.dane.error = verification.error;
      if (!r.dane.usable) {
        Add(r.findings, r.status, "dane", Status::kWarning,
            "none of the TLSA records is usable for SMTP (only DANE-TA(2) and DANE-EE(3) are)",
            "publish a \"3 1 1\" record of the server's key");
      } else if (!r.dane.valid) {
        Add(r.findings, r.status, "dane", Status::kFailure,
            "TLSA " + r.dane.tlsa.front() + (r.dane.tlsa.size() > 1 ? " (and the others)" : "") +
                " does not match the served certificate: " + r.dane.error,
            "publish the hash of the served key (a \"3 1 1\" record) and keep old and new records during a "
            "rotation: publish the new hash before rotating");
      }
    }
    const Certificate& c = r.certificate;
    const Status pkix_level = r.dane.valid ? Status::kWarning : Status::kFailure;
    const std::string pkix_note = r.dane.valid ? " (DANE senders are fine; MTA-STS and PKIX senders are not)" : "";
    if (!c.present) {
      Add(r.findings, r.status, "certificate", Status::kFailure, "no certificate presented",
          "configure a certificate for STARTTLS");
    } else {
      if (c.days_left < 0) {
        Add(r.findings, r.status, "certificate", pkix_level,
            "certificate expired " + std::to_string(-c.days_left) + " days ago (" + c.not_after + ")" + pkix_note,
            "renew it");
      } else if (!c.pkix_valid) {
        Add(r.findings, r.status, "certificate", pkix_level,
            std::string(c.self_signed ? "self-signed certificate" : "certificate not trusted") + ": " +
                c.pkix_error + pkix_note,
            "use a certificate from a public CA (e.g. ACME) with the full chain, or publish DANE TLSA records");
      } else if (c.days_left < 14) {
        Add(r.findings, r.status, "certificate", Status::kWarning,
            "certificate expires in " + std::to_string(c.days_left) + " days (" + c.not_after + ")", "renew it");
      }
      if (!c.matches_hostname && !(r.dane.valid && r.dane.matched.rfind("3 ", 0) == 0)) {
        std::string names;
        for (const auto& n : c.names) names += (names.empty() ? "" : ", ") + n;
        Add(r.findings, r.status, "certificate", pkix_level,
            "certificate is not valid for " + host + " (names: " + (names.empty() ? "none" : names) + ")" +
                pkix_note,
            "issue a certificate that includes " + host);
      }
      if (c.key_type == "RSA" && c.key_bits < 2048) {
        Add(r.findings, r.status, "certificate", Status::kWarning,
            "RSA key of " + std::to_string(c.key_bits) + " bits", "use RSA 2048+ or ECDSA P-256");
      }
      std::string sig = c.signature_algorithm;
      if (sig.find("sha1") != std::string::npos || sig.find("md5") != std::string::npos ||
          sig.find("SHA1") != std::string::npos || sig.find("MD5") != std::string::npos) {
        Add(r.findings, r.status, "certificate", Status::kWarning, "weak signature algorithm " + sig,
            "reissue the certificate with SHA-256");
      }
    }
    return finish();
  }

  // ---- The domain.
  DomainResult Check(std::string_view input) {
    DomainResult d;
    const auto start = Clock_::now();
    const auto deadline = start + options.domain_timeout;
    d.started = FormatRfc3339(clock.Now());
    auto normalized = NormalizeDomain(input);
    d.domain = normalized ? *normalized : std::string(input);
    auto finish = [&] {
      d.elapsed_ms = std::chrono::duration_cast<std::chrono::milliseconds>(Clock_::now() - start).count();
      return std::move(d);
    };
    if (!normalized) {
      Add(d.findings, d.status, "mx", Status::kError, normalized.error().detail);
      return finish();
    }
    const std::string& domain = *normalized;

    // MX, or the implicit MX.
    std::vector<dns::Mx> mxs;
    auto mx = resolver.LookupMx(domain);
    if (mx) {
      d.mx_dnssec = std::string(dns::SecurityName(mx->security));
      mxs = mx->records;
      if (mxs.size() == 1 && mxs[0].host.empty()) {
        d.null_mx = true;
        d.findings.push_back({"mx", Status::kSuccess, "null MX (RFC 7505): the domain accepts no mail", ""});
        mxs.clear();
      } else {
        mxs.erase(std::remove_if(mxs.begin(), mxs.end(), [](const dns::Mx& m) { return m.host.empty(); }),
                  mxs.end());
      }
    } else if (mx.error().code == Code::kNotFound) {
      mxs.push_back(dns::Mx{0, domain});
    } else if (mx.error().code == Code::kBogus) {
      d.mx_dnssec = "bogus";
      Add(d.findings, d.status, "mx", Status::kFailure, "MX lookup is DNSSEC-bogus: " + mx.error().detail,
          "fix the zone's DNSSEC signatures or DS records; validating senders cannot deliver");
    } else {
      Add(d.findings, d.status, "mx", Status::kError, "MX lookup failed: " + mx.error().detail,
          "check the domain's name servers");
    }
    std::stable_sort(mxs.begin(), mxs.end(),
                     [](const dns::Mx& a, const dns::Mx& b) { return a.preference < b.preference; });
    if (mxs.size() > static_cast<size_t>(std::max(1, options.max_mx))) mxs.resize(std::max(1, options.max_mx));

    // MTA-STS and TLSRPT do not depend on the MX results: ask them first.
    CheckMtaSts(domain, d.mta_sts);
    CheckTlsrpt(domain, d.tlsrpt);

    for (const auto& m : mxs) {
      MxResult r;
      r.hostname = m.host;
      r.preference = m.preference;
      r.implicit = m.host == domain && !mx;
      HostResult host = Host(m.host, deadline);
      r.dnssec = host.dnssec;
      r.addresses = host.addresses;
      r.results = host.results;
      r.findings = host.findings;
      r.status = host.status;
      if (r.implicit) {
        r.findings.push_back({"mx", Status::kSuccess, "no MX records: the domain's own address is used (RFC 5321 5.1)",
                              ""});
      }
      Summarize(d, host, r);
      d.mx.push_back(std::move(r));
    }
    Decide(d);
    return finish();
  }

  // MX-level fields, DANE applicability and MTA-STS conformance of one host.
  void Summarize(const DomainResult& d, const HostResult& host, MxResult& r) {
    const AddressResult* first = nullptr;
    for (const auto& a : r.results) {
      if (a.answered) {
        first = &a;
        break;
      }
    }
    if (first == nullptr && !r.results.empty()) first = &r.results.front();
    size_t answered = 0;
    for (const auto& a : r.results) answered += a.answered ? 1 : 0;
    r.answered = answered > 0;
    if (first != nullptr) {
      r.starttls = first->starttls;
      r.dane = first->dane;
    }
    // Per address: the worst of those that answered; silent ones only warn
    // when others answered.
    Status addresses = Status::kSuccess;
    for (const auto& a : r.results) {
      if (a.answered || answered == 0) {
        addresses = Worst(addresses, a.status);
      } else {
        Add(r.findings, r.status, "smtp", Status::kWarning, "address " + a.address + " does not answer",
            "every address of an MX host should accept connections");
      }
    }
    r.status = Worst(r.status, addresses);

    // DANE applicability (RFC 7672 2.2).
    if (host.tlsa_failed) {
      r.dane.dnssec = host.tlsa_security == dns::Security::kBogus ? "bogus" : "";
      r.dane.error = host.tlsa_error;
      if (host.tlsa_security == dns::Security::kBogus) {
        Add(r.findings, r.status, "dane", Status::kFailure, "TLSA lookup is DNSSEC-bogus: " + host.tlsa_error,
            "fix the zone's signatures; DANE senders will not deliver to this host");
      } else {
        Add(r.findings, r.status, "dane", Status::kFailure, "TLSA lookup failed: " + host.tlsa_error,
            "DANE senders defer mail when the TLSA lookup fails (RFC 7672 2.2): fix the zone's name servers");
      }
    } else if (host.tlsa_found && (host.tlsa_security != dns::Security::kSecure || host.dnssec != "secure")) {
      r.dane.dnssec = std::string(dns::SecurityName(host.tlsa_security));
      for (const auto& t : host.tlsa) r.dane.tlsa.push_back(dane::TlsaText(t));
      Add(r.findings, r.status, "dane", Status::kWarning,
          host.tlsa_security != dns::Security::kSecure
              ? "TLSA records in an insecure (unsigned) zone are ignored by senders"
              : "TLSA records are ignored by senders: the address records of " + r.hostname + " are not DNSSEC-secure",
          "sign the zone with DNSSEC and publish its DS, or remove the records");
    } else if (host.tlsa_found && d.mx_dnssec != "secure" && !r.implicit) {
      Add(r.findings, r.status, "dane", Status::kWarning,
          "the domain's MX records are not DNSSEC-signed, so senders do not use " + r.hostname +
              "'s TLSA records (RFC 7672 2.2.1)",
          "sign the recipient domain's zone with DNSSEC");
    } else if (!host.tlsa_found && host.dnssec == "secure") {
      r.dane.dnssec = "secure";
    } else if (!host.tlsa_found) {
      r.dane.dnssec = host.dnssec == "bogus" ? "bogus" : "insecure";
    }

    // MTA-STS conformance.
    const MtaStsResult& sts = d.mta_sts;
    if (!sts.valid || sts.mode == "none") return;
    mtasts::Policy policy;
    policy.mx = sts.mx;
    r.policy_match = mtasts::PolicyAllowsMx(policy, r.hostname);
  }

  void CheckMtaSts(const std::string& domain, MtaStsResult& sts) {
    auto record = mtasts::DiscoverRecord(resolver, domain);
    if (!record) {
      if (record.error().phase == mtasts::Phase::kRecord && record.error().error.code == Code::kNotFound) return;
      sts.error = record.error().Message();
      // A bogus answer is an attack or a broken zone, not a failure to check.
      sts.status = record.error().phase == mtasts::Phase::kDns && record.error().error.code != Code::kBogus
                       ? Status::kError
                       : Status::kFailure;
      return;
    }
    sts.record = "v=STSv1; id=" + record->id + ";";
    for (const auto& [k, v] : record->extensions) sts.record += " " + k + "=" + v + ";";
    sts.id = record->id;
    mtasts::FetchOptions fetch;
    fetch.timeout = options.https_timeout;
    fetch.ca_file = options.ca_file;
    auto policy = mtasts::FetchPolicy(https, domain, fetch);
    if (!policy) {
      sts.error = policy.error().Message() + " (TLSRPT: " + std::string(mtasts::TlsrptResultType(policy.error().phase)) +
                  ")";
      sts.status = Status::kFailure;
      return;
    }
    sts.policy = policy->text;
    sts.mode = std::string(mtasts::ModeName(policy->policy.mode));
    sts.mx = policy->policy.mx;
    sts.max_age = policy->policy.max_age;
    sts.valid = true;
  }

  void CheckTlsrpt(const std::string& domain, TlsrptResult& t) {
    auto txt = resolver.LookupTxt("_smtp._tls." + domain);
    if (!txt) {
      if (txt.error().code == Code::kNotFound) return;
      t.error = txt.error().detail;
      t.status = Status::kWarning;
      return;
    }
    for (const auto& record : txt->records) {
      if (record.rfind("v=TLSRPTv1", 0) == 0) t.record += (t.record.empty() ? "" : " | ") + record;
    }
    auto record = tlsrpt::SelectRecord(txt->records);
    if (!record) {
      if (record.error().code == Code::kNotFound) return;
      t.error = record.error().detail;
      t.status = Status::kWarning;
      return;
    }
    t.valid = true;
    for (const auto& uri : record->rua) t.rua.push_back(uri.text);
  }

  // The status rules: the most-preferred MX hosts that answered decide.
  void Decide(DomainResult& d) {
    MtaStsResult& sts = d.mta_sts;
    if (!sts.error.empty()) {
      Add(d.findings, d.status, "mta-sts", sts.status, "MTA-STS: " + sts.error,
          "serve a valid policy at https://mta-sts." + d.domain + "/.well-known/mta-sts.txt, or remove the "
          "_mta-sts record");
    }
    if (!d.tlsrpt.error.empty()) {
      Add(d.findings, d.status, "tlsrpt", d.tlsrpt.status, "TLSRPT: " + d.tlsrpt.error,
          "publish one record like \"v=TLSRPTv1; rua=mailto:tlsrpt@" + d.domain + "\"");
    }
    if (d.mx.empty()) return;

    int deciding = -1;
    for (const auto& m : d.mx) {
      if (m.answered) {
        deciding = m.preference;
        break;
      }
    }
    if (deciding < 0) {
      Add(d.findings, d.status, "mx", Status::kError, "no MX host answered",
          "make sure the MX hosts accept connections on port 25");
    }
    const bool enforce = sts.valid && sts.mode == "enforce";
    const bool testing = sts.valid && sts.mode == "testing";
    bool dane_everywhere = true;
    if (enforce || testing) sts.mx_ok = true;
    for (auto& m : d.mx) {
      const bool decides = deciding < 0 || (m.preference == deciding && m.answered);
      if (!m.dane.valid) dane_everywhere = false;
      if (enforce || testing) {
        // RFC 8461 4: a sender uses only MX hosts that match the policy and
        // present a PKIX-valid certificate for their name over STARTTLS.
        const Status level = enforce ? Status::kFailure : Status::kWarning;
        const std::string what = enforce ? "senders enforcing MTA-STS will not deliver to " + m.hostname
                                         : "in testing mode senders only report it";
        std::string problem, hint;
        if (!m.policy_match) {
          problem = m.hostname + " is not in the MTA-STS policy (" + what + ")";
          hint = "add \"mx: " + m.hostname + "\" to the policy, or a wildcard that covers it";
        } else if (m.answered) {
          const AddressResult* a = nullptr;
          for (const auto& r : m.results) {
            if (r.answered) {
              a = &r;
              break;
            }
          }
          if (a != nullptr && !(a->tls_ok && a->certificate.pkix_valid && a->certificate.matches_hostname)) {
            problem = "MTA-STS needs STARTTLS with a PKIX-valid certificate for " + m.hostname + " (" + what + ")";
            hint = "serve a certificate from a public CA that names " + m.hostname;
          }
        }
        if (!problem.empty()) {
          sts.mx_ok = false;
          Add(m.findings, m.status, "mta-sts", level, problem, hint);
          if (decides) sts.status = Worst(sts.status, level);
        }
      }
      if (decides) d.status = Worst(d.status, m.status);
    }
    if (!sts.valid && sts.error.empty() && !dane_everywhere && !d.null_mx) {
      Add(d.findings, d.status, "mta-sts", Status::kWarning,
          "neither MTA-STS nor DANE protects this domain: an attacker can strip STARTTLS",
          "publish an MTA-STS policy, or sign the zone and publish TLSA records");
    }
  }
};

Checker::Checker(dns::Resolver& resolver, net::SmtpProber& prober, net::HttpsClient& https,
                 std::shared_ptr<TrustStore> trust, CheckOptions options, const Clock& clock)
    : impl_(std::make_unique<Impl>(resolver, prober, https, std::move(trust), std::move(options), clock)) {}

Checker::~Checker() = default;

DomainResult Checker::Check(std::string_view domain) { return impl_->Check(domain); }

}  // namespace mxsec::check
