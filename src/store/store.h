// store: mxsec's persistent state. For now the MTA-STS policy cache.
//
// PolicyCache is one LMDB file (a single-file environment, MDB_NOSUBDIR,
// with its lock file beside it as FILE-lock) in the unnamed database, laid
// out so that Exim's lmdb lookup reads it directly:
//
//   DOMAIN:mode    enforce | testing | none
//   DOMAIN:mx      patterns joined by ':'        (e.g. mx.example.com:*.example.net)
//   DOMAIN:expire  Unix time the policy expires
//   DOMAIN:id      the policy id from the TXT record
//   DOMAIN:report  TLSRPT mailto address without "mailto:" (absent if none)
//   DOMAIN:policy  the policy text as served
//   DOMAIN:mxsec   mxsec's own entry (CacheEntry below, a versioned line format)
//
// The Exim keys exist only while a policy is cached. All keys of a domain
// change in one write transaction, so readers (other mxsec processes, Exim)
// see either the old or the new entry, never a mix. LMDB serializes writers
// across processes and lets readers run without locks.
//
// Thread-safe: one PolicyCache may be shared by all threads of a process.
// Never open the same file twice in one process (an LMDB rule).
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"

namespace mxsec::store {

// What mxsec remembers about one domain: a policy, a failure, or both.
struct CacheEntry {
  // The cached policy; mode is empty when no policy is cached (failure only).
  std::string mode;               // "enforce", "testing", "none" or ""
  std::vector<std::string> mx;    // patterns
  int64_t max_age = 0;
  std::string id;                 // TXT id the policy was fetched for
  int64_t fetched_at = 0;         // Unix time
  int64_t expires = 0;            // Unix time; fetched_at + max_age
  std::string report;             // TLSRPT address, may be empty
  // The last failure since the policy was fetched (empty phase: none).
  std::string error_phase;        // mtasts::PhaseName
  std::string error_type;         // TLSRPT result-type
  std::string error_code;         // CodeName of the failure ("temp-fail", "bogus", ...)
  std::string error_message;      // the failure's detail, without the phase
  int64_t error_at = 0;
  int64_t retry_after = 0;        // no network attempt before this Unix time
  int failures = 0;               // consecutive failures, for back-off

  bool HasPolicy() const { return !mode.empty(); }
  bool operator==(const CacheEntry&) const = default;
};

class PolicyCache {
 public:
  enum class Access { kReadWrite, kReadOnly };

  // Opens (kReadWrite: creates, with parent directories) the cache file.
  // Errors are kIo with one line naming the file and the reason, including
  // "not an LMDB database" for a foreign or corrupt file.
  static Result<std::unique_ptr<PolicyCache>> Open(const std::string& path, Access access = Access::kReadWrite);
  ~PolicyCache();
  PolicyCache(const PolicyCache&) = delete;
  PolicyCache& operator=(const PolicyCache&) = delete;

  // The entry for `domain` (normalized), std::nullopt when absent. A
  // DOMAIN:mxsec value that does not parse is an error (kIo), not absent.
  Result<std::optional<CacheEntry>> Get(std::string_view domain) const;
  // The DOMAIN:policy text, empty when absent.
  Result<std::string> GetPolicyText(std::string_view domain) const;

  // Writes every key of the domain in one transaction. `policy_text` replaces
  // DOMAIN:policy when given; the Exim keys are removed when the entry holds
  // no policy.
  Result<void> Put(std::string_view domain, const CacheEntry& entry,
                   std::optional<std::string_view> policy_text = std::nullopt);
  // Removes every key of the domain in one transaction.
  Result<void> Remove(std::string_view domain);
  // All domains with an entry, sorted.
  Result<std::vector<std::string>> Domains() const;

  const std::string& path() const { return path_; }

 private:
  struct Env;
  class Reader;
  PolicyCache(std::string path, std::unique_ptr<Env> env);
  std::string path_;
  std::unique_ptr<Env> env_;
};

// The line format of DOMAIN:mxsec, exposed for tests and the fuzzer.
std::string EncodeEntry(const CacheEntry& entry);
Result<CacheEntry> DecodeEntry(std::string_view data);

}  // namespace mxsec::store
