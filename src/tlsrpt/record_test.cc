// Tests for the `_smtp._tls` TXT record (RFC 8460 3), table-driven from the ABNF
//
//   tlsrpt-record    = tlsrpt-version 1*(field-delim tlsrpt-field) [field-delim]
//   field-delim      = *WSP ";" *WSP
//   tlsrpt-field     = tlsrpt-rua / tlsrpt-extension
//   tlsrpt-version   = %s"v=TLSRPTv1"
//   tlsrpt-rua       = %s"rua=" tlsrpt-uri *(*WSP "," *WSP tlsrpt-uri)
//   tlsrpt-extension = tlsrpt-ext-name "=" tlsrpt-ext-value

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "testing/fakes.h"
#include "testing/table.h"
#include "tlsrpt/tlsrpt.h"

namespace mxsec::tlsrpt {
namespace {

using test::CaseName;
using test::DetailMatches;

struct GoodCase {
  std::string name;
  std::string text;
  std::vector<std::string> targets;  // rua targets in order
  size_t extensions = 0;
};

class RecordGood : public testing::TestWithParam<GoodCase> {};

TEST_P(RecordGood, Parses) {
  const auto& c = GetParam();
  auto record = ParseRecord(c.text);
  ASSERT_TRUE(record) << record.error().detail;
  std::vector<std::string> targets;
  for (const auto& uri : record->rua) targets.push_back(uri.target);
  EXPECT_EQ(targets, c.targets);
  EXPECT_EQ(record->extensions.size(), c.extensions);
}

INSTANTIATE_TEST_SUITE_P(
    Rfc8460, RecordGood,
    testing::Values(
        GoodCase{"mailto", "v=TLSRPTv1; rua=mailto:reports@example.com", {"reports@example.com"}},
        GoodCase{"https", "v=TLSRPTv1;rua=https://reporting.example.com/v1/tlsrpt",
                 {"https://reporting.example.com/v1/tlsrpt"}},
        GoodCase{"two_uris", "v=TLSRPTv1; rua=mailto:a@example.com,https://r.example.com/x",
                 {"a@example.com", "https://r.example.com/x"}},
        GoodCase{"space_around_comma", "v=TLSRPTv1; rua=mailto:a@example.com , mailto:b@example.com",
                 {"a@example.com", "b@example.com"}},
        GoodCase{"trailing_delimiter", "v=TLSRPTv1; rua=mailto:a@example.com;", {"a@example.com"}},
        GoodCase{"trailing_delimiter_wsp", "v=TLSRPTv1; rua=mailto:a@example.com ; ", {"a@example.com"}},
        GoodCase{"tabs", "v=TLSRPTv1\t;\trua=mailto:a@example.com", {"a@example.com"}},
        GoodCase{"extension", "v=TLSRPTv1; ext.1=value; rua=mailto:a@example.com", {"a@example.com"}, 1},
        GoodCase{"uppercase_scheme", "v=TLSRPTv1; rua=MAILTO:a@example.com", {"a@example.com"}},
        GoodCase{"mailto_hfields", "v=TLSRPTv1; rua=mailto:a@example.com?subject=x", {"a@example.com"}}),
    CaseName());

struct BadCase {
  std::string name;
  std::string text;
  std::string want;  // words of the error detail
};

class RecordBad : public testing::TestWithParam<BadCase> {};

TEST_P(RecordBad, Refused) {
  const auto& c = GetParam();
  auto record = ParseRecord(c.text);
  ASSERT_FALSE(record) << c.text;
  EXPECT_EQ(record.error().code, Code::kSyntax);
  EXPECT_TRUE(DetailMatches(record.error().detail, c.want)) << record.error().detail;
}

INSTANTIATE_TEST_SUITE_P(
    Rfc8460, RecordBad,
    testing::Values(BadCase{"empty", "", "v=TLSRPTv1"},
                    BadCase{"lowercase_version", "v=tlsrptv1; rua=mailto:a@example.com", "v=TLSRPTv1"},
                    BadCase{"version_only", "v=TLSRPTv1", "rua&missing"},
                    BadCase{"no_rua", "v=TLSRPTv1; ext=1", "rua&missing"},
                    BadCase{"two_rua", "v=TLSRPTv1; rua=mailto:a@example.com; rua=mailto:b@example.com",
                            "more than one rua"},
                    BadCase{"ftp", "v=TLSRPTv1; rua=ftp://reports.example.com/x", "neither mailto: nor https:"},
                    BadCase{"http", "v=TLSRPTv1; rua=http://reports.example.com/x", "neither mailto: nor https:"},
                    BadCase{"mailto_no_at", "v=TLSRPTv1; rua=mailto:reports", "mailto: URI with an address"},
                    BadCase{"https_no_host", "v=TLSRPTv1; rua=https:///x", "https:// URL with a host"},
                    BadCase{"empty_uri", "v=TLSRPTv1; rua=", "empty URI"},
                    BadCase{"empty_after_comma", "v=TLSRPTv1; rua=mailto:a@example.com,", "empty URI"},
                    BadCase{"no_delimiter", "v=TLSRPTv1 rua=mailto:a@example.com", "expected \";\""},
                    BadCase{"bad_ext_name", "v=TLSRPTv1; rua=mailto:a@example.com; _x=1", "extension name"},
                    BadCase{"bad_ext_value", "v=TLSRPTv1; rua=mailto:a@example.com; x=", "value for extension"},
                    BadCase{"not_name_value", "v=TLSRPTv1; rua=mailto:a@example.com; junk", "name=value"},
                    BadCase{"control_char", std::string("v=TLSRPTv1; rua=mailto:a@ex\x01.com"), "not allowed"}),
    CaseName());

TEST(SelectRecord, DiscardsOtherRecordsAndRefusesTwo) {
  auto one = SelectRecord({"v=spf1 -all", "v=TLSRPTv1; rua=mailto:a@example.com"});
  ASSERT_TRUE(one) << one.error().detail;
  EXPECT_EQ(one->rua.at(0).target, "a@example.com");

  auto none = SelectRecord({"v=spf1 -all", "v=TLSRPTv10; rua=mailto:a@example.com"});
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error().code, Code::kNotFound);

