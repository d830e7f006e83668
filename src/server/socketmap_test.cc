#include <gtest/gtest.h>

#include "server/server.h"
#include "testing/table.h"

namespace mxsec::server {
namespace {

TEST(NetstringReaderTest, SplitsPipelinedAndFragmentedInput) {
  NetstringReader reader(1024);
  reader.Feed("19:postfix example.com,5:he");
  auto first = reader.Next();
  ASSERT_TRUE(first.has_value());
  EXPECT_EQ(*first, "postfix example.com");
  EXPECT_FALSE(reader.Next().has_value());  // "5:he" is incomplete
  reader.Feed("llo,0:,");
  EXPECT_EQ(reader.Next().value_or("?"), "hello");
  EXPECT_EQ(reader.Next().value_or("?"), "");
  EXPECT_FALSE(reader.Next().has_value());
  EXPECT_FALSE(reader.error().has_value());
  EXPECT_EQ(reader.buffered(), 0u);
}

TEST(NetstringReaderTest, ByteByByte) {
  NetstringReader reader(1024);
  const std::string wire = EncodeNetstring("postfix a.example") + EncodeNetstring("postfix b.example");
  std::vector<std::string> got;
  for (char c : wire) {
    reader.Feed(std::string_view(&c, 1));
    while (auto payload = reader.Next()) got.push_back(*payload);
  }
  EXPECT_EQ(got, (std::vector<std::string>{"postfix a.example", "postfix b.example"}));
}

struct BadCase {
  std::string name;
  std::string input;
  std::string detail;
};

class NetstringBadTest : public testing::TestWithParam<BadCase> {};

TEST_P(NetstringBadTest, IsAStickyError) {
  NetstringReader reader(1024);
  reader.Feed(GetParam().input);
  EXPECT_FALSE(reader.Next().has_value());
  ASSERT_TRUE(reader.error().has_value());
  EXPECT_TRUE(test::DetailMatches(*reader.error(), GetParam().detail)) << *reader.error();
  reader.Feed("5:hello,");
  EXPECT_FALSE(reader.Next().has_value());  // still broken
}

const BadCase kBad[] = {
    {"NoLength", ":abc,", "without a length"},
    {"Letters", "abc", "non-digit"},
    {"NegativeLength", "-1:a,", "non-digit"},
    {"LeadingZero", "05:hello,", "leading zero"},
    {"MissingComma", "5:hello;", "terminated"},
    {"TooLong", "1025:", "limit"},
    {"TooManyDigits", "00000000000", "limit|leading zero"},
    {"HugeWithoutColon", "99999", "limit"},
    {"SpaceInLength", "5 :hello,", "non-digit"},
};
INSTANTIATE_TEST_SUITE_P(Socketmap, NetstringBadTest, testing::ValuesIn(kBad), test::CaseName());

TEST(SocketmapRequestTest, ParsesNameAndDomain) {
  struct {
    std::string payload, map, domain;
  } cases[] = {
      {"postfix Example.COM", "postfix", "example.com"},
      {"postfix example.com.", "postfix", "example.com"},
      {"strict mx.example.com:25", "strict", "mx.example.com"},
      {"postfix [mx.example.com]:587", "postfix", "mx.example.com"},
      {"postfix [192.0.2.1]", "postfix", ""},
      {"postfix 192.0.2.1", "postfix", ""},
      {"postfix [2001:db8::1]", "postfix", ""},
      {"postfix .example.com", "postfix", ""},
      {"postfix bad_name.example", "postfix", ""},
  };
  for (const auto& c : cases) {
    auto request = ParseSocketmapRequest(c.payload);
    ASSERT_TRUE(request.has_value()) << c.payload;
    EXPECT_EQ(request->map, c.map) << c.payload;
    EXPECT_EQ(request->domain, c.domain) << c.payload;
  }
  for (std::string bad : std::vector<std::string>{"", "postfix", " example.com", "postfix a\x01.example"}) {
    EXPECT_FALSE(ParseSocketmapRequest(bad).has_value()) << bad;
  }
}

policy::StsAnswer Answer(std::string mode, std::vector<std::string> mx) {
  policy::StsAnswer answer;
  answer.domain = "example.com";
  answer.source = policy::Source::kCache;
  store::CacheEntry entry;
  entry.mode = std::move(mode);
  entry.mx = std::move(mx);
  entry.max_age = 86400;
  answer.entry = entry;
  return answer;
}

TEST(SocketmapAnswerTest, LikePostfixMtaStsResolver) {
  ZoneSettings zone;
  ZoneSettings strict{.strict_testing = true, .require_sni = true};
  ZoneSettings no_sni{.strict_testing = false, .require_sni = false};
  auto enforce = Answer("enforce", {"mx.example.com", "*.example.net", "mx.example.com"});
  EXPECT_EQ(SocketmapAnswer(enforce, false, zone), "OK secure match=mx.example.com:.example.net servername=hostname");
  EXPECT_EQ(SocketmapAnswer(enforce, false, no_sni), "OK secure match=mx.example.com:.example.net");
  auto testing = Answer("testing", {"mx.example.com"});
  EXPECT_EQ(SocketmapAnswer(testing, false, zone), "NOTFOUND ");
  EXPECT_EQ(SocketmapAnswer(testing, false, strict), "OK secure match=mx.example.com servername=hostname");
  EXPECT_EQ(SocketmapAnswer(Answer("none", {}), false, strict), "NOTFOUND ");
  EXPECT_EQ(SocketmapAnswer(policy::StsAnswer{}, false, zone), "NOTFOUND ");
  // RFC 8461 2: DANE wins over MTA-STS.
  EXPECT_EQ(SocketmapAnswer(enforce, true, zone), "OK dane-only");
  EXPECT_EQ(SocketmapAnswer(policy::StsAnswer{}, true, zone), "OK dane-only");
}

TEST(SocketmapAnswerTest, TlsrptAttributesOfPostfix310) {
  ZoneSettings zone{.strict_testing = false, .require_sni = true, .tlsrpt = true};
  auto enforce = Answer("enforce", {"mx.example.com", "*.example.net", "mx.example.com"});
  const std::string served = "version: STSv1\r\nmode: enforce\r\nmx: mx.example.com\r\nmx:  *.example.net \r\n"
                             "mx: mx.example.com\r\nmax_age:\t86400\r\next: a { b }\r\nnote: caf\xc3\xa9\r\nnote2: two words\r\n";
  const std::string head =
      "OK secure match=mx.example.com:.example.net servername=hostname policy_type=sts policy_domain=example.com "
      "mx_host_pattern=mx.example.com mx_host_pattern=*.example.net";
  // The policy as served, one policy_string per line as "key: value"; a
  // line with braces or non-ASCII bytes cannot be protected by Postfix's
  // { } and is left out.
  EXPECT_EQ(SocketmapAnswer(enforce, false, zone, served),
            head +
                " { policy_string = version: STSv1 } { policy_string = mode: enforce }"
                " { policy_string = mx: mx.example.com } { policy_string = mx: *.example.net }"
                " { policy_string = mx: mx.example.com } { policy_string = max_age: 86400 }"
                " { policy_string = note2: two words }");
  // No text, or a text that is not this entry's policy: the entry written out.
  const std::string rewritten =
      head +
      " { policy_string = version: STSv1 } { policy_string = mode: enforce }"
      " { policy_string = mx: mx.example.com } { policy_string = mx: *.example.net }"
      " { policy_string = mx: mx.example.com } { policy_string = max_age: 86400 }";
  EXPECT_EQ(SocketmapAnswer(enforce, false, zone), rewritten);
  EXPECT_EQ(SocketmapAnswer(enforce, false, zone, "version: STSv1\nmode: enforce\nmx: other.example\nmax_age: 5\n"),
            rewritten);
  EXPECT_EQ(SocketmapAnswer(enforce, false, zone, "not a policy"), rewritten);
  // Strict testing is reported with its real mode.
  ZoneSettings strict = zone;
  strict.strict_testing = true;
  EXPECT_EQ(SocketmapAnswer(Answer("testing", {"mx.example.com"}), false, strict),
            "OK secure match=mx.example.com servername=hostname policy_type=sts policy_domain=example.com "
            "mx_host_pattern=mx.example.com { policy_string = version: STSv1 } { policy_string = mode: testing }"
            " { policy_string = mx: mx.example.com } { policy_string = max_age: 86400 }");
  // Only "OK secure" answers carry attributes.
  EXPECT_EQ(SocketmapAnswer(Answer("testing", {"mx.example.com"}), false, zone), "NOTFOUND ");
  EXPECT_EQ(SocketmapAnswer(policy::StsAnswer{}, false, zone), "NOTFOUND ");
  EXPECT_EQ(SocketmapAnswer(enforce, true, zone), "OK dane-only");
  // Off (the default), the answer is what Postfix before 3.10 accepts.
  EXPECT_EQ(SocketmapAnswer(enforce, false, ZoneSettings{}, served),
            "OK secure match=mx.example.com:.example.net servername=hostname");
}

TEST(EximAnswerTest, SameAsThePerlScript) {
  auto enforce = Answer("enforce", {"mx.example.com", "*.example.net"});
  EXPECT_EQ(EximAnswer(enforce, "mode", ""), "enforce");
  EXPECT_EQ(EximAnswer(enforce, "valid-mx", "MX.example.com."), "");
  EXPECT_EQ(EximAnswer(enforce, "valid-mx", "a.example.net"), "");
  EXPECT_EQ(EximAnswer(enforce, "valid-mx", "a.b.example.net"), "do_not_connect:no_match");
  EXPECT_EQ(EximAnswer(enforce, "mx-list", ""), "mx.example.com:*.example.net");
  EXPECT_EQ(EximAnswer(policy::StsAnswer{}, "mode", ""), "none");
  EXPECT_EQ(EximAnswer(policy::StsAnswer{}, "valid-mx", "any.example"), "");
  EXPECT_EQ(EximAnswer(policy::StsAnswer{}, "mx-list", ""), "");
}

}  // namespace
}  // namespace mxsec::server
