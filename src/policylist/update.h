// policylist updates: reading the list in force, and `mxsec list update`,
// which replaces it with a newer copy only when every check passes:
//
//  1. the list and its detached OpenPGP signature are fetched over HTTPS
//     (redirects followed to https:// only, size-capped) or read from files;
//  2. the signature is verified against the pinned key (signature.h);
//  3. the list is validated against schema 0.1 (ParseList);
//  4. it has not expired, and its `timestamp` is not older than the list in
//     force (rollback protection; an equal timestamp is accepted, as the
//     list's own README says);
//  5. it replaces DATA_DIR/policy-list.json atomically (a temporary file in
//     the same directory, fsync, rename, fsync of the directory), its
//     signature beside it as policy-list.json.asc, under an exclusive lock
//     so cron and the daemon never interleave.
//
// On any failure nothing in the data directory changes: the last good list
// stays in force, and the error says which step refused and why.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "base/base.h"
#include "policylist/policylist.h"

namespace mxsec::net {
class HttpsClient;
}

namespace mxsec::policylist {

inline constexpr size_t kMaxListBytes = 16 << 20;  // the real list is about 84 KB
inline constexpr size_t kMaxSignatureBytes = 64 << 10;

// The list file in force: std::nullopt when there is none; kIo when it
// cannot be read, kSyntax (with the JSON path) when it is not a valid list.
Result<std::optional<List>> ReadListFile(const std::string& path);

// Reads an https:// URL through `https` (trusting `ca_file`, or the system
// store when empty) or, for anything else, a local file; at most
// `max_bytes`. Errors are one line naming the source.
// A set `cancel` stops before the next request.
Result<std::string> ReadSource(net::HttpsClient& https, const std::string& source, size_t max_bytes,
                               const std::string& ca_file, std::chrono::milliseconds timeout,
                               const std::atomic<bool>* cancel = nullptr);

struct UpdateRequest {
  std::string source;                         // URL or file of the list
  std::string signature;                      // URL or file of the signature; empty: source + ".asc"
  std::string keyring;                        // file: the exported public key(s)
  std::string fingerprint;                    // the key that must have signed
  std::string ca_file;                        // for HTTPS; empty: the system store
  std::chrono::milliseconds timeout{30000};   // each fetch
  const std::atomic<bool>* cancel = nullptr;  // set: stop before the next fetch (shutdown)
};

// The request the configuration describes (policy_list, ca_file, timeout).
UpdateRequest RequestFromConfig(const Config& config);

struct UpdateOutcome {
  bool installed = false;  // false: the same list was already in force
  int64_t timestamp = 0;   // of the list now in force
  int64_t expires = 0;
  size_t domains = 0;
  int64_t previous_timestamp = 0;  // of the list replaced; 0: there was none
  std::string signer;              // fingerprint of the signing key
  std::string warning;             // installed, but the data directory could not be synced
};

// Runs steps 1-5 for the list in force at `path`. `now` is Unix seconds.
// Errors: kInvalidArgument (no keyring or an unreadable one, a bad
// fingerprint or source URL), kIo (a file or
// the data directory, or the list in force cannot be read for the rollback
// check), kTempFail (a fetch), kPermFail (signature, expiry, rollback, a
// redirect elsewhere than https://), kSyntax (the list or signature does
// not parse). On every error the list in force is unchanged (and so is its
// signature, but for the unlikely failure of the very last rename).
Result<UpdateOutcome> Update(net::HttpsClient& https, const UpdateRequest& request, const std::string& path,
                             int64_t now);

}  // namespace mxsec::policylist
