// OpenPGP detached signatures of the list: the forms a publisher may use
// (armored or binary), and what is refused. Keys are made at test time.
#include "policylist/signature.h"

#include <gtest/gtest.h>

#include "testing/pgp.h"

namespace mxsec::policylist {
namespace {

class SignatureTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signer_ = new test::TestSigner(test::TestSigner::Create("list signer <signer@example.test>"));
    other_ = new test::TestSigner(test::TestSigner::Create("other <other@example.test>"));
  }
  static void TearDownTestSuite() {
    delete signer_;
    delete other_;
  }
  static test::TestSigner* signer_;
  static test::TestSigner* other_;
};

test::TestSigner* SignatureTest::signer_ = nullptr;
test::TestSigner* SignatureTest::other_ = nullptr;

constexpr std::string_view kData = "{\"version\": \"0.1\"}\n";

TEST_F(SignatureTest, GoodArmoredAndBinarySignaturesVerify) {
  for (bool armor : {true, false}) {
    auto info =
        VerifyDetachedSignature(kData, signer_->Sign(kData, armor), signer_->PublicKey(armor), signer_->fingerprint());
    ASSERT_TRUE(info) << info.error().detail;
    EXPECT_EQ(info->primary_fingerprint, signer_->fingerprint());
    EXPECT_GT(info->created, 0);
  }
}

TEST_F(SignatureTest, AKeyringWithSeveralKeysStillNeedsThePinnedSigner) {
  const std::string both = signer_->PublicKey() + other_->PublicKey();
  EXPECT_TRUE(VerifyDetachedSignature(kData, signer_->Sign(kData), both, signer_->fingerprint()));
  auto wrong = VerifyDetachedSignature(kData, other_->Sign(kData), both, signer_->fingerprint());
  ASSERT_FALSE(wrong);
  EXPECT_EQ(wrong.error().code, Code::kPermFail);
  EXPECT_NE(wrong.error().detail.find("not by the pinned key"), std::string::npos) << wrong.error().detail;
}

TEST_F(SignatureTest, RefusesWhatIsNotAGoodSignature) {
  const std::string key = signer_->PublicKey();
  const std::string& pinned = signer_->fingerprint();
  struct Case {
    const char* name;
    std::string data, signature, keyring;
    Code code;
    const char* detail;
  } cases[] = {
      {"altered", "{\"version\": \"0.2\"}\n", signer_->Sign(kData), key, Code::kPermFail, "BAD signature"},
      {"not a signature", std::string(kData), "hello", key, Code::kSyntax, "not an OpenPGP"},
      {"empty signature", std::string(kData), "", key, Code::kSyntax, "not an OpenPGP"},
      {"a key, not a signature", std::string(kData), key, key, Code::kSyntax, "not an OpenPGP"},
      {"no key", std::string(kData), signer_->Sign(kData), "", Code::kSyntax, "no usable OpenPGP"},
      {"garbage keyring", std::string(kData), signer_->Sign(kData), "garbage", Code::kSyntax, "no usable OpenPGP"},
      {"pinned key absent", std::string(kData), other_->Sign(kData), other_->PublicKey(), Code::kPermFail,
       "does not hold the pinned key"},
  };
  for (const auto& c : cases) {
    auto result = VerifyDetachedSignature(c.data, c.signature, c.keyring, pinned);
    ASSERT_FALSE(result) << c.name;
    EXPECT_EQ(result.error().code, c.code) << c.name << ": " << result.error().detail;
    EXPECT_NE(result.error().detail.find(c.detail), std::string::npos) << c.name << ": " << result.error().detail;
    EXPECT_EQ(result.error().detail.find('\n'), std::string::npos) << c.name;
  }
}

}  // namespace
}  // namespace mxsec::policylist
