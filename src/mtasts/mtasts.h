// mtasts: SMTP MTA Strict Transport Security, RFC 8461 (client side).
//
// Pure parsers for the `_mta-sts` TXT record (3.1) and the policy file (3.2),
// MX pattern matching (4.1), TXT discovery through dns::Resolver and the
// HTTPS policy fetch (3.3) through net::HttpsClient. No caching here: the
// refresh rules of RFC 8461 5.1/10.2 live in src/policy on top of src/store.
//
// Failures are StsError values grouped by the phase that failed; the TLSRPT
// (RFC 8460 4.3.2.2) result-type of a failure is derived from its phase in
// exactly one place, TlsrptResultType().
//
// All functions are thread-safe; parsers allocate only their results.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"

namespace mxsec::dns {
class Resolver;
}
namespace mxsec::net {
class HttpsClient;
}

namespace mxsec::mtasts {

// RFC 8461 3.3: senders must not read more than 64 KiB of policy.
inline constexpr size_t kMaxPolicyBytes = 64 * 1024;
// RFC 8461 3.2: "maximum value of 31557600" (one year). The ABNF allows 10
// digits (errata 7282 notes the conflict). mxsec accepts larger values and
// clamps the lifetime to this maximum, with a warning: rejecting the whole
// policy would turn a harmless publisher mistake into no protection at all.
inline constexpr int64_t kMaxMaxAge = 31557600;

// ---- TXT record (RFC 8461 3.1) ----------------------------------------------

struct Record {
  std::string version;  // always "STSv1"
  std::string id;       // 1-32 ALPHA/DIGIT
  std::vector<std::pair<std::string, std::string>> extensions;  // in order of appearance
};

// Parses one complete record (the strings of one TXT RR already joined) by the
// ABNF: `v=STSv1` first and case-sensitive, separators `*WSP ";" *WSP`, an
// optional trailing separator, exactly one `id`, extensions `name=value`.
// Errors are kSyntax with a detail naming the rule and the offset.
Result<Record> ParseRecord(std::string_view text);

// RFC 8461 3.1 discovery: TXT records (each already joined) that do not begin
// with "v=STSv1;" are discarded. Returns the parsed record when exactly one
// remains; kNotFound when none remain; kSyntax when several remain or the one
// left does not parse.
Result<Record> SelectRecord(const std::vector<std::string>& txt_records);

// ---- Policy file (RFC 8461 3.2) ---------------------------------------------

// Ordered by strength: comparisons like `mode >= Mode::kTesting` are meaningful.
enum class Mode { kNone = 0, kTesting = 1, kEnforce = 2 };
std::string_view ModeName(Mode mode);  // "none", "testing", "enforce"
std::optional<Mode> ParseMode(std::string_view name);  // exact, case-sensitive

struct Policy {
  Mode mode = Mode::kNone;
  int64_t max_age = 0;           // seconds, already clamped to kMaxMaxAge
  std::vector<std::string> mx;   // patterns as published ("*.example.com" or a host), lower-cased
  std::vector<std::string> warnings;  // accepted leniencies, e.g. a clamped max_age
};

// Parses a policy body: lines end in LF or CRLF (the last terminator is
// optional), each line `key:` *WSP value with trailing WSP allowed. Required:
// `version: STSv1`, `mode`, `max_age` (1*10 DIGIT); `mx` at least once unless
// mode is none. Unknown keys (extension syntax) are ignored; for a repeated
// key other than mx the first value counts. Errors are kSyntax with
// "line N: ..." naming the rule broken.
Result<Policy> ParsePolicy(std::string_view body);

// ---- MX matching (RFC 8461 4.1) ------------------------------------------------

// True when `host` (an MX hostname) matches `pattern`: case-insensitive,
// trailing dots ignored, "*." standing for exactly one leftmost label.
bool MatchesMx(std::string_view pattern, std::string_view host);
// True when any of the policy's patterns matches.
bool PolicyAllowsMx(const Policy& policy, std::string_view host);

// ---- Failures, by phase --------------------------------------------------------

enum class Phase {
  kDns,      // the _mta-sts TXT lookup failed (SERVFAIL, timeout, bogus)
  kRecord,   // TXT present but invalid, or several STS records
  kConnect,  // the policy host did not resolve, accept a connection or complete a TLS handshake
  kTls,      // the policy host's certificate did not validate (PKIX, name, expiry)
  kHttp,     // HTTP-level refusal: status, redirect, media type, size, timeout
  kPolicy,   // the policy body does not parse
};
std::string_view PhaseName(Phase phase);  // "dns", "record", ...

// RFC 8460 4.3.2.2 result-type for a failure in `phase`:
// kDns/kConnect/kHttp -> "sts-policy-fetch-error", kRecord/kPolicy ->
// "sts-policy-invalid", kTls -> "sts-webpki-invalid".
std::string_view TlsrptResultType(Phase phase);

struct StsError {
  Phase phase;
  Error error;
  std::string Message() const;  // "<phase>: <detail>"
};

template <typename T>
using StsResult = tl::expected<T, StsError>;

// ---- I/O ------------------------------------------------------------------------

// Looks up `_mta-sts.<domain>` TXT and selects the STS record. kNotFound (in
// error.code, phase kRecord) means the domain publishes no record;
// phase kDns means the lookup itself failed and nothing is known.
StsResult<Record> DiscoverRecord(dns::Resolver& resolver, std::string_view domain);

struct FetchedPolicy {
  Policy policy;
  std::string text;  // the body as served (at most kMaxPolicyBytes)
};

struct FetchOptions {
  std::chrono::milliseconds timeout{10000};  // one limit for the whole fetch
  std::string ca_file;                       // empty: system trust store
  uint16_t port = 443;                       // only tests change this
};

// RFC 8461 3.3: GET https://mta-sts.<domain>/.well-known/mta-sts.txt with
// PKIX validation and SNI, TLS 1.2+, no redirects, only 200, media type
// text/plain (parameters allowed), 64 KiB enforced while reading, then
// ParsePolicy. `domain` must be normalized.
StsResult<FetchedPolicy> FetchPolicy(net::HttpsClient& client, std::string_view domain,
                                     const FetchOptions& options);

}  // namespace mxsec::mtasts
