// The `_smtp._tls` TXT record of RFC 8460 section 3.
#include "base/abnf_internal.h"
#include "dns/dns.h"
#include "tlsrpt/tlsrpt.h"

namespace mxsec::tlsrpt {
namespace {

using abnf::At;
using abnf::IsWsp;
using abnf::SkipSeparator;

// One URI of the rua list: the characters of RFC 3986 that may appear
// unencoded (no spaces, no ";" or "," which delimit), and a scheme mxsec can
// deliver to.
Result<Uri> ParseUri(std::string_view text, size_t offset) {
  for (unsigned char c : text) {
    if (c <= 0x20 || c >= 0x7f || c == '"' || c == '<' || c == '>' || c == '\\' || c == '^' || c == '`' ||
        c == '{' || c == '|' || c == '}') {
      return Fail(Code::kSyntax, "rua: character not allowed in a URI in " + Quote(text) + At(offset));
    }
  }
  Uri uri;
  uri.text = std::string(text);
  size_t colon = text.find(':');
  std::string scheme = colon == std::string_view::npos ? "" : FoldDomain(text.substr(0, colon));
  if (scheme == "mailto") {
    uri.scheme = Uri::Scheme::kMailto;
    std::string_view address = text.substr(colon + 1);
    address = address.substr(0, address.find('?'));  // hfields are not part of the address
    size_t at = address.find('@');
    if (at == 0 || at == std::string_view::npos || at + 1 == address.size()) {
      return Fail(Code::kSyntax, "rua: " + Quote(text) + " is not a mailto: URI with an address" + At(offset));
    }
    uri.target = std::string(address);
  } else if (scheme == "https") {
    uri.scheme = Uri::Scheme::kHttps;
    std::string_view rest = text.substr(colon + 1);
    if (rest.substr(0, 2) != "//" || rest.size() == 2 || rest[2] == '/') {
      return Fail(Code::kSyntax, "rua: " + Quote(text) + " is not an https:// URL with a host" + At(offset));
    }
    uri.target = std::string(text);
  } else {
    return Fail(Code::kSyntax, "rua: " + Quote(text) + " is neither mailto: nor https: (RFC 8460 3)" + At(offset));
  }
  return uri;
}

}  // namespace

std::string_view SchemeName(Uri::Scheme scheme) { return scheme == Uri::Scheme::kHttps ? "https" : "mailto"; }

Result<Record> ParseRecord(std::string_view text) {
  constexpr std::string_view kVersion = "v=TLSRPTv1";
  if (text.substr(0, kVersion.size()) != kVersion) {
    return Fail(Code::kSyntax, "record must begin with \"v=TLSRPTv1\" (case-sensitive)");
  }
  Record record;
  bool have_rua = false;
  size_t pos = kVersion.size();
  while (pos < text.size()) {
    // field-delim = *WSP ";" *WSP
    if (!SkipSeparator(text, pos)) return Fail(Code::kSyntax, "expected \";\" between fields" + At(pos));
    if (pos == text.size()) break;  // optional trailing delimiter
    size_t field_start = pos;
    if (text.substr(pos, 4) == "rua=") {
      if (have_rua) return Fail(Code::kSyntax, "more than one rua field" + At(field_start));
      have_rua = true;
      pos += 4;
      // tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
      while (true) {
        size_t uri_start = pos;
        while (pos < text.size() && !IsWsp(text[pos]) && text[pos] != ';' && text[pos] != ',') ++pos;
        if (pos == uri_start) return Fail(Code::kSyntax, "rua: empty URI" + At(uri_start));
        auto uri = ParseUri(text.substr(uri_start, pos - uri_start), uri_start);
        if (!uri) return tl::unexpected(uri.error());
        record.rua.push_back(std::move(*uri));
        size_t after = pos;
        while (after < text.size() && IsWsp(text[after])) ++after;
        if (after < text.size() && text[after] == ',') {
          pos = after + 1;
          while (pos < text.size() && IsWsp(text[pos])) ++pos;
          continue;
        }
        break;
      }
      continue;
    }
    size_t eq = text.find('=', pos);
    size_t end = pos;
    while (end < text.size() && !IsWsp(text[end]) && text[end] != ';') ++end;
    if (eq == std::string_view::npos || eq >= end) {
      return Fail(Code::kSyntax, "field " + Quote(text.substr(pos, end - pos)) + " is not name=value" + At(pos));
    }
    std::string_view name = text.substr(pos, eq - pos);
    std::string_view value = text.substr(eq + 1, end - eq - 1);
    if (auto error = abnf::ExtensionError(name, value, pos); !error.empty()) return Fail(Code::kSyntax, error);
    record.extensions.emplace_back(std::string(name), std::string(value));
    pos = end;
  }
  if (!have_rua) return Fail(Code::kSyntax, "required field rua is missing");
  return record;
}

Result<Record> SelectRecord(const std::vector<std::string>& txt_records) {
  const std::string* found = nullptr;
  size_t count = 0;
  for (const auto& txt : txt_records) {
    // "v=TLSRPTv1" then a delimiter (or the end): "v=TLSRPTv10" is another version.
    if (txt.compare(0, 10, "v=TLSRPTv1") != 0) continue;
    if (txt.size() > 10 && txt[10] != ';' && !IsWsp(txt[10])) continue;
    found = &txt;
    ++count;
  }
  if (count == 0) return Fail(Code::kNotFound, "no TLSRPT record (none begins with \"v=TLSRPTv1\")");
  if (count > 1) {
    return Fail(Code::kSyntax, std::to_string(count) + " TLSRPT records; exactly one is allowed (RFC 8460 3)");
  }
  return ParseRecord(*found);
}

Result<Record> DiscoverRecord(dns::Resolver& resolver, std::string_view domain) {
  const std::string name = "_smtp._tls." + FoldDomain(domain);
  auto txt = resolver.LookupTxt(name);
  if (!txt) return tl::unexpected(txt.error());
  auto record = SelectRecord(txt->records);
  if (!record) return Fail(record.error().code, name + ": " + record.error().detail);
  return record;
}

}  // namespace mxsec::tlsrpt
