#include <algorithm>
#include <vector>

#include "dns/dns.h"
#include "policy/policy.h"
#include "tlsrpt/tlsrpt.h"

namespace mxsec::policy {

StsResolver::StsResolver(dns::Resolver& resolver, net::HttpsClient& https, store::PolicyCache* cache,
                         const Clock& clock, StsOptions options)
    : resolver_(resolver), https_(https), cache_(cache), clock_(clock), options_(std::move(options)) {}

namespace {

std::optional<mtasts::Phase> PhaseFromName(std::string_view name) {
  for (auto phase : {mtasts::Phase::kDns, mtasts::Phase::kRecord, mtasts::Phase::kConnect, mtasts::Phase::kTls,
                     mtasts::Phase::kHttp, mtasts::Phase::kPolicy}) {
    if (mtasts::PhaseName(phase) == name) return phase;
  }
  return std::nullopt;
}

// The failure remembered in a cache entry, as an StsError.
std::optional<mtasts::StsError> StoredError(const store::CacheEntry& entry) {
  auto phase = PhaseFromName(entry.error_phase);
  if (!phase) return std::nullopt;
  return mtasts::StsError{*phase, Error{CodeFromName(entry.error_code).value_or(Code::kTempFail), entry.error_message}};
}

void ClearFailure(store::CacheEntry& entry) {
  entry.error_phase.clear();
  entry.error_type.clear();
  entry.error_code.clear();
  entry.error_message.clear();
  entry.error_at = 0;
  entry.retry_after = 0;
  entry.failures = 0;
}

StsAnswer Answer(std::string_view domain, Source source, std::optional<store::CacheEntry> entry,
                 std::optional<mtasts::StsError> error) {
  StsAnswer answer;
  answer.domain = std::string(domain);
  answer.source = source;
  if (source != Source::kNone) answer.entry = std::move(entry);
  answer.error = std::move(error);
  return answer;
}

}  // namespace

Result<StsAnswer> StsResolver::Resolve(std::string_view domain) {
  const int64_t now = ToUnix(clock_.Now());
  std::optional<store::CacheEntry> cached;
  if (cache_ != nullptr) {
    auto got = cache_->Get(domain);
    if (!got) return tl::unexpected(got.error());
    cached = std::move(*got);
  }
  // An expired policy is gone (RFC 8461 5.1); keep only the failure bookkeeping.
  if (cached && cached->HasPolicy() && cached->expires <= now) {
    Log(LogLevel::kInfo, "MTA-STS policy of " + std::string(domain) + " expired");
    store::CacheEntry failures_only;
    failures_only.error_phase = cached->error_phase;
    failures_only.error_type = cached->error_type;
    failures_only.error_code = cached->error_code;
    failures_only.error_message = cached->error_message;
    failures_only.error_at = cached->error_at;
    failures_only.retry_after = cached->retry_after;
    failures_only.failures = cached->failures;
    cached = failures_only;
  }
  const bool have_policy = cached && cached->HasPolicy();

  // In back-off after a failure: no network, answer from what is known.
  if (cached && cached->retry_after > now) {
    return Answer(domain, have_policy ? Source::kCache : Source::kNone, cached, StoredError(*cached));
  }

  auto record = mtasts::DiscoverRecord(resolver_, domain);
  if (!record) {
    const mtasts::StsError& error = record.error();
    if (error.phase == mtasts::Phase::kRecord && error.error.code == Code::kNotFound) {
      // No STS record at all.
      if (!have_policy) {
        if (cached && cache_ != nullptr) {
          if (auto r = cache_->Remove(domain); !r) return tl::unexpected(r.error());
        }
        return Answer(domain, Source::kNone, std::nullopt, std::nullopt);
      }
      if (cached->mode == "none") {
        // RFC 8461 10.2: a published "none" policy followed by removing the
        // record is how a domain opts out; forget it.
        if (auto r = cache_->Remove(domain); !r) return tl::unexpected(r.error());
        Log(LogLevel::kInfo, "MTA-STS record of " + std::string(domain) + " removed; cached mode-none policy dropped");
        return Answer(domain, Source::kNone, std::nullopt, std::nullopt);
      }
      Log(LogLevel::kWarning, "MTA-STS record of " + std::string(domain) +
                                  " disappeared while a " + cached->mode + " policy is cached until " +
                                  FormatRfc3339(FromUnix(cached->expires)) +
                                  ": possible downgrade attack, keeping the cached policy");
      return Answer(domain, Source::kCache, cached, std::nullopt);
    }
    // DNS failure, or an invalid / ambiguous record: never weakens the cache.
    return RecordFailure(domain, cached, error, now);
  }
  // RFC 8461 10.2: re-fetch a policy in use before it expires even when the
  // id is unchanged (after half its lifetime, at most a day), so a policy
  // never lapses just because nothing changed; a failure keeps the cache.
  const bool due = have_policy && now - cached->fetched_at >= std::min<int64_t>(cached->max_age / 2, 86400);
  if (have_policy && cached->id == record->id && !due) {
    // A successful check ends a run of failures.
    if (cached->failures > 0 || !cached->error_phase.empty()) {
      ClearFailure(*cached);
      if (cache_ != nullptr) {
        if (auto r = cache_->Put(domain, *cached); !r) return tl::unexpected(r.error());
      }
    }
    return Answer(domain, Source::kCache, cached, std::nullopt);
  }
  return Fetch(domain, *record, cached, now);
}

Result<StsAnswer> StsResolver::Fetch(std::string_view domain, const mtasts::Record& record,
                                     std::optional<store::CacheEntry> cached, int64_t now) {
  auto fetched = mtasts::FetchPolicy(https_, domain, options_.fetch);
  if (!fetched) return RecordFailure(domain, std::move(cached), fetched.error(), now);
  for (const auto& warning : fetched->policy.warnings) {
    Log(LogLevel::kWarning, "MTA-STS policy of " + std::string(domain) + ": " + warning);
  }
  store::CacheEntry entry;
  entry.mode = std::string(mtasts::ModeName(fetched->policy.mode));
  entry.mx = fetched->policy.mx;
  entry.max_age = fetched->policy.max_age;
  entry.id = record.id;
  entry.fetched_at = now;
  entry.expires = now + fetched->policy.max_age;
  entry.report = LookupTlsrptAddress(domain);
  if (cache_ != nullptr) {
    if (auto r = cache_->Put(domain, entry, fetched->text); !r) return tl::unexpected(r.error());
  }
  return Answer(domain, Source::kFetched, std::move(entry), std::nullopt);
}

Result<StsAnswer> StsResolver::RecordFailure(std::string_view domain, std::optional<store::CacheEntry> cached,
                                             mtasts::StsError error, int64_t now) {
  Log(LogLevel::kInfo, "MTA-STS " + std::string(domain) + ": " + error.Message() + " (" +
                              std::string(mtasts::TlsrptResultType(error.phase)) + ")");
  store::CacheEntry entry = cached.value_or(store::CacheEntry{});
  entry.error_phase = std::string(mtasts::PhaseName(error.phase));
  entry.error_type = std::string(mtasts::TlsrptResultType(error.phase));
  entry.error_code = std::string(CodeName(error.error.code));
  entry.error_message = error.error.detail;
  entry.error_at = now;
  entry.failures = std::min(entry.failures + 1, 30);
  auto backoff = options_.failure_backoff * (int64_t{1} << std::min(entry.failures - 1, 20));
  entry.retry_after = now + std::min<int64_t>(backoff.count(), options_.max_backoff.count());
  if (cache_ != nullptr) {
    if (auto r = cache_->Put(domain, entry); !r) return tl::unexpected(r.error());
  }
  const bool have_policy = entry.HasPolicy();
  return Answer(domain, have_policy ? Source::kCache : Source::kNone, std::move(entry), std::move(error));
}

std::string StsResolver::LookupTlsrptAddress(std::string_view domain) {
  // RFC 8460 3: the first mailto: URI of the _smtp._tls record. A failed
  // lookup or an invalid record only means that no address is known.
  auto record = tlsrpt::DiscoverRecord(resolver_, domain);
  if (!record) return "";
  for (const auto& uri : record->rua) {
    if (uri.scheme == tlsrpt::Uri::Scheme::kMailto) return uri.target;
  }
  return "";
}

}  // namespace mxsec::policy