  auto two = SelectRecord({"v=TLSRPTv1; rua=mailto:a@example.com", "v=TLSRPTv1; rua=mailto:b@example.com"});
  ASSERT_FALSE(two);
  EXPECT_EQ(two.error().code, Code::kSyntax);
  EXPECT_TRUE(DetailMatches(two.error().detail, "2 TLSRPT records")) << two.error().detail;
}

TEST(DiscoverRecord, LooksUpUnderscoreNamesAndKeepsDnsCodes) {
  test::FakeResolver resolver;
  resolver.SetTxt("_smtp._tls.example.com", {"v=TLSRPTv1; rua=https://r.example.com/"});
  auto found = DiscoverRecord(resolver, "Example.COM.");
  ASSERT_TRUE(found) << found.error().detail;
  EXPECT_EQ(found->rua.at(0).scheme, Uri::Scheme::kHttps);

  resolver.SetError("_smtp._tls.broken.example", test::FakeResolver::Type::kTxt, Code::kTempFail);
  EXPECT_EQ(DiscoverRecord(resolver, "broken.example").error().code, Code::kTempFail);
  EXPECT_EQ(DiscoverRecord(resolver, "absent.example").error().code, Code::kNotFound);

  resolver.SetTxt("_smtp._tls.bad.example", {"v=TLSRPTv1; rua=ftp://x"});
  auto bad = DiscoverRecord(resolver, "bad.example");
  ASSERT_FALSE(bad);
  EXPECT_TRUE(DetailMatches(bad.error().detail, "_smtp._tls.bad.example&ftp")) << bad.error().detail;
}

}  // namespace
}  // namespace mxsec::tlsrpt
