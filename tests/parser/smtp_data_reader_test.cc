#include "parser/smtp_data_reader.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

// Feeds `input` in pieces of `chunk` bytes; returns the bytes consumed in all.
size_t FeedInChunks(SmtpDataReader& reader, std::string_view input, size_t chunk) {
  size_t used = 0;
  while (used < input.size() && !reader.done()) {
    used += reader.Consume(input.substr(used, chunk));
  }
  return used;
}

TEST(SmtpDataReader, EndsAtCrLfDotCrLfAndKeepsTheLastCrLf) {
  SmtpDataReader reader(1 << 20);
  std::string input = "Subject: hi\r\n\r\nbody\r\n.\r\nQUIT\r\n";
  size_t used = reader.Consume(input);
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(input.substr(used), "QUIT\r\n");
  EXPECT_EQ(reader.message(), "Subject: hi\r\n\r\nbody\r\n");
}

TEST(SmtpDataReader, EmptyMessageIsJustTheDot) {
  SmtpDataReader reader(100);
  EXPECT_EQ(reader.Consume(".\r\n"), 3u);
  EXPECT_TRUE(reader.done());
  EXPECT_EQ(reader.message(), "");
}

TEST(SmtpDataReader, LeadingDotsAreUnstuffed) {
  // RFC 5321 4.5.2: the client doubles a leading dot; the server removes one.
  SmtpDataReader reader(1000);
  reader.Consume("..hidden\r\n...two\r\n.\r\n");
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(reader.message(), ".hidden\r\n..two\r\n");
}

TEST(SmtpDataReader, BareLfDotDoesNotEndData) {
  // SMTP smuggling: "\n.\n" and "\r\n.\n" must not end the message.
  SmtpDataReader reader(1000);
  reader.Consume("one\n.\ntwo\r\n.\nthree\r.\r\nfour\r\n");
  EXPECT_FALSE(reader.done());
  reader.Consume(".\r\n");
  ASSERT_TRUE(reader.done());
  EXPECT_NE(reader.message().find("three"), std::string::npos);
  EXPECT_NE(reader.message().find("four"), std::string::npos);
}

TEST(SmtpDataReader, TerminatorSplitAcrossEveryChunkBoundary) {
  std::string input = "line\r\n..dot\r\nend\r\n.\r\nNOOP\r\n";
  for (size_t chunk = 1; chunk <= input.size(); ++chunk) {
    SmtpDataReader reader(1000);
    size_t used = FeedInChunks(reader, input, chunk);
    ASSERT_TRUE(reader.done()) << "chunk " << chunk;
    EXPECT_EQ(reader.message(), "line\r\n.dot\r\nend\r\n") << "chunk " << chunk;
    EXPECT_EQ(input.substr(used), "NOOP\r\n") << "chunk " << chunk;
  }
}

TEST(SmtpDataReader, OversizedMessageIsReadToTheEndButNotKept) {
  SmtpDataReader reader(10);
  std::string body(5000, 'x');
  reader.Consume("Subject: big\r\n\r\n" + body + "\r\n.\r\n");
  ASSERT_TRUE(reader.done());
  EXPECT_TRUE(reader.oversized());
  EXPECT_EQ(reader.message(), "");
  EXPECT_EQ(reader.total_bytes(), 16 + body.size() + 2);
}

TEST(SmtpDataReader, DotCrWithoutLfKeepsTheCr) {
  SmtpDataReader reader(100);
  reader.Consume(".\rx\r\n.\r\n");
  ASSERT_TRUE(reader.done());
  EXPECT_EQ(reader.message(), "\rx\r\n");
}

TEST(SmtpDataReader, MessagesUpToSevenKiBLeaveRoomForTheTraceHeader) {
  // The session inserts its Received: header in front of the message in place; a typical
  // message must not be copied for it.
  for (size_t size : {size_t{10}, size_t{2048}, size_t{7 * 1024 - 2}}) {
    SmtpDataReader reader(25 * 1024 * 1024);
    // Fed in small pieces, as a socket delivers them.
    std::string data = std::string(size, 'x') + "\r\n.\r\n";
    for (size_t i = 0; i < data.size() && !reader.done(); i += 100) {
      reader.Consume(std::string_view(data).substr(i, 100));
    }
    ASSERT_TRUE(reader.done());
    ASSERT_EQ(reader.message().size(), size + 2);
    EXPECT_GE(reader.message().capacity() - reader.message().size(), SmtpDataReader::kHeadroom)
        << size;
  }
}

}  // namespace
}  // namespace postdesk
