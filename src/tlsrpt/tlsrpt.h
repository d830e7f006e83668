// tlsrpt: SMTP TLS Reporting, RFC 8460. For now the `_smtp._tls` TXT record
// (section 3): the parser and the discovery rule. Report JSON comes later.
//
// Pure functions, thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"

namespace mxsec::dns {
class Resolver;
}

namespace mxsec::tlsrpt {

struct Uri {
  enum class Scheme { kMailto, kHttps };
  Scheme scheme = Scheme::kMailto;
  std::string text;  // as published, e.g. "mailto:tlsrpt@example.com"
  std::string target;  // the address (mailto) or the whole URL (https)
};
std::string_view SchemeName(Uri::Scheme scheme);  // "mailto", "https"

struct Record {
  std::vector<Uri> rua;  // at least one
  std::vector<std::pair<std::string, std::string>> extensions;  // in order
};

// Parses one record (the strings of one TXT RR joined) by the ABNF of RFC
// 8460 3: `v=TLSRPTv1` first (case-sensitive), fields separated by
// `*WSP ";" *WSP`, an optional trailing separator, exactly one `rua` with
// comma-separated URIs, each `mailto:` (with an address) or `https://` (with
// a host); extensions `name=value`. Errors are kSyntax naming the rule and
// the offset.
Result<Record> ParseRecord(std::string_view text);

// RFC 8460 3 discovery: records not beginning with "v=TLSRPTv1" are
// discarded; exactly one must remain. kNotFound when none remain, kSyntax
// when several remain or the one left does not parse.
Result<Record> SelectRecord(const std::vector<std::string>& txt_records);

// Looks up `_smtp._tls.<domain>` TXT and selects the record. DNS failures
// keep their code (kNotFound, kTempFail, kBogus).
Result<Record> DiscoverRecord(dns::Resolver& resolver, std::string_view domain);

}  // namespace mxsec::tlsrpt
