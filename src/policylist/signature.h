// policylist/signature: OpenPGP detached-signature checks of the
// STARTTLS-Everywhere list, with GPGME.
//
// Trust comes from pinning, not from the web of trust: the caller names the
// fingerprint of the one key that may sign the list, and gives an exported
// copy of that key (the keyring file). Each check runs gpg in a private,
// throw-away home directory holding only that keyring, so the user's own
// keys and trust settings never take part, and gpg is told not to start
// dirmngr or fetch keys from anywhere.
//
// A signature is accepted when it is cryptographically good, was made by
// the pinned key (its primary key or one of its subkeys), and neither the
// signature nor the key has expired or been revoked.
#pragma once

#include <gpgme.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "base/base.h"

namespace mxsec::policylist {

struct SignatureInfo {
  std::string fingerprint;          // of the key (or subkey) that signed
  std::string primary_fingerprint;  // of its primary key: the pinned one
  int64_t created = 0;              // Unix seconds
};

// Verifies that `signature` (armored or binary) is a good detached
// signature of `data` by the key whose fingerprint is `pinned` (as
// NormalizeFingerprint in base.h returns it),
// using only the public key(s) in `keyring` (armored or binary).
// Errors: kSyntax (the keyring holds no key, the signature is not an
// OpenPGP signature), kPermFail (a bad signature, another signer, the pinned
// key absent from the keyring, expired or revoked), kIo (gpg could not run).
Result<SignatureInfo> VerifyDetachedSignature(std::string_view data, std::string_view signature,
                                              std::string_view keyring, const std::string& pinned);

// A GPGME context working in a private gpg home directory of its own,
// removed with everything in it when this goes. With `allow_agent` false gpg
// is told to start no agent or dirmngr (verification needs neither); with
// it true (signing, in tests) the agent it starts is stopped at the end.
class GpgHome {
 public:
  static Result<std::unique_ptr<GpgHome>> Make(bool allow_agent);
  ~GpgHome();
  GpgHome(const GpgHome&) = delete;
  GpgHome& operator=(const GpgHome&) = delete;

  gpgme_ctx_t ctx() const { return ctx_; }
  const std::string& path() const { return path_; }
  // Imports public keys; kSyntax when `keys` holds none.
  Result<void> Import(std::string_view keys);

 private:
  GpgHome() = default;
  std::string path_;
  gpgme_ctx_t ctx_ = nullptr;
  bool agent_ = false;
};

// A GPGME data object over bytes the caller keeps alive; released with it.
class GpgData {
 public:
  GpgData();  // empty, for output
  explicit GpgData(std::string_view bytes);
  ~GpgData();
  GpgData(const GpgData&) = delete;
  GpgData& operator=(const GpgData&) = delete;
  gpgme_data_t get() const { return data_; }
  bool ok() const { return data_ != nullptr; }
  // The bytes written to an output object.
  std::string Take();

 private:
  gpgme_data_t data_ = nullptr;
};

// One line for a GPGME error.
std::string GpgError(gpgme_error_t error);

}  // namespace mxsec::policylist
