// Tests for MX pattern matching (RFC 8461 4.1): MatchesMx and PolicyAllowsMx.

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <vector>

#include "mtasts/mtasts.h"
#include "testing/table.h"

namespace mxsec::mtasts {
namespace {

using test::CaseName;

struct MatchCase {
  const char* name;
  std::string pattern;
  std::string host;
  bool want;
};

void PrintTo(const MatchCase& c, std::ostream* os) {
  *os << c.name << " pattern=\"" << c.pattern << "\" host=\"" << c.host << '"';
}

const MatchCase kMatchCases[] = {
    // exact names
    {"Exact", "mail.example.com", "mail.example.com", true},
    {"ExactTwoLabels", "example.com", "example.com", true},
    {"HostUpperCase", "mail.example.com", "MAIL.EXAMPLE.COM", true},
    {"PatternUpperCase", "MAIL.Example.com", "mail.example.com", true},
    {"BothMixedCase", "Mail.Example.Com", "mAIL.eXAMPLE.cOM", true},
    {"HostTrailingDot", "mail.example.com", "mail.example.com.", true},
    {"PatternTrailingDot", "mail.example.com.", "mail.example.com", true},
    {"BothTrailingDot", "mail.example.com.", "mail.example.com.", true},
    {"DifferentHost", "mail.example.com", "mail2.example.com", false},
    {"ExactDoesNotMatchSubdomain", "mail.example.com", "sub.mail.example.com", false},
    {"ExactDoesNotMatchParent", "mail.example.com", "example.com", false},
    {"ExactIsNotSuffixMatch", "xample.com", "example.com", false},
    {"ExactIsNotPrefixMatch", "mail.example.com", "mail.example.com.evil.net", false},
    {"EmptyPattern", "", "mail.example.com", false},
    {"EmptyHost", "mail.example.com", "", false},
    // wildcards
    {"WildcardOneLabel", "*.example.com", "mx.example.com", true},
    {"WildcardHostUpperCaseTrailingDot", "*.example.com", "MX.EXAMPLE.COM.", true},
    {"WildcardPatternUpperCase", "*.Example.COM", "mx.example.com", true},
    {"WildcardPatternTrailingDot", "*.example.com.", "mx.example.com", true},
    {"WildcardHyphenDigitLabel", "*.example.com", "mx-01.example.com", true},
    {"WildcardOverTld", "*.com", "example.com", true},
    {"WildcardNotBareDomain", "*.example.com", "example.com", false},
    {"WildcardNotBareDomainTrailingDot", "*.example.com", "example.com.", false},
    {"WildcardNotTwoLabels", "*.example.com", "a.b.example.com", false},
    {"WildcardNotEmptyLabel", "*.example.com", ".example.com", false},
    {"WildcardOtherDomain", "*.example.com", "mx.example.org", false},
    {"WildcardNoDotBoundary", "*.example.com", "mxexample.com", false},
    {"WildcardSuffixIsWholeLabels", "*.ample.com", "mx.example.com", false},
    {"WildcardNotPrefixMatch", "*.example.com", "mx.example.com.evil.net", false},
    {"WildcardEmptyHost", "*.example.com", "", false},
    // '*' counts only as a whole leftmost label
    {"StarWithoutDot", "*example.com", "mxexample.com", false},
    {"StarWithoutDotNotLabel", "*example.com", "mx.example.com", false},
    {"StarInsideLabel", "mx*.example.com", "mx1.example.com", false},
    {"StarInMiddleLabel", "mail.*.example.com", "mail.x.example.com", false},
    {"TwoStarLabels", "*.*.example.com", "a.b.example.com", false},
    {"DoubleStar", "**.example.com", "mx.example.com", false},
    {"StarAlone", "*", "com", false},
};

class MatchesMxTest : public testing::TestWithParam<MatchCase> {};

TEST_P(MatchesMxTest, Matches) {
  const MatchCase& c = GetParam();
  EXPECT_EQ(MatchesMx(c.pattern, c.host), c.want);
}

INSTANTIATE_TEST_SUITE_P(Rfc8461, MatchesMxTest, testing::ValuesIn(kMatchCases), CaseName());

// ---- PolicyAllowsMx ---------------------------------------------------------------

struct AllowCase {
  const char* name;
  std::vector<std::string> mx;
  std::string host;
  bool want;
};

void PrintTo(const AllowCase& c, std::ostream* os) {
  *os << c.name << " host=\"" << c.host << "\" mx={";
  for (const std::string& m : c.mx) *os << ' ' << m;
  *os << " }";
}

const std::vector<std::string> kRfcMx = {"mail.example.com", "*.example.net", "backupmx.example.com"};

const AllowCase kAllowCases[] = {
    {"FirstPattern", kRfcMx, "mail.example.com", true},
    {"LastPattern", kRfcMx, "backupmx.example.com", true},
    {"WildcardPattern", kRfcMx, "mx1.example.net", true},
    {"WildcardPatternUpperCaseTrailingDot", kRfcMx, "MX1.Example.NET.", true},
    {"NoPatternMatches", kRfcMx, "mx.example.org", false},
    {"WildcardParentNotAllowed", kRfcMx, "example.net", false},
    {"WildcardTwoLabelsNotAllowed", kRfcMx, "a.b.example.net", false},
    {"SubdomainOfExactNotAllowed", kRfcMx, "x.mail.example.com", false},
    {"EmptyPolicyAllowsNothing", {}, "mail.example.com", false},
    {"EmptyHost", kRfcMx, "", false},
    {"DuplicatePatterns", {"mx.example.com", "mx.example.com"}, "mx.example.com", true},
};

class PolicyAllowsMxTest : public testing::TestWithParam<AllowCase> {};

TEST_P(PolicyAllowsMxTest, Allows) {
  const AllowCase& c = GetParam();
  Policy policy;
  policy.mode = Mode::kEnforce;
  policy.max_age = 86400;
  policy.mx = c.mx;
  EXPECT_EQ(PolicyAllowsMx(policy, c.host), c.want);
}

INSTANTIATE_TEST_SUITE_P(Rfc8461, PolicyAllowsMxTest, testing::ValuesIn(kAllowCases), CaseName());

// End to end: a parsed policy allows exactly the hosts its patterns match.
TEST(PolicyAllowsMxTest, ParsedPolicy) {
  Result<Policy> p =
      ParsePolicy("version: STSv1\nmode: enforce\nmx: MAIL.example.com\nmx: *.Example.NET\nmax_age: 86400\n");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_TRUE(PolicyAllowsMx(*p, "mail.example.com"));
  EXPECT_TRUE(PolicyAllowsMx(*p, "mx7.example.net."));
  EXPECT_FALSE(PolicyAllowsMx(*p, "example.net"));
  EXPECT_FALSE(PolicyAllowsMx(*p, "mail.example.org"));
}

}  // namespace
}  // namespace mxsec::mtasts
