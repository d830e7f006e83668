// Tests for the _mta-sts TXT record parser (RFC 8461 3.1): ParseRecord and
// SelectRecord, table-driven from the ABNF
//
//   sts-text-record = sts-version 1*(sts-sep sts-field) [sts-sep]
//   sts-field       = sts-id / sts-extension
//   sts-version     = %s"v=STSv1"
//   sts-sep         = *WSP %x3B *WSP
//   sts-id          = %s"id=" 1*32(ALPHA / DIGIT)
//   sts-extension   = sts-ext-name "=" sts-ext-value
//   sts-ext-name    = (ALPHA / DIGIT) *31(ALPHA / DIGIT / "_" / "-" / ".")
//   sts-ext-value   = 1*(%x21-3A / %x3C / %x3E-7E)

#include <gtest/gtest.h>

#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/base.h"
#include "mtasts/mtasts.h"
#include "testing/table.h"

namespace mxsec::mtasts {
namespace {

using test::CaseName;

using namespace std::string_literals;
using Extensions = std::vector<std::pair<std::string, std::string>>;

using test::DetailMatches;

const std::string k32 = "abcdefghijABCDEFGHIJ0123456789xy";  // 32 ALPHA/DIGIT
const std::string k33 = k32 + "z";
// A 32-character extension name (1 + 31) and a 33-character one.
const std::string kName32 = "e" + std::string(31, 'x');
const std::string kName33 = kName32 + "x";
// Every character sts-ext-value allows: %x21-3A / %x3C / %x3E-7E.
std::string AllExtValueChars() {
  std::string s;
  for (int c = 0x21; c <= 0x7E; ++c) {
    if (c != 0x3B && c != 0x3D) s.push_back(static_cast<char>(c));
  }
  return s;
}

// ---- ParseRecord: good ---------------------------------------------------------

struct GoodRecordCase {
  const char* name;
  std::string input;
  std::string id;
  Extensions extensions;
};

void PrintTo(const GoodRecordCase& c, std::ostream* os) { *os << c.name << " \"" << c.input << '"'; }

const GoodRecordCase kGoodRecords[] = {
    {"RfcExample", "v=STSv1; id=20160831085700Z;", "20160831085700Z", {}},
    {"NoSpaces", "v=STSv1;id=abc", "abc", {}},
    {"OneSpace", "v=STSv1; id=abc", "abc", {}},
    {"SeveralSpacesAfterSep", "v=STSv1;   id=abc", "abc", {}},
    {"TabAfterSep", "v=STSv1;\tid=abc", "abc", {}},
    {"SpaceBeforeSep", "v=STSv1 ;id=abc", "abc", {}},
    {"SpaceAroundSep", "v=STSv1 ; id=x", "x", {}},
    {"MixedWspAroundSep", "v=STSv1 \t;\t id=abc", "abc", {}},
    {"TrailingSep", "v=STSv1; id=abc;", "abc", {}},
    {"TrailingSepAndSpace", "v=STSv1; id=abc; ", "abc", {}},
    {"TrailingSpaceSep", "v=STSv1; id=abc ;", "abc", {}},
    {"TrailingSepAndTab", "v=STSv1; id=abc;\t", "abc", {}},
    {"IdOneChar", "v=STSv1; id=x", "x", {}},
    {"Id32Chars", "v=STSv1; id=" + k32, k32, {}},
    {"IdMixedCaseKept", "v=STSv1; id=AbC123xYz", "AbC123xYz", {}},
    {"IdDigitsOnly", "v=STSv1; id=0000", "0000", {}},
    {"ExtensionAfterId", "v=STSv1; id=abc; ext=value", "abc", {{"ext", "value"}}},
    {"ExtensionBeforeId", "v=STSv1; ext=value; id=abc", "abc", {{"ext", "value"}}},
    {"ExtensionsInOrder", "v=STSv1; b=2; id=abc; a=1; c=3;", "abc", {{"b", "2"}, {"a", "1"}, {"c", "3"}}},
    {"RepeatedExtensionKept", "v=STSv1; id=abc; x=1; x=2", "abc", {{"x", "1"}, {"x", "2"}}},
    {"ExtNamePunctuation", "v=STSv1; id=abc; a_b-c.d=v", "abc", {{"a_b-c.d", "v"}}},
    {"ExtNameStartsWithDigit", "v=STSv1; id=abc; 1ext=v", "abc", {{"1ext", "v"}}},
    {"ExtNameOneChar", "v=STSv1; id=abc; e=v", "abc", {{"e", "v"}}},
    {"ExtName32Chars", "v=STSv1; id=abc; " + kName32 + "=v", "abc", {{kName32, "v"}}},
    {"ExtNameEndsWithDot", "v=STSv1; id=abc; ext.=v", "abc", {{"ext.", "v"}}},
    {"ExtValueAllAllowedChars", "v=STSv1; id=abc; ext=" + AllExtValueChars(), "abc", {{"ext", AllExtValueChars()}}},
    {"ExtValueWithColon", "v=STSv1; id=abc; ext=a:b", "abc", {{"ext", "a:b"}}},
    {"ExtValueOneChar", "v=STSv1; id=abc; ext=!", "abc", {{"ext", "!"}}},
    // %s"id=" is case-sensitive: "ID=" is an extension, not a second id.
    {"UpperCaseIdIsExtension", "v=STSv1; id=abc; ID=def", "abc", {{"ID", "def"}}},
    {"ExtNamedIdLikePrefix", "v=STSv1; idx=1; id=abc", "abc", {{"idx", "1"}}},
    {"ExtValueLooksLikeId", "v=STSv1; id=abc; ref=id", "abc", {{"ref", "id"}}},
};

class GoodRecordTest : public testing::TestWithParam<GoodRecordCase> {};

TEST_P(GoodRecordTest, ParsesFields) {
  const GoodRecordCase& c = GetParam();
  Result<Record> r = ParseRecord(c.input);
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->version, "STSv1");
  EXPECT_EQ(r->id, c.id);
  EXPECT_EQ(r->extensions, c.extensions);
}

INSTANTIATE_TEST_SUITE_P(Rfc8461, GoodRecordTest, testing::ValuesIn(kGoodRecords), CaseName());

// ---- ParseRecord: bad ----------------------------------------------------------

struct BadRecordCase {
  const char* name;
  std::string input;
  const char* detail;  // see DetailMatches
};

void PrintTo(const BadRecordCase& c, std::ostream* os) { *os << c.name << " \"" << c.input << '"'; }

const BadRecordCase kBadRecords[] = {
    {"Empty", "", "version|v=STSv1"},
    {"VersionOnly", "v=STSv1", "id|field"},
    {"VersionAndSep", "v=STSv1;", "id|field"},
    {"VersionSepSpace", "v=STSv1; ", "id|field"},
    {"UpperCaseV", "V=STSv1; id=abc", "version|v=STSv1"},
    {"LowerCaseVersion", "v=stsv1; id=abc", "version|v=STSv1"},
    {"VersionTwo", "v=STSv2; id=abc", "version|v=STSv1"},
    {"VersionSuffix", "v=STSv1x; id=abc", "version|v=STSv1|sep|offset"},
    {"VersionTen", "v=STSv10; id=abc", "version|v=STSv1|sep|offset"},
    {"LeadingSpace", " v=STSv1; id=abc", "version|v=STSv1"},
    {"LeadingTab", "\tv=STSv1; id=abc", "version|v=STSv1"},
    {"SpacesAroundVersionEquals", "v = STSv1; id=abc", "version|v=STSv1"},
    {"VersionNotFirst", "id=abc; v=STSv1", "version|v=STSv1"},
    {"NoSepAfterVersion", "v=STSv1 id=abc", "sep|offset|;"},
    {"EmptyFieldBetweenSeps", "v=STSv1;;id=abc", "field|empty|offset"},
    {"EmptyFieldWithSpaces", "v=STSv1 ; ; id=abc", "field|empty|offset"},
    {"DoubleTrailingSep", "v=STSv1; id=abc;;", "field|empty|offset"},
    {"TrailingSepSpaceSep", "v=STSv1; id=abc; ;", "field|empty|offset"},
    {"NoId", "v=STSv1; ext=value", "id"},
    {"UpperCaseIdOnly", "v=STSv1; ID=abc", "id"},
    {"DuplicateId", "v=STSv1; id=abc; id=def", "duplicate&id"},
    {"DuplicateSameId", "v=STSv1; id=abc; id=abc", "duplicate&id"},
    {"IdEmpty", "v=STSv1; id=", "id"},
    {"IdEmptyThenSep", "v=STSv1; id=;", "id"},
    {"Id33Chars", "v=STSv1; id=" + k33, "id"},
    {"IdHyphen", "v=STSv1; id=abc-def", "id"},
    {"IdUnderscore", "v=STSv1; id=abc_def", "id"},
    {"IdDot", "v=STSv1; id=2016.08.31", "id"},
    {"IdInnerSpace", "v=STSv1; id=abc def", "id|sep|offset"},
    {"IdNonAscii", "v=STSv1; id=\u00e4bc", "id"},
    {"IdWithEquals", "v=STSv1; id=a=b", "id"},
    {"ExtNameUnderscoreFirst", "v=STSv1; id=abc; _ext=v", "extension|name|offset"},
    {"ExtNameHyphenFirst", "v=STSv1; id=abc; -ext=v", "extension|name|offset"},
    {"ExtNameDotFirst", "v=STSv1; id=abc; .ext=v", "extension|name|offset"},
    {"ExtName33Chars", "v=STSv1; id=abc; " + kName33 + "=v", "extension|name|offset"},
    {"ExtNameEmpty", "v=STSv1; id=abc; =v", "extension|name|field|offset"},
    {"ExtNameSlash", "v=STSv1; id=abc; a/b=v", "extension|name|offset"},
    {"ExtNameNonAscii", "v=STSv1; id=abc; \xC3\xABxt=v", "extension|name|offset"},
    {"ExtWithoutEquals", "v=STSv1; id=abc; ext", "extension|=|offset"},
    {"ExtValueEmpty", "v=STSv1; id=abc; ext=", "extension|value|offset"},
    {"ExtValueEmptyThenSep", "v=STSv1; id=abc; ext=;", "extension|value|offset"},
    {"ExtValueWithEquals", "v=STSv1; id=abc; ext=a=b", "extension|value|offset"},
    {"ExtValueWithSpace", "v=STSv1; id=abc; ext=a b", "extension|value|sep|offset"},
    {"ExtValueWithTab", "v=STSv1; id=abc; ext=a\tb", "extension|value|sep|offset"},
    {"ExtValueNonAscii", "v=STSv1; id=abc; ext=v\xC3\xA4", "extension|value|offset"},
    {"ExtValueDel", "v=STSv1; id=abc; ext=a\x7F", "extension|value|offset"},
    {"TrailingNewline", "v=STSv1; id=abc\n", "offset|sep|id"},
    {"TrailingCr", "v=STSv1; id=abc;\r", "offset|field|sep"},
    {"EmbeddedNul", "v=STSv1; id=abc\0;"s, "offset|sep|id"},
    {"NonAsciiAfterSep", "v=STSv1; id=abc; \xC2\xA0", "offset|field|extension|name"},
    {"NonBreakingSpaceAsWsp", "v=STSv1;\xC2\xA0id=abc", "offset|field|extension|name|id"},
};

class BadRecordTest : public testing::TestWithParam<BadRecordCase> {};

TEST_P(BadRecordTest, IsSyntaxError) {
  const BadRecordCase& c = GetParam();
  Result<Record> r = ParseRecord(c.input);
  ASSERT_FALSE(r) << "parsed id=" << r->id;
  EXPECT_EQ(r.error().code, Code::kSyntax) << CodeName(r.error().code);
  EXPECT_TRUE(DetailMatches(r.error().detail, c.detail)) << "detail \"" << r.error().detail << "\" lacks " << c.detail;
}

INSTANTIATE_TEST_SUITE_P(Rfc8461, BadRecordTest, testing::ValuesIn(kBadRecords), CaseName());

// ---- SelectRecord -----------------------------------------------------------------

struct SelectCase {
  const char* name;
  std::vector<std::string> records;
  bool ok;
  std::string id;      // when ok
  Code code;           // when !ok
  const char* detail;  // when !ok; see DetailMatches ("" for any)
};

void PrintTo(const SelectCase& c, std::ostream* os) {
  *os << c.name << " {";
  for (const std::string& r : c.records) *os << " \"" << r << '"';
  *os << " }";
}

const SelectCase kSelectCases[] = {
    {"Single", {"v=STSv1; id=abc;"}, true, "abc", Code::kSyntax, ""},
    {"SingleNoSpace", {"v=STSv1;id=abc"}, true, "abc", Code::kSyntax, ""},
    {"SkipsSpf", {"v=spf1 -all", "v=STSv1; id=abc"}, true, "abc", Code::kSyntax, ""},
    {"SkipsSeveralOthers",
     {"google-site-verification=xyz", "v=STSv1; id=def;", "v=spf1 mx -all"},
     true,
     "def",
     Code::kSyntax,
     ""},
    {"SkipsEmptyString", {"", "v=STSv1; id=abc"}, true, "abc", Code::kSyntax, ""},
    {"SkipsSpaceBeforeSep", {"v=STSv1 ; id=x", "v=STSv1; id=y"}, true, "y", Code::kSyntax, ""},
    {"KeepsExtensions", {"v=STSv1; id=abc; ext=1"}, true, "abc", Code::kSyntax, ""},
    {"NoRecords", {}, false, "", Code::kNotFound, ""},
    {"OnlySpf", {"v=spf1 -all"}, false, "", Code::kNotFound, ""},
    {"OnlyEmpty", {""}, false, "", Code::kNotFound, ""},
    {"SpaceBeforeSepDiscarded", {"v=STSv1 ; id=x"}, false, "", Code::kNotFound, ""},
    {"VersionWithoutSepDiscarded", {"v=STSv1"}, false, "", Code::kNotFound, ""},
    {"UpperCaseVDiscarded", {"V=STSv1; id=abc"}, false, "", Code::kNotFound, ""},
    {"LowerCaseVersionDiscarded", {"v=stsv1; id=abc"}, false, "", Code::kNotFound, ""},
    {"VersionTenDiscarded", {"v=STSv10; id=abc"}, false, "", Code::kNotFound, ""},
    {"LeadingSpaceDiscarded", {" v=STSv1; id=abc"}, false, "", Code::kNotFound, ""},
    {"TwoRecords", {"v=STSv1; id=a", "v=STSv1; id=b"}, false, "", Code::kSyntax, "records"},
    {"TwoIdenticalRecords", {"v=STSv1; id=a", "v=STSv1; id=a"}, false, "", Code::kSyntax, "records"},
    {"TwoRecordsOneInvalid", {"v=STSv1; id=a", "v=STSv1; bad"}, false, "", Code::kSyntax, "records"},
    {"ThreeRecordsAmongOthers",
     {"v=spf1 -all", "v=STSv1; id=a", "v=STSv1; id=b", "v=STSv1; id=c"},
     false,
     "",
     Code::kSyntax,
     "records"},
    {"OneInvalidId", {"v=STSv1; id=bad-id"}, false, "", Code::kSyntax, "id"},
    {"OneWithoutId", {"v=STSv1;"}, false, "", Code::kSyntax, "id|field"},
    {"OneInvalidAmongOthers", {"v=spf1 -all", "v=STSv1; id=a; id=b"}, false, "", Code::kSyntax, "id"},
    {"OneWithEmptyField", {"v=STSv1;;id=a"}, false, "", Code::kSyntax, ""},
};

class SelectRecordTest : public testing::TestWithParam<SelectCase> {};

TEST_P(SelectRecordTest, Selects) {
  const SelectCase& c = GetParam();
  Result<Record> r = SelectRecord(c.records);
  if (c.ok) {
    ASSERT_TRUE(r) << CodeName(r.error().code) << ": " << r.error().detail;
    EXPECT_EQ(r->version, "STSv1");
    EXPECT_EQ(r->id, c.id);
  } else {
    ASSERT_FALSE(r) << "selected id=" << r->id;
    EXPECT_EQ(r.error().code, c.code) << CodeName(r.error().code) << ": " << r.error().detail;
    EXPECT_TRUE(DetailMatches(r.error().detail, c.detail))
        << "detail \"" << r.error().detail << "\" lacks " << c.detail;
  }
}

INSTANTIATE_TEST_SUITE_P(Rfc8461, SelectRecordTest, testing::ValuesIn(kSelectCases), CaseName());

TEST(SelectRecordTest, ReturnsExtensionsOfSelectedRecord) {
  Result<Record> r = SelectRecord({"v=spf1 -all", "v=STSv1; id=abc; ext=1; other=x"});
  ASSERT_TRUE(r) << r.error().detail;
  EXPECT_EQ(r->extensions, (Extensions{{"ext", "1"}, {"other", "x"}}));
}

TEST(SelectRecordTest, AgreesWithParseRecord) {
  const std::string text = "v=STSv1; id=20160831085700Z; ext=v";
  Result<Record> selected = SelectRecord({text});
  Result<Record> parsed = ParseRecord(text);
  ASSERT_TRUE(selected);
  ASSERT_TRUE(parsed);
  EXPECT_EQ(selected->id, parsed->id);
  EXPECT_EQ(selected->extensions, parsed->extensions);
}

// ---- Phases and TLSRPT result types ----------------------------------------------

TEST(PhaseTest, TlsrptResultType) {
  EXPECT_EQ(TlsrptResultType(Phase::kDns), "sts-policy-fetch-error");
  EXPECT_EQ(TlsrptResultType(Phase::kConnect), "sts-policy-fetch-error");
  EXPECT_EQ(TlsrptResultType(Phase::kHttp), "sts-policy-fetch-error");
  EXPECT_EQ(TlsrptResultType(Phase::kRecord), "sts-policy-invalid");
  EXPECT_EQ(TlsrptResultType(Phase::kPolicy), "sts-policy-invalid");
  EXPECT_EQ(TlsrptResultType(Phase::kTls), "sts-webpki-invalid");
}

TEST(PhaseTest, Names) {
  EXPECT_EQ(PhaseName(Phase::kDns), "dns");
  EXPECT_EQ(PhaseName(Phase::kRecord), "record");
  const Phase all[] = {Phase::kDns, Phase::kRecord, Phase::kConnect, Phase::kTls, Phase::kHttp, Phase::kPolicy};
  for (Phase a : all) {
    EXPECT_FALSE(PhaseName(a).empty());
    for (Phase b : all) {
      if (a != b) {
        EXPECT_NE(PhaseName(a), PhaseName(b));
      }
    }
  }
}

TEST(PhaseTest, StsErrorMessage) {
  StsError e{Phase::kRecord, Error{Code::kSyntax, "duplicate id at offset 17"}};
  EXPECT_EQ(e.Message(), "record: duplicate id at offset 17");
}

}  // namespace
}  // namespace mxsec::mtasts
