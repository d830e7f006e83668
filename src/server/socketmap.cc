// The pure parts of the daemon: netstrings, socketmap requests and answers.
#include <arpa/inet.h>

#include <algorithm>
#include <charconv>

#include "server/server.h"

namespace mxsec::server {

const ZoneSettings& ServeConfig::Zone(std::string_view name) const {
  auto it = zones.find(std::string(name));
  return it == zones.end() ? default_zone : it->second;
}

void NetstringReader::Feed(std::string_view bytes) {
  if (error_) return;
  if (offset_ > 0 && offset_ == buffer_.size()) {
    buffer_.clear();
    offset_ = 0;
  }
  buffer_.append(bytes);
}

std::optional<std::string> NetstringReader::Next() {
  if (error_) return std::nullopt;
  std::string_view rest = std::string_view(buffer_).substr(offset_);
  size_t colon = rest.find(':');
  // A length longer than the limit's digits is an error before the colon arrives.
  const size_t max_digits = std::to_string(max_payload_).size();
  size_t digits = colon == std::string_view::npos ? rest.size() : colon;
  for (size_t i = 0; i < digits; ++i) {
    if (rest[i] < '0' || rest[i] > '9') {
      error_ = "netstring length has a non-digit " + Quote(rest.substr(i, 1));
      return std::nullopt;
    }
  }
  if (digits > max_digits) {
    error_ = "netstring length longer than the " + std::to_string(max_payload_) + "-byte limit";
    return std::nullopt;
  }
  if (colon == std::string_view::npos) return std::nullopt;
  if (colon == 0) {
    error_ = "netstring without a length";
    return std::nullopt;
  }
  if (colon > 1 && rest[0] == '0') {
    error_ = "netstring length with a leading zero";
    return std::nullopt;
  }
  size_t length = 0;
  std::from_chars(rest.data(), rest.data() + colon, length);
  if (length > max_payload_) {
    error_ = "netstring of " + std::to_string(length) + " bytes exceeds the " + std::to_string(max_payload_) +
             "-byte limit";
    return std::nullopt;
  }
  if (rest.size() < colon + 1 + length + 1) return std::nullopt;
  if (rest[colon + 1 + length] != ',') {
    error_ = "netstring not terminated by ','";
    return std::nullopt;
  }
  std::string payload(rest.substr(colon + 1, length));
  offset_ += colon + 1 + length + 1;
  return payload;
}

std::string EncodeNetstring(std::string_view payload) {
  std::string out = std::to_string(payload.size());
  out.push_back(':');
  out.append(payload);
  out.push_back(',');
  return out;
}

Result<SocketmapRequest> ParseSocketmapRequest(std::string_view payload) {
  size_t space = payload.find(' ');
  if (space == std::string_view::npos || space == 0) {
    return Fail(Code::kSyntax, "socketmap request is not \"NAME KEY\": " + Quote(payload));
  }
  SocketmapRequest request;
  request.map = std::string(payload.substr(0, space));
  std::string_view key = payload.substr(space + 1);
  for (unsigned char c : key) {
    if (c <= 0x20 || c >= 0x7f) return Fail(Code::kSyntax, "socketmap key has a control or non-ASCII byte");
  }
  // Postfix next-hop forms: "[host]:port", "host:port", "[1.2.3.4]".
  if (!key.empty() && key.front() == '[') {
    size_t close = key.find(']');
    key = key.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
  } else if (size_t colon = key.rfind(':'); colon != std::string_view::npos) {
    key = key.substr(0, colon);
  }
  std::string domain = FoldDomain(key);
  unsigned char addr[16];
  if (domain.empty() || domain.front() == '.' || inet_pton(AF_INET, domain.c_str(), addr) == 1 ||
      inet_pton(AF_INET6, domain.c_str(), addr) == 1) {
    return request;  // not a domain: NOTFOUND
  }
  auto normalized = NormalizeDomain(domain);
  if (normalized) request.domain = std::move(*normalized);
  return request;
}

namespace {

// The policy lines for policy_string, each as "key: value": the text as
// served when it is the policy of `entry`, else the entry written out.
std::vector<std::string> PolicyLines(const store::CacheEntry& entry, std::string_view text) {
  std::vector<std::string> lines;
  auto parsed = mtasts::ParsePolicy(text);
  if (!text.empty() && parsed && mtasts::ModeName(parsed->mode) == entry.mode && parsed->mx == entry.mx) {
    for (size_t pos = 0; pos < text.size();) {
      size_t lf = text.find('\n', pos);
      if (lf == std::string_view::npos) lf = text.size();
      std::string_view line = text.substr(pos, lf - pos);
      pos = lf + 1;
      if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
      // ParsePolicy accepted every line: "key:" *WSP value *WSP, CRLF or LF.
      size_t colon = line.find(':');
      bool printable = true;
      for (unsigned char c : line) printable = printable && (c >= 0x20 || c == '\t') && c < 0x7f && c != '{' && c != '}';
      if (colon == std::string_view::npos || !printable) continue;
      std::string_view value = line.substr(colon + 1);
      const size_t first = value.find_first_not_of(" \t");
      const size_t last = value.find_last_not_of(" \t");
      value = first == std::string_view::npos ? std::string_view() : value.substr(first, last - first + 1);
      lines.push_back(std::string(line.substr(0, colon)) + ": " + std::string(value));
    }
    return lines;
  }
  lines.push_back("version: STSv1");
  lines.push_back("mode: " + entry.mode);
  for (const auto& p : entry.mx) lines.push_back("mx: " + p);
  lines.push_back("max_age: " + std::to_string(entry.max_age));
  return lines;
}

}  // namespace

std::string SocketmapAnswer(const policy::StsAnswer& answer, bool dane_only, const ZoneSettings& zone,
                            std::string_view policy_text) {
  // RFC 8461 2: DANE, where the recipient has it, takes precedence.
  if (dane_only) return "OK dane-only";
  const mtasts::Mode mode = answer.mode();
  if (mode == mtasts::Mode::kNone || (mode == mtasts::Mode::kTesting && !zone.strict_testing) || !answer.entry) {
    return "NOTFOUND ";
  }
  std::vector<std::string_view> published;  // patterns as published, duplicates dropped
  std::vector<std::string> patterns;        // the same in Postfix's match= syntax
  for (const auto& p : answer.entry->mx) {
    if (std::find(published.begin(), published.end(), p) != published.end()) continue;
    published.push_back(p);
    std::string postfix = p.rfind("*.", 0) == 0 ? p.substr(1) : p;  // Postfix: ".x" matches any depth below x
    if (std::find(patterns.begin(), patterns.end(), postfix) == patterns.end()) patterns.push_back(std::move(postfix));
  }
  std::string out = "OK secure match=";
  for (size_t i = 0; i < patterns.size(); ++i) out += (i ? ":" : "") + patterns[i];
  if (zone.require_sni) out += " servername=hostname";
  // The list is no MTA-STS policy: TLSRPT has no policy type for it.
  if (zone.tlsrpt && answer.source != policy::Source::kPolicyList) {
    // Postfix 3.10 TLSRPT_README: attributes of an MTA-STS plugin answer.
    out += " policy_type=sts policy_domain=" + answer.domain;
    for (std::string_view p : published) out.append(" mx_host_pattern=").append(p);
    for (const auto& line : PolicyLines(*answer.entry, policy_text)) out += " { policy_string = " + line + " }";
  }
  return out;
}

std::string EximAnswer(const policy::StsAnswer& answer, std::string_view question, std::string_view host) {
  if (question == "mode") return std::string(mtasts::ModeName(answer.mode()));
  if (question == "valid-mx") return answer.AllowsMx(host) ? "" : "do_not_connect:no_match";
  if (question == "mx-list") {
    std::string out;
    if (answer.mode() != mtasts::Mode::kNone) {
      for (const auto& p : answer.entry->mx) out += (out.empty() ? "" : ":") + p;
    }
    return out;
  }
  return "";
}

}  // namespace mxsec::server
