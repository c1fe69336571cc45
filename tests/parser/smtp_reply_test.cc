#include "parser/smtp_reply.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

TEST(SmtpReply, LastAndContinuationLinesAndTheirText) {
  std::optional<SmtpReplyLine> last = ParseSmtpReplyLine("250 2.0.0 Ok: queued");
  ASSERT_TRUE(last);
  EXPECT_EQ(last->code, 250);
  EXPECT_TRUE(last->last);
  EXPECT_EQ(last->text, "2.0.0 Ok: queued");
  std::optional<SmtpReplyLine> more = ParseSmtpReplyLine("250-PIPELINING");
  ASSERT_TRUE(more);
  EXPECT_FALSE(more->last);
  EXPECT_EQ(more->text, "PIPELINING");
  // RFC 5321 4.2.1: the text is optional.
  std::optional<SmtpReplyLine> bare = ParseSmtpReplyLine("354");
  ASSERT_TRUE(bare);
  EXPECT_EQ(bare->code, 354);
  EXPECT_TRUE(bare->last);
  EXPECT_EQ(bare->text, "");
}

TEST(SmtpReply, AnythingElseIsMalformed) {
  for (const char* line : {"", "25", "25a ok", "2500 ok", "250\tok", "ok 250", " 250 ok"}) {
    EXPECT_FALSE(ParseSmtpReplyLine(line)) << line;
  }
}

}  // namespace
}  // namespace postdesk
