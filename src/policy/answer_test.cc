// The STARTTLS-Everywhere list below MTA-STS (ApplyPolicyList), and how a
// list decision reads in the socketmap and Exim answers.
#include <gtest/gtest.h>

#include "policy/answer_json.h"
#include "policy/policy.h"
#include "server/server.h"

namespace mxsec::policy {
namespace {

constexpr int64_t kNow = 1800000000;

policylist::List MakeList(int64_t expires = kNow + 86400) {
  auto list = policylist::ParseList(R"({
    "timestamp": 1799990000, "expires": )" +
                                    std::to_string(expires) + R"(, "version": "0.1",
    "policy-aliases": {"yahoo": {"mode": "enforce", "mxs": [".yahoodns.net"]}},
    "policies": {
      "listed.example": {"mode": "enforce", "mxs": ["mx.listed.example", ".backup.listed.example"]},
      "testing.example": {"mode": "testing", "mxs": ["mx.testing.example"]},
      "yahoo.example": {"policy-alias": "yahoo"}
    }})");
  EXPECT_TRUE(list) << list.error().detail;
  return *list;
}

StsAnswer NoPolicy(const std::string& domain) {
  StsAnswer answer;
  answer.domain = domain;
  return answer;
}

TEST(ApplyPolicyList, DecidesWhereNoMtaStsPolicyApplies) {
  const auto list = MakeList();
  StsAnswer answer = NoPolicy("listed.example");
  answer.error = mtasts::StsError{mtasts::Phase::kConnect, Error{Code::kTempFail, "connection refused"}};
  ApplyPolicyList(answer, &list, kNow);
  EXPECT_EQ(answer.source, Source::kPolicyList);
  EXPECT_EQ(SourceName(answer.source), "policy-list");
  EXPECT_EQ(answer.mode(), mtasts::Mode::kEnforce);
  ASSERT_TRUE(answer.entry);
  EXPECT_EQ(answer.entry->mx, (std::vector<std::string>{"mx.listed.example", ".backup.listed.example"}));
  EXPECT_EQ(answer.entry->expires, kNow + 86400);
  EXPECT_TRUE(answer.error);  // the MTA-STS failure stays visible
  // The list's rules: ".x" at any depth, exact names exactly.
  EXPECT_TRUE(answer.AllowsMx("mx.listed.example"));
  EXPECT_TRUE(answer.AllowsMx("a.b.backup.listed.example"));
  EXPECT_FALSE(answer.AllowsMx("mx.attacker.example"));
  EXPECT_FALSE(answer.AllowsMx("backup.listed.example"));
}

TEST(ApplyPolicyList, MtaStsWinsAndNothingElseChanges) {
  const auto list = MakeList();
  StsAnswer sts = NoPolicy("listed.example");
  sts.source = Source::kCache;
  sts.entry = store::CacheEntry{};
  sts.entry->mode = "testing";
  sts.entry->mx = {"mx.elsewhere.example"};
  ApplyPolicyList(sts, &list, kNow);
  EXPECT_EQ(sts.source, Source::kCache);
  EXPECT_EQ(sts.entry->mx, std::vector<std::string>{"mx.elsewhere.example"});

  StsAnswer unlisted = NoPolicy("unlisted.example");
  ApplyPolicyList(unlisted, &list, kNow);
  EXPECT_EQ(unlisted.source, Source::kNone);

  StsAnswer no_list = NoPolicy("listed.example");
  ApplyPolicyList(no_list, nullptr, kNow);
  EXPECT_EQ(no_list.source, Source::kNone);
}

TEST(ApplyPolicyList, AnExpiredListIsNotApplied) {
  const auto list = MakeList(kNow);
  StsAnswer answer = NoPolicy("listed.example");
  ApplyPolicyList(answer, &list, kNow);
  EXPECT_EQ(answer.source, Source::kNone);
  ApplyPolicyList(answer, &list, kNow - 1);
  EXPECT_EQ(answer.source, Source::kPolicyList);
}

TEST(ApplyPolicyList, AnswersForPostfixAndExim) {
  const auto list = MakeList();
  server::ZoneSettings zone, strict, tlsrpt;
  strict.strict_testing = true;
  tlsrpt.tlsrpt = true;
  StsAnswer listed = NoPolicy("listed.example");
  ApplyPolicyList(listed, &list, kNow);
  EXPECT_EQ(server::SocketmapAnswer(listed, false, zone),
            "OK secure match=mx.listed.example:.backup.listed.example servername=hostname");
  // TLSRPT has no policy type for a preload list: no sts attributes.
  EXPECT_EQ(server::SocketmapAnswer(listed, false, tlsrpt),
            "OK secure match=mx.listed.example:.backup.listed.example servername=hostname");
  EXPECT_EQ(server::SocketmapAnswer(listed, true, zone), "OK dane-only");  // DANE above both

  StsAnswer testing = NoPolicy("testing.example");
  ApplyPolicyList(testing, &list, kNow);
  EXPECT_EQ(server::SocketmapAnswer(testing, false, zone), "NOTFOUND ");
  EXPECT_EQ(server::SocketmapAnswer(testing, false, strict), "OK secure match=mx.testing.example servername=hostname");

  StsAnswer alias = NoPolicy("yahoo.example");
  ApplyPolicyList(alias, &list, kNow);
  EXPECT_EQ(server::EximAnswer(alias, "mode", ""), "enforce");
  EXPECT_EQ(server::EximAnswer(alias, "valid-mx", "mta7.am0.yahoodns.net"), "");
  EXPECT_EQ(server::EximAnswer(alias, "valid-mx", "mx.evil.example"), "do_not_connect:no_match");
  EXPECT_EQ(server::EximAnswer(alias, "mx-list", ""), ".yahoodns.net");
}

TEST(AnswerJson, SaysWhichSourceDecided) {
  const auto list = MakeList();
  StsAnswer listed = NoPolicy("listed.example");
  ApplyPolicyList(listed, &list, kNow);
  nlohmann::json j = AnswerJson(listed);
  EXPECT_EQ(j["source"], "policy-list");
  EXPECT_EQ(j["mode"], "enforce");
  EXPECT_EQ(j["mx"], (std::vector<std::string>{"mx.listed.example", ".backup.listed.example"}));
  EXPECT_EQ(j["policy_list"]["expires"], FormatRfc3339(FromUnix(kNow + 86400)));
  EXPECT_EQ(j["policy_list"]["timestamp"], FormatRfc3339(FromUnix(list.timestamp)));

  nlohmann::json none = AnswerJson(NoPolicy("unlisted.example"));
  EXPECT_EQ(none["source"], "none");
  EXPECT_TRUE(none["mode"].is_null());
  EXPECT_EQ(none["mx"], nlohmann::json::array());
  EXPECT_FALSE(none.contains("policy_list"));
}

}  // namespace
}  // namespace mxsec::policy
