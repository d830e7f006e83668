// policy: the effective delivery policy of a recipient domain.
//
// For now the MTA-STS source: StsResolver answers "which MTA-STS policy
// applies to DOMAIN now?" through the persistent cache, applying RFC 8461
// 5.1 and 10.2:
//  - the TXT id is re-checked on every lookup; the same id serves the cache,
//    a new id (or nothing cached) fetches;
//  - a policy is re-fetched after half its lifetime (at most a day) even
//    with the same id (10.2), so one in use never lapses;
//  - a failed fetch keeps serving the cached policy until it expires, and the
//    failure is recorded with its TLSRPT result-type;
//  - a TXT record that disappeared never removes an unexpired policy whose
//    mode is not none (a possible downgrade attack is logged); a cached
//    mode-none policy whose TXT is gone is removed;
//  - a temporary failure never erases or weakens a cached policy;
//  - failures back off (doubling from failure_backoff up to max_backoff), so
//    a broken domain is not re-queried for every message.
//
// ApplyPolicyList adds the STARTTLS-Everywhere list below MTA-STS: it
// decides only where no MTA-STS policy applies. DANE, above both, is judged
// by the callers that have the DNS answers (the daemon's dane-only).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "base/base.h"
#include "mtasts/mtasts.h"
#include "policylist/policylist.h"
#include "store/store.h"

namespace mxsec::dns {
class Resolver;
}
namespace mxsec::net {
class HttpsClient;
}

namespace mxsec::policy {

enum class Source {
  kNone,        // no policy applies
  kFetched,     // fetched from the policy host during this lookup
  kCache,       // served from the cache
  kPolicyList,  // no MTA-STS policy; the STARTTLS-Everywhere list's entry
};
std::string_view SourceName(Source source);  // "none", "fetched", "cache", "policy-list"

struct StsAnswer {
  std::string domain;
  Source source = Source::kNone;
  // The policy in force (when source != kNone): mode, mx, id, expiry, report.
  std::optional<store::CacheEntry> entry;
  // The failure met during this lookup or still in back-off, if any.
  std::optional<mtasts::StsError> error;

  // kNone when no policy applies.
  mtasts::Mode mode() const;
  // True when a policy applies and `host` matches one of its patterns, or no
  // policy applies at all. Mode none allows every host. A list entry's
  // patterns match by the list's rules (".x" at any depth).
  bool AllowsMx(std::string_view host) const;
};

// Where `answer` holds no MTA-STS policy (source kNone), applies the list's
// entry for its domain: source kPolicyList, entry holding the list's mode,
// its mxs as published and the list's expiry as `expires`; the MTA-STS
// error, if any, is kept. Nothing happens when `list` is null, expired at
// `now` (Unix seconds), or does not name the domain.
void ApplyPolicyList(StsAnswer& answer, const policylist::List* list, int64_t now);

struct StsOptions {
  mtasts::FetchOptions fetch;
  std::chrono::seconds failure_backoff{300};
  std::chrono::seconds max_backoff{3600};
};

class StsResolver {
 public:
  // `cache` may be null (no caching: every lookup fetches). All pointers and
  // references must outlive the resolver. Thread-safe when its parts are.
  StsResolver(dns::Resolver& resolver, net::HttpsClient& https, store::PolicyCache* cache, const Clock& clock,
              StsOptions options);

  // `domain` must be normalized (NormalizeDomain). Errors only for a cache
  // that cannot be read or written (kIo); DNS and HTTPS failures are reported
  // inside the answer.
  Result<StsAnswer> Resolve(std::string_view domain);

 private:
  Result<StsAnswer> Fetch(std::string_view domain, const mtasts::Record& record,
                          std::optional<store::CacheEntry> cached, int64_t now);
  Result<StsAnswer> RecordFailure(std::string_view domain, std::optional<store::CacheEntry> cached,
                                  mtasts::StsError error, int64_t now);
  std::string LookupTlsrptAddress(std::string_view domain);

  dns::Resolver& resolver_;
  net::HttpsClient& https_;
  store::PolicyCache* cache_;
  const Clock& clock_;
  StsOptions options_;
};

}  // namespace mxsec::policy
