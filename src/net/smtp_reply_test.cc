// The SMTP reply line grammar (RFC 5321 4.2).
#include <gtest/gtest.h>

#include "net/net.h"

namespace mxsec::net {
namespace {

TEST(ParseReplyLine, AcceptsReplyLines) {
  auto last = ParseReplyLine("220 mx.example.com ESMTP");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->code, 220);
  EXPECT_TRUE(last->last);
  EXPECT_EQ(last->text, "mx.example.com ESMTP");

  auto more = ParseReplyLine("250-STARTTLS");
  ASSERT_TRUE(more);
  EXPECT_EQ(more->code, 250);
  EXPECT_FALSE(more->last);
  EXPECT_EQ(more->text, "STARTTLS");

  auto bare = ParseReplyLine("250");
  ASSERT_TRUE(bare);
  EXPECT_TRUE(bare->last);
  EXPECT_EQ(bare->text, "");
}

TEST(ParseReplyLine, RefusesEverythingElse) {
  for (const char* line : {"", "22", "2x0 hello", "220hello", "220_x", "\x16\x03\x01garbage", "HTTP/1.1 400"}) {
    EXPECT_FALSE(ParseReplyLine(line)) << line;
  }
}

}  // namespace
}  // namespace mxsec::net
