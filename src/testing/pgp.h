// testing/pgp: an OpenPGP key made at test time, to sign lists the way the
// list's publisher does (a detached signature). Uses GPGME in a private gpg
// home of its own (policylist::GpgHome), so nothing of the user's keys is
// touched; the key is an Ed25519 key without a passphrase.
#pragma once

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>

#include "policylist/signature.h"

namespace mxsec::test {

class TestSigner {
 public:
  // A new key for `uid` ("Name <mail>"); a failure fails the test.
  static TestSigner Create(const std::string& uid) {
    TestSigner signer;
    auto home = policylist::GpgHome::Make(true);
    if (!home) {
      ADD_FAILURE() << home.error().detail;
      return signer;
    }
    signer.home_ = std::move(*home);
    gpgme_ctx_t ctx = signer.home_->ctx();
    if (gpgme_error_t err = gpgme_op_createkey(ctx, uid.c_str(), "ed25519", 0, 0, nullptr,
                                               GPGME_CREATE_SIGN | GPGME_CREATE_NOPASSWD | GPGME_CREATE_FORCE);
        err != 0) {
      ADD_FAILURE() << "creating a test key: " << policylist::GpgError(err);
      return signer;
    }
    gpgme_genkey_result_t result = gpgme_op_genkey_result(ctx);
    if (result == nullptr || result->fpr == nullptr) {
      ADD_FAILURE() << "creating a test key: no fingerprint";
      return signer;
    }
    signer.fingerprint_ = result->fpr;
    return signer;
  }

  const std::string& fingerprint() const { return fingerprint_; }

  // The exported public key.
  std::string PublicKey(bool armor = true) const {
    gpgme_ctx_t ctx = home_->ctx();
    gpgme_set_armor(ctx, armor ? 1 : 0);
    policylist::GpgData out;
    if (gpgme_error_t err = gpgme_op_export(ctx, fingerprint_.c_str(), 0, out.get()); err != 0) {
      ADD_FAILURE() << "exporting the test key: " << policylist::GpgError(err);
    }
    return out.Take();
  }

  // A detached signature of `data`.
  std::string Sign(std::string_view data, bool armor = true) const {
    gpgme_ctx_t ctx = home_->ctx();
    gpgme_set_armor(ctx, armor ? 1 : 0);
    gpgme_signers_clear(ctx);
    gpgme_key_t key = nullptr;
    if (gpgme_get_key(ctx, fingerprint_.c_str(), &key, 1) == 0) {
      gpgme_signers_add(ctx, key);
      gpgme_key_unref(key);
    }
    policylist::GpgData in(data);
    policylist::GpgData out;
    if (gpgme_error_t err = gpgme_op_sign(ctx, in.get(), out.get(), GPGME_SIG_MODE_DETACH); err != 0) {
      ADD_FAILURE() << "signing with the test key: " << policylist::GpgError(err);
    }
    return out.Take();
  }

 private:
  TestSigner() = default;
  std::unique_ptr<policylist::GpgHome> home_;
  std::string fingerprint_;
};

}  // namespace mxsec::test
