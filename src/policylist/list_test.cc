// The STARTTLS-Everywhere list: the real 926-domain list, every schema 0.1
// rule, timestamps and the schema's pattern semantics.
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "policylist/policylist.h"
#include "testing/table.h"

namespace mxsec::policylist {
namespace {

using test::DetailMatches;
using nlohmann::json;

std::string RealList() {
  std::ifstream in(std::string(MXSEC_TEST_DATA) + "/starttls-everywhere/policy.json");
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

json Minimal() {
  return json::parse(R"({
    "timestamp": "2026-11-01T00:00:00Z", "expires": 1795000000, "version": "0.1",
    "policy-aliases": {"big": {"mode": "testing", "mxs": [".big.example"]}},
    "policies": {
      "example.com": {"mode": "enforce", "mxs": ["mx.example.com", ".backup.example.com"]},
      "alias.example": {"policy-alias": "big"}
    }})");
}

TEST(ParseList, TheRealList) {
  auto list = ParseList(RealList());
  ASSERT_TRUE(list) << list.error().detail;
  EXPECT_EQ(list->policies.size(), 926u);
  EXPECT_EQ(list->aliases.size(), 4u);
  EXPECT_EQ(list->timestamp, 1589995512);  // 2020-05-20T10:25:12.710034-07:00
  EXPECT_EQ(list->author, "Electronic Frontier Foundation https://eff.org");
  const Entry* aol = list->Find("AOL.com.");
  ASSERT_NE(aol, nullptr);
  EXPECT_EQ(aol->alias, "yahoo");
  EXPECT_TRUE(PolicyAllowsMx(aol->policy, "mta7.am0.yahoodns.net"));
  const Entry* gmail = list->Find("gmail.com");
  ASSERT_NE(gmail, nullptr);
  EXPECT_EQ(gmail->policy.mode, Mode::kEnforce);
  EXPECT_EQ(PostfixMatch(gmail->policy), "gmail-smtp-in.l.google.com:.gmail-smtp-in.l.google.com");
  EXPECT_EQ(list->Find("lists.eff.org"), nullptr);  // exact domains only
  EXPECT_TRUE(list->Expired(1795000000));
}

TEST(ParseList, MinimalListAndAliases) {
  auto list = ParseList(Minimal().dump());
  ASSERT_TRUE(list) << list.error().detail;
  EXPECT_EQ(list->Find("alias.example")->policy.mxs, std::vector<std::string>{".big.example"});
  EXPECT_FALSE(list->Expired(1794999999));
  EXPECT_TRUE(list->Expired(1795000000));
}

struct BadCase {
  std::string name;
  std::function<void(json&)> change;
  std::string want;  // words of the first error
};

class ParseListBad : public testing::TestWithParam<BadCase> {};

TEST_P(ParseListBad, NamesThePathAndTheRule) {
  json doc = Minimal();
  GetParam().change(doc);
  std::vector<std::string> errors;
  auto list = ParseList(doc.dump(), &errors);
  ASSERT_FALSE(list) << doc.dump();
  EXPECT_EQ(list.error().code, Code::kSyntax);
  EXPECT_TRUE(DetailMatches(list.error().detail, GetParam().want)) << list.error().detail;
  EXPECT_FALSE(errors.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Schema01, ParseListBad,
    testing::Values(
        BadCase{"missing_timestamp", [](json& d) { d.erase("timestamp"); }, "$&\"timestamp\" is missing&required"},
        BadCase{"missing_aliases", [](json& d) { d.erase("policy-aliases"); }, "\"policy-aliases\" is missing"},
        BadCase{"extra_top_level", [](json& d) { d["extra"] = 1; }, "$[\"extra\"]&additionalProperties"},
        BadCase{"version", [](json& d) { d["version"] = "0.2"; }, "$.version&const"},
        BadCase{"timestamp_format", [](json& d) { d["timestamp"] = "2026-02-30T00:00:00Z"; }, "$.timestamp&pattern"},
        BadCase{"timestamp_no_zone", [](json& d) { d["timestamp"] = "2026-11-01T00:00:00"; }, "$.timestamp&pattern"},
        BadCase{"timestamp_negative", [](json& d) { d["timestamp"] = -1; }, "$.timestamp&minimum"},
        BadCase{"timestamp_type", [](json& d) { d["timestamp"] = true; }, "$.timestamp&type"},
        BadCase{"domain_pattern", [](json& d) { d["policies"]["-bad-.example"] = d["policies"]["example.com"]; },
                "$.policies[\"-bad-.example\"]&patternProperties"},
        BadCase{"single_label", [](json& d) { d["policies"]["localhost"] = d["policies"]["example.com"]; },
                "$.policies[\"localhost\"]"},
        BadCase{"mode", [](json& d) { d["policies"]["example.com"]["mode"] = "none"; },
                "$.policies[\"example.com\"].mode&enum"},
        BadCase{"missing_mode", [](json& d) { d["policies"]["example.com"].erase("mode"); }, "\"mode\" is missing"},
        BadCase{"empty_mxs", [](json& d) { d["policies"]["example.com"]["mxs"] = json::array(); }, "minItems"},
        BadCase{"duplicate_mx",
                [](json& d) { d["policies"]["example.com"]["mxs"] = {"mx.example.com", "mx.example.com"}; },
                "mxs[1]&uniqueItems"},
        BadCase{"mx_pattern", [](json& d) { d["policies"]["example.com"]["mxs"] = {"*.example.com"}; },
                "mxs[0]&pattern"},
        BadCase{"extra_policy_key", [](json& d) { d["policies"]["example.com"]["max_age"] = 1; },
                "[\"max_age\"]&additionalProperties"},
        BadCase{"unknown_alias", [](json& d) { d["policies"]["alias.example"]["policy-alias"] = "nope"; },
                "policy-alias&\"nope\" is not defined"},
        BadCase{"alias_with_fields", [](json& d) { d["policies"]["alias.example"]["mode"] = "enforce"; }, "oneOf"},
        BadCase{"bad_alias_definition", [](json& d) { d["policy-aliases"]["big"]["mxs"] = "x"; },
                "$.policy-aliases[\"big\"].mxs&type"},
        BadCase{"not_json", [](json& d) { d = "garbage"; }, "must be an object"}),
    test::CaseName());

TEST(ParseList, NotJsonAndAllErrorsListed) {
  EXPECT_TRUE(DetailMatches(ParseList("{").error().detail, "not valid JSON"));
  json doc = Minimal();
  doc["version"] = "9";
  doc["extra"] = 1;
  std::vector<std::string> errors;
  auto list = ParseList(doc.dump(), &errors);
  ASSERT_FALSE(list);
  EXPECT_EQ(errors.size(), 2u);
  EXPECT_TRUE(DetailMatches(list.error().detail, "(and 1 more)")) << list.error().detail;
}

TEST(ParseTimestamp, Forms) {
  EXPECT_EQ(ParseTimestamp("1970-01-01T00:00:00Z"), 0);
  EXPECT_EQ(ParseTimestamp("2024-02-29T12:00:00.5+02:00"), 1709200800);
  EXPECT_EQ(ParseTimestamp("1589995512"), 1589995512);
  EXPECT_FALSE(ParseTimestamp("2023-02-29T00:00:00Z"));
  EXPECT_FALSE(ParseTimestamp("2024-13-01T00:00:00Z"));
  EXPECT_FALSE(ParseTimestamp("2024-01-01T24:00:00Z"));
  EXPECT_FALSE(ParseTimestamp("2024-01-01 00:00:00Z"));
  EXPECT_FALSE(ParseTimestamp("2024-01-01T00:00:00.Z"));
  EXPECT_FALSE(ParseTimestamp("2024-01-01T00:00:00+2:00"));
  EXPECT_FALSE(ParseTimestamp(""));
}

TEST(MatchesMx, SchemaSemantics) {
  EXPECT_TRUE(MatchesMx("mx.example.com", "MX.Example.com."));
  EXPECT_FALSE(MatchesMx("mx.example.com", "a.mx.example.com"));
  EXPECT_TRUE(MatchesMx(".yahoodns.net", "mta7.am0.yahoodns.net"));  // any depth, as the schema says
  EXPECT_TRUE(MatchesMx(".example.com", "mx.example.com"));
  EXPECT_FALSE(MatchesMx(".example.com", "example.com"));
  EXPECT_FALSE(MatchesMx(".example.com", "badexample.com"));
  EXPECT_FALSE(MatchesMx("", "example.com"));
}

}  // namespace
}  // namespace mxsec::policylist
