// `mxsec list update`: signature, schema, expiry and rollback checks, and
// that a refused update leaves the list in force untouched. The lists are
// signed with keys made at test time.
#include "policylist/update.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "testing/fakes.h"
#include "testing/pgp.h"

namespace mxsec::policylist {
namespace {

using nlohmann::json;

constexpr int64_t kNow = 1800000000;  // 2027-01-15

std::string MakeList(int64_t timestamp, int64_t expires, const std::string& mx = "mx.example.com") {
  json list = {{"timestamp", timestamp},
               {"expires", expires},
               {"version", "0.1"},
               {"author", "mxsec tests"},
               {"policy-aliases", json::object()},
               {"policies", {{"example.com", {{"mode", "enforce"}, {"mxs", {mx}}}}}}};
  return list.dump(2);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void WriteAll(const std::string& path, std::string_view data) {
  std::ofstream out(path, std::ios::binary);
  out << data;
}

class UpdateTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    signer_ = new test::TestSigner(test::TestSigner::Create("mxsec list signer <list@example.test>"));
    other_ = new test::TestSigner(test::TestSigner::Create("someone else <other@example.test>"));
  }
  static void TearDownTestSuite() {
    delete signer_;
    delete other_;
  }

  void SetUp() override {
    WriteAll(Path("key.asc"), signer_->PublicKey());
    request_.keyring = Path("key.asc");
    request_.fingerprint = signer_->fingerprint();
    request_.source = Path("new.json");
    active_ = Path("data/policy-list.json");
  }

  std::string Path(const std::string& name) const { return dir_.path() + "/" + name; }

  // Writes a list and its signature (by `by`) as the update's source.
  void Offer(const std::string& list, const test::TestSigner& by) {
    WriteAll(Path("new.json"), list);
    WriteAll(Path("new.json.asc"), by.Sign(list));
  }

  Result<UpdateOutcome> Run() { return Update(https_, request_, active_, kNow); }

  // Installs a good list with `timestamp` and returns its text.
  std::string InstallGood(int64_t timestamp) {
    std::string list = MakeList(timestamp, kNow + 86400 * 7);
    Offer(list, *signer_);
    auto outcome = Run();
    EXPECT_TRUE(outcome) << outcome.error().detail;
    return list;
  }

  static test::TestSigner* signer_;
  static test::TestSigner* other_;
  test::ScopedTempDir dir_;
  test::FakeHttpsClient https_;
  UpdateRequest request_;
  std::string active_;
};

test::TestSigner* UpdateTest::signer_ = nullptr;
test::TestSigner* UpdateTest::other_ = nullptr;

TEST_F(UpdateTest, InstallsAVerifiedList) {
  std::string list = MakeList(kNow - 3600, kNow + 86400 * 7);
  Offer(list, *signer_);
  auto outcome = Run();
  ASSERT_TRUE(outcome) << outcome.error().detail;
  EXPECT_TRUE(outcome->installed);
  EXPECT_EQ(outcome->timestamp, kNow - 3600);
  EXPECT_EQ(outcome->domains, 1u);
  EXPECT_EQ(outcome->previous_timestamp, 0);
  EXPECT_EQ(outcome->signer.substr(outcome->signer.size() - 16),
            signer_->fingerprint().substr(signer_->fingerprint().size() - 16));
  EXPECT_EQ(ReadAll(active_), list);
  EXPECT_EQ(ReadAll(active_ + ".asc"), ReadAll(Path("new.json.asc")));
  auto read = ReadListFile(active_);
  ASSERT_TRUE(read && *read);
  EXPECT_NE((*read)->Find("example.com"), nullptr);
  // Nothing temporary is left beside it.
  for (const auto& entry : std::filesystem::directory_iterator(Path("data"))) {
    EXPECT_EQ(entry.path().filename().string().find(".tmp"), std::string::npos) << entry.path();
  }
}

TEST_F(UpdateTest, TheSameListAgainIsAlreadyCurrent) {
  InstallGood(kNow - 3600);
  auto outcome = Run();
  ASSERT_TRUE(outcome) << outcome.error().detail;
  EXPECT_FALSE(outcome->installed);
  EXPECT_EQ(outcome->previous_timestamp, kNow - 3600);
}

TEST_F(UpdateTest, ANewerListReplacesTheOld) {
  InstallGood(kNow - 7200);
  std::string newer = InstallGood(kNow - 60);
  EXPECT_EQ(ReadAll(active_), newer);
}

// Each refusal leaves the list in force byte for byte.
TEST_F(UpdateTest, AnAlteredListIsRefused) {
  const std::string good = InstallGood(kNow - 7200);
  std::string list = MakeList(kNow - 60, kNow + 86400);
  WriteAll(Path("new.json.asc"), signer_->Sign(list));
  list.replace(list.find("mx.example.com"), 14, "mx.attacker.xy");
  WriteAll(Path("new.json"), list);
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kPermFail) << outcome.error().detail;
  EXPECT_NE(outcome.error().detail.find("signature"), std::string::npos) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), good);
}

