// BDAT (RFC 3030 CHUNKING) in the session: chunks make one message, a refused chunk's octets
// are skipped rather than read as commands, and the DATA size limit holds over all chunks.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "gateway/smtp_session.h"
#include "tests/gateway/smtp_session_fixture.h"

namespace postdesk {
namespace {

using State = SmtpSession::State;

class SmtpSessionChunkingTest : public SmtpSessionTest {
 protected:
  // One BDAT command with its octets, in one read; returns the replies.
  std::vector<std::string> Bdat(const std::string& octets, bool last = false) {
    session_.OnBytes("BDAT " + std::to_string(octets.size()) + (last ? " LAST" : "") + "\r\n" +
                     octets);
    return transport_.TakeLines();
  }
  // The delivered message without our Received: header (which ends at its first CRLF not
  // followed by a tab).
  std::string DeliveredBody(size_t i = 0) {
    const std::string& message = transport_.delivered.at(i).message;
    size_t end = 0;
    while ((end = message.find("\r\n", end)) != std::string::npos && message[end + 2] == '\t') {
      end += 2;
    }
    return message.substr(end + 2);
  }
};

TEST_F(SmtpSessionChunkingTest, ChunksMakeOneMessageStoredAfterTheLast) {
  StartTransaction();
  EXPECT_EQ(Bdat("Subject: chunked\r\n"),
            std::vector<std::string>{"250 2.0.0 Ok: 18 octets received"});
  EXPECT_EQ(session_.state(), State::kChunks);
  EXPECT_TRUE(transport_.delivered.empty());
  EXPECT_TRUE(Bdat("\r\nHello in two chunks.\r\n", /*last=*/true).empty());  // storing
  ASSERT_EQ(transport_.delivered.size(), 1u);
  EXPECT_EQ(DeliveredBody(), "Subject: chunked\r\n\r\nHello in two chunks.\r\n");
  EXPECT_EQ(transport_.delivered[0].message.rfind("Received: from client.test", 0), 0u);
  session_.OnDelivered({"250 2.0.0 Ok: ticket 3", "tickets=3"});
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok: ticket 3"});
  EXPECT_EQ(session_.state(), State::kReady);
}

// Length-counted: "\r\n.\r\n" and command lines inside a chunk are data (no SMTP smuggling),
// and a chunk split into single bytes across reads is the same message.
TEST_F(SmtpSessionChunkingTest, ChunkOctetsAreDataWhateverTheyHoldAndHoweverTheyArrive) {
  StartTransaction();
  const std::string octets = "Subject: s\r\n\r\nline\r\n.\r\nMAIL FROM:<evil@x.test>\r\nQUIT\r\n";
  session_.OnBytes("BDAT " + std::to_string(octets.size()) + " last\r\n");
  for (char c : octets) session_.OnBytes(std::string(1, c));
  EXPECT_TRUE(transport_.TakeLines().empty());
  ASSERT_EQ(transport_.delivered.size(), 1u);
  EXPECT_EQ(DeliveredBody(), octets);
  EXPECT_EQ(transport_.closes, 0);
}

TEST_F(SmtpSessionChunkingTest, PipelinedChunksAndAZeroLastEndTheMessage) {
  StartTransaction();
  session_.OnBytes("BDAT 5\r\nHelloBDAT 0 LAST\r\nNOOP\r\n");
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok: 5 octets received"});
  ASSERT_EQ(transport_.delivered.size(), 1u);
  EXPECT_EQ(DeliveredBody(), "Hello");
  session_.OnDelivered({"250 2.0.0 Ok: ticket 4", "tickets=4"});
  EXPECT_EQ(transport_.TakeLines(),
            (std::vector<std::string>{"250 2.0.0 Ok: ticket 4", "250 2.0.0 Ok"}));
}

// RFC 3030 2: the octets follow a refused BDAT too; they are skipped, never run as commands.
TEST_F(SmtpSessionChunkingTest, RefusedChunkIsSkippedNotReadAsCommands) {
  Send("EHLO client.test");
  EXPECT_EQ(Bdat("RSET\r\nQUIT\r\n", /*last=*/true),
            std::vector<std::string>{"503 5.5.1 Error: need MAIL command"});
  EXPECT_EQ(session_.state(), State::kReady);
  EXPECT_EQ(SendOne("MAIL FROM:<ann@customer.test>"), "250 2.1.0 Ok");
  EXPECT_EQ(SendOne("RCPT TO:<nobody@acme.test>").substr(0, 9), "550 5.1.1");
  EXPECT_EQ(Bdat("QUIT\r\n", /*last=*/true),
            std::vector<std::string>{"554 5.5.1 Error: no valid recipients"});
  EXPECT_TRUE(transport_.delivered.empty());
  EXPECT_EQ(transport_.closes, 0);
  FakeTransport fresh;
  SmtpSession greeting(8, "192.0.2.1", TestState(), &fresh);
  greeting.Start();
  greeting.OnBytes("BDAT 6\r\nQUIT\r\n");
  EXPECT_EQ(fresh.TakeLines(), (std::vector<std::string>{"220 mx.postdesk.test ESMTP Postdesk",
                                                         "503 5.5.1 Error: send HELO/EHLO first"}));
}

// Without a size nobody knows where the chunk ends, so the session does not guess.
TEST_F(SmtpSessionChunkingTest, BdatWithoutAValidSizeIsRefusedAndCloses) {
  StartTransaction();
  EXPECT_EQ(Send("BDAT many"),
            std::vector<std::string>{"501 5.5.4 Syntax: BDAT chunk-size [LAST]"});
  EXPECT_EQ(transport_.closes, 1);
  EXPECT_EQ(session_.state(), State::kClosed);
}

TEST_F(SmtpSessionChunkingTest, OnlyBdatRsetNoopAndQuitBetweenChunks) {
  StartTransaction();
  Bdat("Subject: x\r\n");
  EXPECT_EQ(SendOne("DATA"), "503 5.5.1 Error: BDAT transaction in progress");
  EXPECT_EQ(SendOne("RCPT TO:<help@acme.test>"), "503 5.5.1 Error: BDAT transaction in progress");
  EXPECT_EQ(SendOne("MAIL FROM:<b@customer.test>"),
            "503 5.5.1 Error: BDAT transaction in progress");
  EXPECT_EQ(SendOne("NOOP"), "250 2.0.0 Ok");
  EXPECT_EQ(session_.state(), State::kChunks);
  EXPECT_EQ(SendOne("RSET"), "250 2.0.0 Ok");
  EXPECT_EQ(session_.state(), State::kReady);
  EXPECT_TRUE(transport_.delivered.empty());
  // And DATA's transaction takes no BDAT: after the 354 it is message text.
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("BDAT 3 LAST\r\nabc\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  EXPECT_EQ(DeliveredBody(), "BDAT 3 LAST\r\nabc\r\n");
}

// max_message_size is 2 KiB here: the chunk that passes it gets 552 at once, and what the
// client pipelined after it is skipped as a chunk without a transaction.
TEST_F(SmtpSessionChunkingTest, ChunkPastTheSizeLimitGets552AndEndsTheTransaction) {
  StartTransaction();
  EXPECT_EQ(Bdat(std::string(1500, 'a')),
            std::vector<std::string>{"250 2.0.0 Ok: 1500 octets received"});
  EXPECT_EQ(Bdat(std::string(1500, 'b')),
            std::vector<std::string>{"552 5.3.4 Error: message file too big"});
  EXPECT_EQ(Bdat("tail", /*last=*/true),
            std::vector<std::string>{"503 5.5.1 Error: need MAIL command"});
  EXPECT_TRUE(transport_.delivered.empty());
  EXPECT_EQ(session_.state(), State::kReady);
}

// Each chunk's octets have the data deadline, which stress does not shorten; between chunks
// the session waits for a command.
TEST_F(SmtpSessionChunkingTest, ChunkOctetsHaveTheDataTimeout) {
  StartTransaction();
  session_.OnBytes("BDAT 100\r\npartial");
  EXPECT_EQ(session_.state(), State::kChunk);
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(10));
  session_.OnStress();
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(10));
  session_.OnBytes(std::string(93, 'x'));
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok: 100 octets received"});
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(5));
  session_.OnTimeout();
  EXPECT_EQ(transport_.TakeLines(),
            std::vector<std::string>{"421 4.4.2 mx.postdesk.test Error: timeout exceeded"});
  EXPECT_TRUE(transport_.delivered.empty());
}

