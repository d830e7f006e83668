// Tests for the MTA-STS policy parser (RFC 8461 3.2), table-driven from the
// ABNF
//
//   sts-policy-record  = sts-policy-field *WSP
//                        *(sts-policy-term sts-policy-field *WSP) [sts-policy-term]
//   field-delim        = ":" *WSP
//   sts-policy-version = %s"version" field-delim %s"STSv1"
//   sts-policy-mode    = %s"mode" field-delim (%s"testing" / %s"enforce" / %s"none")
//   sts-policy-max-age = %s"max_age" field-delim 1*10(DIGIT)
//   sts-policy-mx      = %s"mx" field-delim ["*."] Domain
//   sts-policy-term    = LF / CRLF
//
// plus the mxsec decisions documented in mtasts.h (max_age clamped to
// kMaxMaxAge with a warning, first value of a repeated non-mx key counts).

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "base/base.h"
#include "mtasts/mtasts.h"
#include "testing/table.h"

namespace mxsec::mtasts {
namespace {

using test::CaseName;

using test::DetailMatches;

// Renders control characters visibly in failure messages.
std::string Visible(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

TEST(PolicyConstantsTest, MaxMaxAgeIsOneYear) { EXPECT_EQ(kMaxMaxAge, 31557600); }

// ---- Good policies -----------------------------------------------------------------

enum class Warn { kNone, kSome, kAny };

struct GoodPolicyCase {
  const char* name;
  std::string input;
  Mode mode;
  int64_t max_age;
  std::vector<std::string> mx;
  Warn warn;
};

void PrintTo(const GoodPolicyCase& c, std::ostream* os) { *os << c.name << " \"" << Visible(c.input) << '"'; }

// clang-format off
const GoodPolicyCase kGoodPolicies[] = {
    {"RfcExample",
     "version: STSv1\nmode: enforce\nmx: mail.example.com\nmx: *.example.net\n"
     "mx: backupmx.example.com\nmax_age: 604800\n",
     Mode::kEnforce, 604800, {"mail.example.com", "*.example.net", "backupmx.example.com"},
     Warn::kNone},
    {"Crlf",
     "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800\r\n",
     Mode::kEnforce, 604800, {"mail.example.com"}, Warn::kNone},
    {"NoFinalLf",
     "version: STSv1\nmode: enforce\nmx: mail.example.com\nmax_age: 604800",
     Mode::kEnforce, 604800, {"mail.example.com"}, Warn::kNone},
    {"NoFinalCrlf",
     "version: STSv1\r\nmode: enforce\r\nmx: mail.example.com\r\nmax_age: 604800",
     Mode::kEnforce, 604800, {"mail.example.com"}, Warn::kNone},
    {"MixedTerminators",
     "version: STSv1\r\nmode: testing\nmx: mail.example.com\r\nmax_age: 86400\n",
     Mode::kTesting, 86400, {"mail.example.com"}, Warn::kNone},
    {"NoSpaceAfterColon",
     "version:STSv1\nmode:testing\nmx:mx.example.com\nmax_age:86400\n",
     Mode::kTesting, 86400, {"mx.example.com"}, Warn::kNone},
    {"TabAfterColon",
     "version:\tSTSv1\nmode:\ttesting\nmx:\tmx.example.com\nmax_age:\t86400\n",
     Mode::kTesting, 86400, {"mx.example.com"}, Warn::kNone},
    {"SeveralWspAfterColon",
     "version:   STSv1\nmode: \t enforce\nmx:  mx.example.com\nmax_age:    86400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kNone},
    {"TrailingWsp",
     "version: STSv1 \nmode: enforce\t\nmx: mx.example.com  \nmax_age: 86400 \t \n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kNone},
    {"TrailingWspCrlf",
     "version: STSv1 \r\nmode: enforce\t\r\nmx: mx.example.com  \r\nmax_age: 86400 \r\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kNone},
    {"TrailingWspNoFinalTerminator",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400  ",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kNone},
    {"ModeTesting",
     "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n",
     Mode::kTesting, 86400, {"mx.example.com"}, Warn::kNone},
    {"ModeNoneWithoutMx",
     "version: STSv1\nmode: none\nmax_age: 86400\n",
     Mode::kNone, 86400, {}, Warn::kNone},
    {"ModeNoneWithMx",
     "version: STSv1\nmode: none\nmx: mx.example.com\nmax_age: 86400\n",
     Mode::kNone, 86400, {"mx.example.com"}, Warn::kNone},
    {"AnyFieldOrder",
     "max_age: 86400\nmx: mx.example.com\nmode: enforce\nversion: STSv1\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kNone},
    {"MaxAgeZero",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0\n",
     Mode::kEnforce, 0, {"mx.example.com"}, Warn::kNone},
    {"MaxAgeOneDigit",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 7\n",
     Mode::kEnforce, 7, {"mx.example.com"}, Warn::kNone},
    {"MaxAgeLeadingZerosTenDigits",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 0000086400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kNone},
    {"MaxAgeAtLimit",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 31557600\n",
     Mode::kEnforce, 31557600, {"mx.example.com"}, Warn::kNone},
    {"MaxAgeAboveLimitClamped",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 31557601\n",
     Mode::kEnforce, 31557600, {"mx.example.com"}, Warn::kSome},
    {"MaxAgeTenNinesClamped",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 9999999999\n",
     Mode::kEnforce, 31557600, {"mx.example.com"}, Warn::kSome},
    {"UnknownKeyIgnored",
     "version: STSv1\nmode: enforce\nfoo: bar\nmx: mx.example.com\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kAny},
    {"UnknownKeyWithPunctuation",
     "version: STSv1\nmode: enforce\next_name-1.x: value with spaces\nmx: mx.example.com\n"
     "max_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kAny},
    {"UnknownKeyUtf8Value",
     "version: STSv1\nmode: enforce\ncomment: h\xC3\xA9llo w\xC3\xB6rld\nmx: mx.example.com\n"
     "max_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kAny},
    {"UnknownKeyValueWithColon",
     "version: STSv1\nmode: enforce\nurl: https://example.com/x\nmx: mx.example.com\n"
     "max_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kAny},
    {"UpperCaseMxKeyIsUnknown",
     "version: STSv1\nmode: enforce\nMX: evil.example.org\nmx: mx.example.com\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kAny},
    {"UpperCaseModeKeyIsUnknown",
     "version: STSv1\nMode: none\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kAny},
    {"FirstModeCounts",
     "version: STSv1\nmode: testing\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n",
     Mode::kTesting, 86400, {"mx.example.com"}, Warn::kAny},
    {"FirstModeCountsNone",
     "version: STSv1\nmode: none\nmode: enforce\nmax_age: 86400\n",
     Mode::kNone, 86400, {}, Warn::kAny},
    {"FirstMaxAgeCounts",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 100\nmax_age: 200\n",
     Mode::kEnforce, 100, {"mx.example.com"}, Warn::kAny},
    {"RepeatedVersion",
     "version: STSv1\nmode: enforce\nversion: STSv1\nmx: mx.example.com\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.example.com"}, Warn::kAny},
    {"MxLowerCased",
     "version: STSv1\nmode: enforce\nmx: MX1.Example.COM\nmx: *.EXAMPLE.net\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"mx1.example.com", "*.example.net"}, Warn::kNone},
    {"MxDuplicatesKept",
     "version: STSv1\nmode: enforce\nmx: mx.example.com\nmx: mx.example.com\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.example.com", "mx.example.com"}, Warn::kAny},
    {"MxOrderKept",
     "mx: c.example.com\nversion: STSv1\nmx: a.example.com\nmode: enforce\nmx: b.example.com\n"
     "max_age: 86400\n",
     Mode::kEnforce, 86400, {"c.example.com", "a.example.com", "b.example.com"}, Warn::kNone},
    {"MxWildcardOnly",
     "version: STSv1\nmode: enforce\nmx: *.example.com\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"*.example.com"}, Warn::kNone},
    {"MxHyphenAndDigits",
     "version: STSv1\nmode: enforce\nmx: mx-1.ex4mple-2.com\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"mx-1.ex4mple-2.com"}, Warn::kNone},
    {"MxPunycode",
     "version: STSv1\nmode: enforce\nmx: mx.xn--bcher-kva.example\nmax_age: 86400\n",
     Mode::kEnforce, 86400, {"mx.xn--bcher-kva.example"}, Warn::kNone},
};
// clang-format on

class GoodPolicyTest : public testing::TestWithParam<GoodPolicyCase> {};

TEST_P(GoodPolicyTest, ParsesFields) {
  const GoodPolicyCase& c = GetParam();
  Result<Policy> p = ParsePolicy(c.input);
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, c.mode) << ModeName(p->mode);
  EXPECT_EQ(p->max_age, c.max_age);
  EXPECT_EQ(p->mx, c.mx);
  switch (c.warn) {
    case Warn::kNone:
      EXPECT_TRUE(p->warnings.empty()) << p->warnings.front();
      break;
    case Warn::kSome:
      EXPECT_FALSE(p->warnings.empty());
      for (const std::string& w : p->warnings) EXPECT_FALSE(w.empty());
      break;
    case Warn::kAny:
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc8461, GoodPolicyTest, testing::ValuesIn(kGoodPolicies), CaseName());

// ---- Bad policies ------------------------------------------------------------------

struct BadPolicyCase {
  const char* name;
  std::string input;
  const char* detail;  // see DetailMatches
};

void PrintTo(const BadPolicyCase& c, std::ostream* os) { *os << c.name << " \"" << Visible(c.input) << '"'; }

// Lines shared by most bad cases, so that each case breaks exactly one rule.
#define V "version: STSv1\n"
#define M "mode: enforce\n"
#define X "mx: mx.example.com\n"
#define A "max_age: 86400\n"

const BadPolicyCase kBadPolicies[] = {
    {"Empty", "", "version|line 1|empty"},
    {"OnlyNewline", "\n", "version|line 1|empty"},
    // version
    {"MissingVersion", M X A, "version"},
    {"VersionTwo", "version: STSv2\n" M X A, "version"},
    {"VersionLowerCase", "version: stsv1\n" M X A, "version"},
    {"VersionSuffix", "version: STSv1x\n" M X A, "version"},
    {"VersionEmpty", "version:\n" M X A, "version"},
    {"VersionKeyUpperCase", "Version: STSv1\n" M X A, "version"},
    {"FirstVersionWrong", "version: STSv2\nversion: STSv1\n" M X A, "version"},
    // mode
    {"MissingMode", V X A, "mode"},
    {"ModeCapitalized", V "mode: Enforce\n" X A, "line 2&mode"},
    {"ModeUpperCase", V "mode: TESTING\n" X A, "line 2&mode"},
    {"ModeUnknown", V "mode: strict\n" X A, "line 2&mode"},
    {"ModeEmpty", V "mode:\n" X A, "line 2&mode"},
    {"ModeKeyCapitalized", V "Mode: enforce\n" X A, "mode"},
    {"ModeTwoWords", V "mode: enforce testing\n" X A, "line 2&mode"},
    // max_age
    {"MissingMaxAge", V M X, "max_age"},
    {"MaxAgeKeyCapitalized", V M X "Max_age: 86400\n", "max_age"},
    {"MaxAgeElevenDigits", V M X "max_age: 12345678901\n", "line 4&max_age"},
    {"MaxAgeElevenZeros", V M X "max_age: 00000000000\n", "line 4&max_age"},
    {"MaxAgeNegative", V M X "max_age: -1\n", "line 4&max_age"},
    {"MaxAgePlus", V M X "max_age: +5\n", "line 4&max_age"},
    {"MaxAgeExponent", V M X "max_age: 1e3\n", "line 4&max_age"},
    {"MaxAgeEmpty", V M X "max_age:\n", "line 4&max_age"},
    {"MaxAgeInnerSpace", V M X "max_age: 86 400\n", "line 4&max_age"},
    {"MaxAgeDecimal", V M X "max_age: 86400.0\n", "line 4&max_age"},
    {"MaxAgeHex", V M X "max_age: 0x10\n", "line 4&max_age"},
    {"MaxAgeTrailingLetter", V M X "max_age: 86400s\n", "line 4&max_age"},
    {"MaxAgeHugeOverflow", V M X "max_age: 99999999999999999999999\n", "line 4&max_age"},
    // mx presence
    {"EnforceWithoutMx", V M A, "mx"},
    {"TestingWithoutMx", V "mode: testing\n" A, "mx"},
    {"EnforceOnlyUpperCaseMx", V M "MX: mx.example.com\n" A, "mx"},
    // mx syntax (the bad mx is always on line 3)
    {"MxEmpty", V M "mx:\n" A, "line 3&mx"},
    {"MxTrailingDot", V M "mx: mx.example.com.\n" A, "line 3&mx"},
    {"MxEmptyLabel", V M "mx: mx..example.com\n" A, "line 3&mx"},
    {"MxLeadingDot", V M "mx: .example.com\n" A, "line 3&mx"},
    {"MxStarInsideLabel", V M "mx: mx*.example.com\n" A, "line 3&mx"},
    {"MxStarWithoutDot", V M "mx: *example.com\n" A, "line 3&mx"},
    {"MxDoubleStar", V M "mx: **.example.com\n" A, "line 3&mx"},
    {"MxTwoWildcardLabels", V M "mx: *.*.example.com\n" A, "line 3&mx"},
    {"MxStarNotLeftmost", V M "mx: mail.*.example.com\n" A, "line 3&mx"},
    {"MxStarRightmost", V M "mx: example.*\n" A, "line 3&mx"},
    {"MxStarOnly", V M "mx: *\n" A, "line 3&mx"},
    {"MxStarDotOnly", V M "mx: *.\n" A, "line 3&mx"},
    {"MxCidr", V M "mx: 10.0.0.0/8\n" A, "line 3&mx"},
    {"MxUrl", V M "mx: https://mx.example.com\n" A, "line 3&mx"},
    {"MxNonAscii", V M "mx: mx.b\u00fccher.example\n" A, "line 3&mx"},
    {"MxUnderscore", V M "mx: mx_1.example.com\n" A, "line 3&mx"},
    {"MxTwoHosts", V M "mx: a.example.com b.example.com\n" A, "line 3&mx"},
    {"MxCommaList", V M "mx: a.example.com,b.example.com\n" A, "line 3&mx"},
    // line structure
    {"LineWithoutColon", V M "mx mx.example.com\n" A, "line 3"},
    {"LineWithoutColonCrlf", "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmax_age 86400\r\n", "line 4"},
    {"GarbageLastLine", V M X A "garbage", "line 5"},
    {"GarbageFirstLine", "garbage\n" V M X A, "line 1"},
    {"EmptyLineInMiddle", V "\n" M X A, "line 2"},
    {"EmptyLineInMiddleCrlf",
     "version: STSv1\r\n\r\nmode: enforce\r\nmx: mx.example.com\r\n"
     "max_age: 86400\r\n",
     "line 2"},
    {"WhitespaceOnlyLine", V M " \t\n" X A, "line 3"},
    {"BareCrBetweenLines", "version: STSv1\rmode: enforce\n" X A, "line 1"},
    {"BareCrInsideValue", V "mode: enf\rorce\n" X A, "line 2"},
    {"BareCrAtEnd", V M X "max_age: 86400\r", "line 4"},
    {"CrCrLf", V "mode: enforce\r\r\n" X A, "line 2"},
    // In an ignored extension line the CR is the only fault.
    {"BareCrInUnknownValue", V M "note: a\rb\n" X A, "line 3"},
    {"BareCrEndsUnknownLine", V M "note: ab\r\r\n" X A, "line 3"},
    {"BareCrEndsLastUnknownLine", V M X A "note: ab\r", "line 5"},
    {"LeadingWhitespaceOnLine", V " mode: enforce\n" X A, "line 2|mode"},
    {"SpaceBeforeColon", V "mode : enforce\n" X A, "line 2|mode"},
    {"NulInValue", std::string(V "mode: enforce\0\n" X A, sizeof(V "mode: enforce\0\n" X A) - 1), "line 2"},
};

#undef V
#undef M
#undef X
#undef A

class BadPolicyTest : public testing::TestWithParam<BadPolicyCase> {};

TEST_P(BadPolicyTest, IsSyntaxError) {
  const BadPolicyCase& c = GetParam();
  Result<Policy> p = ParsePolicy(c.input);
  ASSERT_FALSE(p) << "parsed mode=" << ModeName(p->mode) << " max_age=" << p->max_age;
  EXPECT_EQ(p.error().code, Code::kSyntax) << CodeName(p.error().code);
  EXPECT_TRUE(DetailMatches(p.error().detail, c.detail)) << "detail \"" << p.error().detail << "\" lacks " << c.detail;
}

INSTANTIATE_TEST_SUITE_P(Rfc8461, BadPolicyTest, testing::ValuesIn(kBadPolicies), CaseName());

// "line N" must name line N and not merely start with it: line 1 is not line 12.
TEST(BadPolicyTest, LineNumberIsExact) {
  std::string body = "version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 86400\n";
  for (int i = 0; i < 7; ++i) body += "x-pad: " + std::to_string(i) + "\n";
  body += "no colon here\n";  // line 12
  Result<Policy> p = ParsePolicy(body);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, Code::kSyntax);
  EXPECT_NE(p.error().detail.find("line 12"), std::string::npos) << p.error().detail;
}

// The warning about a clamped max_age names what was clamped.
TEST(PolicyWarningsTest, ClampWarningMentionsMaxAge) {
  Result<Policy> p = ParsePolicy("version: STSv1\nmode: enforce\nmx: mx.example.com\nmax_age: 40000000\n");
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->max_age, kMaxMaxAge);
  ASSERT_FALSE(p->warnings.empty());
  bool mentioned = false;
  for (const std::string& w : p->warnings) {
    if (w.find("max_age") != std::string::npos) mentioned = true;
  }
  EXPECT_TRUE(mentioned) << p->warnings.front();
}

// A body at the 64 KiB limit made of ignored extension lines still parses.
TEST(PolicySizeTest, LargeBodyWithExtensions) {
  std::string body = "version: STSv1\nmode: testing\nmx: mx.example.com\nmax_age: 86400\n";
  while (body.size() + 32 < kMaxPolicyBytes) body += "x-filler: aaaaaaaaaaaaaaaaaaaa\n";
  Result<Policy> p = ParsePolicy(body);
  ASSERT_TRUE(p) << p.error().detail;
  EXPECT_EQ(p->mode, Mode::kTesting);
  EXPECT_EQ(p->mx, std::vector<std::string>{"mx.example.com"});
}

// ---- Mode names ------------------------------------------------------------------

TEST(ModeTest, NamesRoundTrip) {
  for (Mode m : {Mode::kNone, Mode::kTesting, Mode::kEnforce}) {
    std::optional<Mode> parsed = ParseMode(ModeName(m));
    ASSERT_TRUE(parsed.has_value()) << ModeName(m);
    EXPECT_EQ(*parsed, m);
  }
  EXPECT_EQ(ModeName(Mode::kNone), "none");
  EXPECT_EQ(ModeName(Mode::kTesting), "testing");
  EXPECT_EQ(ModeName(Mode::kEnforce), "enforce");
}

TEST(ModeTest, ParseIsExact) {
  for (std::string_view bad :
       {"", "Enforce", "ENFORCE", "Testing", "None", " enforce", "enforce ", "enforced", "test", "off"}) {
    EXPECT_FALSE(ParseMode(bad).has_value()) << '"' << bad << '"';
  }
}

TEST(ModeTest, OrderedByStrength) {
  EXPECT_LT(Mode::kNone, Mode::kTesting);
  EXPECT_LT(Mode::kTesting, Mode::kEnforce);
}

}  // namespace
}  // namespace mxsec::mtasts