TEST_F(UpdateTest, AListSignedByAnotherKeyIsRefused) {
  const std::string good = InstallGood(kNow - 7200);
  Offer(MakeList(kNow - 60, kNow + 86400), *other_);
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kPermFail) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), good);
}

TEST_F(UpdateTest, AKeyringWithoutThePinnedKeyIsRefused) {
  const std::string good = InstallGood(kNow - 7200);
  WriteAll(Path("other.asc"), other_->PublicKey());
  request_.keyring = Path("other.asc");
  Offer(MakeList(kNow - 60, kNow + 86400), *other_);  // signed by the keyring's key, but not the pinned one
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kPermFail) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), good);
}

TEST_F(UpdateTest, AMissingSignatureIsRefused) {
  const std::string good = InstallGood(kNow - 7200);
  WriteAll(Path("new.json"), MakeList(kNow - 60, kNow + 86400));
  std::filesystem::remove(Path("new.json.asc"));
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_NE(outcome.error().detail.find("no signature"), std::string::npos) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), good);
}

TEST_F(UpdateTest, AnOlderTimestampIsRefusedAsARollback) {
  const std::string good = InstallGood(kNow - 60);
  Offer(MakeList(kNow - 7200, kNow + 86400 * 30), *signer_);
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kPermFail);
  EXPECT_NE(outcome.error().detail.find("rollback"), std::string::npos) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), good);
}

TEST_F(UpdateTest, AnEqualTimestampIsAccepted) {
  InstallGood(kNow - 60);
  std::string same_time = MakeList(kNow - 60, kNow + 86400, "mx2.example.com");
  Offer(same_time, *signer_);
  auto outcome = Run();
  ASSERT_TRUE(outcome) << outcome.error().detail;
  EXPECT_TRUE(outcome->installed);
  EXPECT_EQ(ReadAll(active_), same_time);
}

TEST_F(UpdateTest, AnExpiredListIsRefused) {
  const std::string good = InstallGood(kNow - 7200);
  Offer(MakeList(kNow - 60, kNow - 1), *signer_);
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kPermFail);
  EXPECT_NE(outcome.error().detail.find("expired"), std::string::npos) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), good);
}

TEST_F(UpdateTest, ASignedButInvalidListIsRefused) {
  const std::string good = InstallGood(kNow - 7200);
  std::string invalid = MakeList(kNow - 60, kNow + 86400);
  invalid.replace(invalid.find("\"0.1\""), 5, "\"0.2\"");
  Offer(invalid, *signer_);
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kSyntax);
  EXPECT_NE(outcome.error().detail.find("$.version"), std::string::npos) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), good);
}

TEST_F(UpdateTest, AnInvalidListInForceCanBeRepaired) {
  std::filesystem::create_directories(Path("data"));
  WriteAll(active_, "{ not json");
  std::string list = MakeList(kNow - 60, kNow + 86400);
  Offer(list, *signer_);
  auto outcome = Run();
  ASSERT_TRUE(outcome) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), list);
}

TEST_F(UpdateTest, NoKeyringOrABadPinIsASetUpError) {
  Offer(MakeList(kNow - 60, kNow + 86400), *signer_);
  request_.keyring.clear();
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kInvalidArgument);
  EXPECT_NE(outcome.error().detail.find("--keyring"), std::string::npos);
  request_.keyring = Path("key.asc");
  request_.fingerprint = "not a fingerprint";
  outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kInvalidArgument);
  EXPECT_FALSE(std::filesystem::exists(active_));
}