// RFC 3030 3: a BODY=BINARYMIME message may hold any octet (NUL, bare CR and LF, lines of any
// length) and is stored byte for byte; DATA cannot carry it and gets 503.
TEST_F(SmtpSessionChunkingTest, BinaryMimeBodyTravelsByBdatOnlyAndIsStoredByteForByte) {
  Send("EHLO client.test");
  EXPECT_EQ(SendOne("MAIL FROM:<ann@customer.test> BODY=BINARYMIME"), "250 2.1.0 Ok");
  EXPECT_EQ(SendOne("RCPT TO:<support@acme.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(SendOne("DATA"), "503 5.5.1 Error: BODY=BINARYMIME needs BDAT");
  EXPECT_EQ(session_.state(), State::kRecipients);
  std::string octets =
      "Subject: binary\r\nContent-Type: application/octet-stream\r\n"
      "Content-Transfer-Encoding: binary\r\n\r\n";
  for (int byte = 0; byte < 256; ++byte) octets += static_cast<char>(byte);
  octets += "\r\n.\r\nbare\rcr and bare\nlf" + std::string(1000, 'x');
  EXPECT_TRUE(Bdat(octets, /*last=*/true).empty());
  ASSERT_EQ(transport_.delivered.size(), 1u);
  EXPECT_EQ(DeliveredBody(), octets);
  session_.OnDelivered({"250 2.0.0 Ok: ticket 3", "tickets=3"});
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok: ticket 3"});
  // The next transaction is 8-bit text again, and DATA carries it.
  EXPECT_EQ(SendOne("MAIL FROM:<ann@customer.test> BODY=8BITMIME"), "250 2.1.0 Ok");
  EXPECT_EQ(SendOne("RCPT TO:<support@acme.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(SendOne("DATA"), "354 End data with <CR><LF>.<CR><LF>");
}

TEST_F(SmtpSessionChunkingTest, BodyOtherThanTheThreeKnownIsRefused) {
  Send("EHLO client.test");
  EXPECT_EQ(SendOne("MAIL FROM:<ann@customer.test> BODY=BINARY"),
            "501 5.5.4 Syntax: BODY must be 7BIT, 8BITMIME or BINARYMIME");
  EXPECT_EQ(SendOne("MAIL FROM:<ann@customer.test> body=binarymime"), "250 2.1.0 Ok");
}

}  // namespace
}  // namespace postdesk