TEST_F(UpdateTest, FetchesOverHttpsFollowingRedirects) {
  const std::string list = MakeList(kNow - 60, kNow + 86400);
  https_.SetResponse("dl.example.test", 302, "text/html", "", "https://mirror.example.test/policy.json");
  https_.SetBody("mirror.example.test", list);
  https_.SetBody("sig.example.test", signer_->Sign(list));
  request_.source = "https://dl.example.test/policy.json";
  request_.signature = "https://sig.example.test/policy.json.asc";
  auto outcome = Run();
  ASSERT_TRUE(outcome) << outcome.error().detail;
  EXPECT_EQ(ReadAll(active_), list);
  EXPECT_EQ(https_.Requests("dl.example.test"), 1);
  EXPECT_EQ(https_.Requests("mirror.example.test"), 1);
  EXPECT_EQ(https_.Requests("sig.example.test"), 1);
  ASSERT_TRUE(https_.LastRequest());
  EXPECT_EQ(https_.LastRequest()->path, "/policy.json.asc");
}

TEST_F(UpdateTest, FetchFailuresAndPlainHttpAreRefused) {
  request_.source = "https://dl.example.test/policy.json";
  https_.SetError("dl.example.test", net::HttpsStage::kCertificate, "unable to get local issuer certificate");
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kTempFail);
  EXPECT_NE(outcome.error().detail.find("certificate"), std::string::npos) << outcome.error().detail;

  https_.SetResponse("dl.example.test", 301, "text/html", "", "http://dl.example.test/policy.json");
  outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kPermFail);  // the server's doing, not a set-up error
  EXPECT_NE(outcome.error().detail.find("not an https:// URL"), std::string::npos) << outcome.error().detail;

  https_.SetResponse("dl.example.test", 404, "text/html", "not found");
  outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kPermFail);
  EXPECT_NE(outcome.error().detail.find("HTTP status 404"), std::string::npos) << outcome.error().detail;
  EXPECT_FALSE(std::filesystem::exists(active_));
}

TEST_F(UpdateTest, AListInForceThatCannotBeReadBlocksTheUpdate) {
  // Without the list in force there is no rollback check: refuse.
  std::filesystem::create_directories(active_);  // a directory where the list should be
  Offer(MakeList(kNow - 60, kNow + 86400), *signer_);
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kIo);
  EXPECT_NE(outcome.error().detail.find("cannot check for a rollback"), std::string::npos) << outcome.error().detail;
  EXPECT_TRUE(std::filesystem::is_directory(active_));
  EXPECT_FALSE(std::filesystem::exists(active_ + ".asc"));
}

TEST_F(UpdateTest, AnUnreadableKeyringIsASetUpError) {
  request_.keyring = Path("missing.asc");
  Offer(MakeList(kNow - 60, kNow + 86400), *signer_);
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kInvalidArgument);
  EXPECT_NE(outcome.error().detail.find("missing.asc"), std::string::npos) << outcome.error().detail;
}

TEST_F(UpdateTest, ACancelledUpdateStopsBeforeFetching) {
  std::atomic<bool> cancel{true};
  request_.cancel = &cancel;
  request_.source = "https://dl.example.test/policy.json";
  auto outcome = Run();
  ASSERT_FALSE(outcome);
  EXPECT_EQ(outcome.error().code, Code::kTempFail);
  EXPECT_NE(outcome.error().detail.find("stopping"), std::string::npos) << outcome.error().detail;
  EXPECT_EQ(https_.Requests(), 0);
}

TEST(ReadListFile, AbsentInvalidAndValid) {
  test::ScopedTempDir dir;
  auto absent = ReadListFile(dir.path() + "/none.json");
  ASSERT_TRUE(absent);
  EXPECT_FALSE(*absent);
  WriteAll(dir.path() + "/bad.json", "[]");
  auto bad = ReadListFile(dir.path() + "/bad.json");
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error().code, Code::kSyntax);
  EXPECT_NE(bad.error().detail.find("bad.json"), std::string::npos);
  auto real = ReadListFile(std::string(MXSEC_TEST_DATA) + "/starttls-everywhere/policy.json");
  ASSERT_TRUE(real && *real);
  EXPECT_EQ((*real)->policies.size(), 926u);
}

}  // namespace
}  // namespace mxsec::policylist
