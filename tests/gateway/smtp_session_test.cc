#include "gateway/smtp_session.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "tests/gateway/smtp_session_fixture.h"

namespace postdesk {
namespace {

TEST(SmtpSessionGreeting, GreetsWithHostnameAndArmsCommandTimeout) {
  FakeTransport transport;
  SmtpSession session(1, "192.0.2.1", TestState(), &transport);
  session.Start();
  EXPECT_EQ(transport.TakeLines(), std::vector<std::string>{"220 mx.postdesk.test ESMTP Postdesk"});
  EXPECT_EQ(transport.timeout, std::chrono::minutes(5));
}

TEST_F(SmtpSessionTest, EhloAdvertisesTheSevenExtensions) {
  std::vector<std::string> lines = Send("EHLO client.test");
  std::vector<std::string> expected = {
      "250-mx.postdesk.test", "250-PIPELINING", "250-SIZE 2048", "250-8BITMIME",
      "250-CHUNKING",         "250-BINARYMIME", "250-SMTPUTF8",  "250 ENHANCEDSTATUSCODES"};
  EXPECT_EQ(lines, expected);
}

TEST_F(SmtpSessionTest, HeloWorksWithoutExtensions) {
  EXPECT_EQ(SendOne("HELO client.test"), "250 mx.postdesk.test");
  EXPECT_EQ(SendOne("MAIL FROM:<a@b.test>"), "250 2.1.0 Ok");
}

TEST_F(SmtpSessionTest, MailBeforeHeloIsRefused) {
  EXPECT_EQ(SendOne("MAIL FROM:<a@b.test>"), "503 5.5.1 Error: send HELO/EHLO first");
}

TEST_F(SmtpSessionTest, UnknownRecipientGets550AtRcptTime) {
  Send("EHLO client.test");
  SendOne("MAIL FROM:<a@b.test>");
  EXPECT_EQ(SendOne("RCPT TO:<nobody@acme.test>"),
            "550 5.1.1 <nobody@acme.test>: Recipient address rejected: User unknown");
}

TEST_F(SmtpSessionTest, RecipientLookupIsCaseInsensitiveAndTakesPlusTagsAndWildcards) {
  Send("EHLO client.test");
  SendOne("MAIL FROM:<a@b.test>");
  EXPECT_EQ(SendOne("RCPT TO:<SUPPORT@Acme.Test>"), "250 2.1.5 Ok");
  EXPECT_EQ(SendOne("RCPT TO:<help+billing@acme.test>"), "250 2.1.5 Ok");
  EXPECT_EQ(SendOne("RCPT TO:<anything@in.acme.test>"), "250 2.1.5 Ok");
}

TEST_F(SmtpSessionTest, DataWithoutRecipientIsRefused) {
  Send("EHLO client.test");
  EXPECT_EQ(SendOne("DATA"), "503 5.5.1 Error: need RCPT command");
  SendOne("MAIL FROM:<a@b.test>");
  SendOne("RCPT TO:<nobody@acme.test>");
  EXPECT_EQ(SendOne("DATA"), "554 5.5.1 Error: no valid recipients");
}

TEST_F(SmtpSessionTest, FinalDotIsAnsweredOnlyAfterDelivery) {
  StartTransaction();
  EXPECT_EQ(SendOne("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(10));
  session_.OnBytes("Subject: hi\r\n\r\n..body\r\n.\r\n");
  EXPECT_TRUE(transport_.TakeLines().empty());
  EXPECT_TRUE(transport_.reading);  // what the client pipelines meanwhile waits in the session
  ASSERT_EQ(transport_.delivered.size(), 1u);
  const SmtpTransaction& tx = transport_.delivered[0];
  EXPECT_EQ(tx.mail_from, "ann@customer.test");
  ASSERT_EQ(tx.recipients.size(), 1u);
  EXPECT_EQ(tx.recipients[0].match.received_at, "support@acme.test");
  // Our trace header first (RFC 5321 4.4), then the unstuffed message.
  EXPECT_EQ(
      tx.message.rfind("Received: from client.test ([192.0.2.1])\r\n\tby mx.postdesk.test", 0), 0u);
  EXPECT_NE(tx.message.find("\r\n\r\n.body\r\n"), std::string::npos);

  session_.OnDelivered({"250 2.0.0 Ok: ticket 1", "tickets=1"});
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok: ticket 1"});
  EXPECT_TRUE(transport_.reading);
  EXPECT_EQ(session_.state(), SmtpSession::State::kReady);
}

TEST_F(SmtpSessionTest, InputPipelinedDuringDeliveryIsBoundedThenReadAfter) {
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("Subject: hi\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  // A client that goes on sending while its message is stored: past 64 KiB reading pauses.
  std::string noops;
  while (noops.size() <= 64 * 1024) noops += "NOOP\r\n";
  session_.OnBytes(noops);
  EXPECT_FALSE(transport_.reading);
  EXPECT_TRUE(transport_.TakeLines().empty());
  session_.OnDelivered({"250 2.0.0 Ok: ticket 1", "tickets=1"});
  EXPECT_TRUE(transport_.reading);
  std::vector<std::string> lines = transport_.TakeLines();
  EXPECT_EQ(lines.front(), "250 2.0.0 Ok: ticket 1");
  EXPECT_EQ(lines.size(), 1 + noops.size() / 6);
}

TEST_F(SmtpSessionTest, PipelinedCommandsAfterDataWaitForTheDelivery) {
  // RFC 2920: a client may send the message, the dot and the next MAIL in one write.
  Send("EHLO client.test");
  session_.OnBytes("MAIL FROM:<a@b.test>\r\nRCPT TO:<help@acme.test>\r\nDATA\r\n");
  EXPECT_EQ(transport_.TakeLines(),
            (std::vector<std::string>{"250 2.1.0 Ok", "250 2.1.5 Ok",
                                      "354 End data with <CR><LF>.<CR><LF>"}));
  session_.OnBytes("Subject: one\r\n\r\nx\r\n.\r\nMAIL FROM:<c@d.test>\r\nQUIT\r\n");
  EXPECT_TRUE(transport_.TakeLines().empty());
  session_.OnDelivered({"250 2.0.0 Ok: ticket 9", "tickets=9"});
  EXPECT_EQ(transport_.TakeLines(),
            (std::vector<std::string>{"250 2.0.0 Ok: ticket 9", "250 2.1.0 Ok", "221 2.0.0 Bye"}));
  EXPECT_EQ(transport_.closes, 1);
}

TEST_F(SmtpSessionTest, DeliveriesAnsweredAtOnceProcessEachPipelinedCommandOnce) {
  transport_.answer_at_once = &session_;
  transport_.answer = "451 4.3.0 Error: ticket storage unavailable, try again later";
  Send("EHLO client.test");
  std::string transaction =
      "MAIL FROM:<a@b.test>\r\nRCPT TO:<help@acme.test>\r\nDATA\r\nSubject: one\r\n\r\nx\r\n.\r\n";
  // Two whole transactions and QUIT in one write, first as new input, then held in pending_
  // behind a delivery that the test answers later.
  session_.OnBytes(transaction + transaction + "QUIT\r\n");
  std::vector<std::string> once = {"250 2.1.0 Ok", "250 2.1.5 Ok",
                                   "354 End data with <CR><LF>.<CR><LF>", transport_.answer};
  std::vector<std::string> expected = once;
  expected.insert(expected.end(), once.begin(), once.end());
  expected.push_back("221 2.0.0 Bye");
  EXPECT_EQ(transport_.TakeLines(), expected);
  EXPECT_EQ(transport_.delivered.size(), 2u);
}

TEST_F(SmtpSessionTest, DeliveryAnsweredAtOnceInsidePendingInputProcessesItOnce) {
  Send("EHLO client.test");
  std::string transaction =
      "MAIL FROM:<a@b.test>\r\nRCPT TO:<help@acme.test>\r\nDATA\r\nSubject: one\r\n\r\nx\r\n.\r\n";
  session_.OnBytes(transaction + transaction + transaction + "QUIT\r\n");
  transport_.TakeLines();
  ASSERT_EQ(transport_.delivered.size(), 1u);
  // The first answer comes later; the two behind it are answered at once.
  transport_.answer_at_once = &session_;
  transport_.answer = "250 2.0.0 Ok: ticket 2";
  session_.OnDelivered({"250 2.0.0 Ok: ticket 1", "later"});
  std::vector<std::string> lines = transport_.TakeLines();
  EXPECT_EQ(transport_.delivered.size(), 3u);
  EXPECT_EQ(std::count(lines.begin(), lines.end(), "250 2.1.0 Ok"), 2);
  EXPECT_EQ(lines.front(), "250 2.0.0 Ok: ticket 1");
  EXPECT_EQ(lines.back(), "221 2.0.0 Bye");
  EXPECT_EQ(lines.size(), 10u);
}

TEST_F(SmtpSessionTest, StorageFailureGets451AndTheSessionGoesOn) {
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("Subject: hi\r\n\r\nbody\r\n.\r\n");
  session_.OnDelivered({"451 4.3.0 Error: ticket storage unavailable, try again later", "down"});
  EXPECT_EQ(transport_.TakeLines()[0].substr(0, 9), "451 4.3.0");
  EXPECT_EQ(SendOne("NOOP"), "250 2.0.0 Ok");
}

TEST_F(SmtpSessionTest, DeclaredSizeOverTheLimitIsRefusedAtMail) {
  Send("EHLO client.test");
  EXPECT_EQ(SendOne("MAIL FROM:<a@b.test> SIZE=4096"),
            "552 5.3.4 Error: message size exceeds fixed maximum message size");
  EXPECT_EQ(SendOne("MAIL FROM:<a@b.test> SIZE=100 BODY=8BITMIME SMTPUTF8"), "250 2.1.0 Ok");
}

TEST_F(SmtpSessionTest, OversizedDataIsDrainedAndRefusedWith552) {
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("Subject: big\r\n\r\n" + std::string(4000, 'x') + "\r\n.\r\n");
  EXPECT_EQ(transport_.TakeLines(),
            std::vector<std::string>{"552 5.3.4 Error: message file too big"});
  EXPECT_TRUE(transport_.delivered.empty());
  EXPECT_EQ(SendOne("MAIL FROM:<a@b.test>"), "250 2.1.0 Ok");
}

TEST_F(SmtpSessionTest, UnsupportedParametersGet555) {
  Send("EHLO client.test");
  EXPECT_EQ(SendOne("MAIL FROM:<a@b.test> AUTH=<>"), "555 5.5.4 Error: unsupported MAIL parameter");
  SendOne("MAIL FROM:<a@b.test>");
  EXPECT_EQ(SendOne("RCPT TO:<help@acme.test> NOTIFY=NEVER"),
            "555 5.5.4 Error: unsupported RCPT parameter");
}

TEST_F(SmtpSessionTest, Utf8RecipientNeedsSmtputf8OnMail) {
  Send("EHLO client.test");
  SendOne("MAIL FROM:<a@b.test>");
  EXPECT_EQ(SendOne("RCPT TO:<ü@in.acme.test>"),
            "553 5.6.7 Error: non-ASCII address without SMTPUTF8");
  SendOne("RSET");
  SendOne("MAIL FROM:<a@b.test> SMTPUTF8");
  EXPECT_EQ(SendOne("RCPT TO:<ü@in.acme.test>"), "250 2.1.5 Ok");
}

TEST_F(SmtpSessionTest, VrfyAnswers252AndExpn502) {
  Send("EHLO client.test");
  EXPECT_EQ(SendOne("VRFY support").substr(0, 9), "252 2.0.0");
  EXPECT_EQ(SendOne("EXPN staff").substr(0, 9), "502 5.5.1");
}

TEST_F(SmtpSessionTest, RsetClearsTheTransaction) {
  StartTransaction();
  EXPECT_EQ(SendOne("RSET"), "250 2.0.0 Ok");
  EXPECT_EQ(SendOne("DATA"), "503 5.5.1 Error: need RCPT command");
}

TEST_F(SmtpSessionTest, NestedMailIsRefused) {
  StartTransaction();
  EXPECT_EQ(SendOne("MAIL FROM:<x@y.test>"), "503 5.5.1 Error: nested MAIL command");
}

TEST_F(SmtpSessionTest, TooManyErrorsCloseWith421) {
  Send("EHLO client.test");
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(SendOne("BOGUS"), "500 5.5.2 Error: command not recognized");
  std::vector<std::string> last = Send("BOGUS");
  ASSERT_EQ(last.size(), 2u);
  EXPECT_EQ(last[1], "421 4.7.0 mx.postdesk.test Error: too many errors");
  EXPECT_EQ(transport_.closes, 1);
}

// Under stress the first error ends the session (Postfix's smtpd_hard_error_limit of 1 under
// stress); once the stress is over the session's errors count against max_errors again.
TEST_F(SmtpSessionTest, UnderStressTheFirstErrorCloses) {
  Send("EHLO client.test");
  EXPECT_EQ(SendOne("BOGUS"), "500 5.5.2 Error: command not recognized");
  transport_.under_stress = true;
  EXPECT_EQ(SendOne("NOOP"), "250 2.0.0 Ok");
  EXPECT_EQ(Send("RCPT TO:<support@acme.test>"),
            (std::vector<std::string>{"503 5.5.1 Error: need MAIL command",
                                      "421 4.7.0 mx.postdesk.test Error: too many errors"}));
  EXPECT_EQ(transport_.closes, 1);
}

TEST_F(SmtpSessionTest, AfterTheStressErrorsCountAgainstMaxErrors) {
  Send("EHLO client.test");
  transport_.under_stress = true;
  EXPECT_EQ(SendOne("NOOP"), "250 2.0.0 Ok");
  transport_.under_stress = false;
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(SendOne("BOGUS"), "500 5.5.2 Error: command not recognized");
  EXPECT_EQ(transport_.closes, 0);
}

TEST_F(SmtpSessionTest, OverlongCommandLineIsRefusedWithoutBuffering) {
  Send("EHLO client.test");
  session_.OnBytes(std::string(10000, 'A'));
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"500 5.5.2 Error: line too long"});
  session_.OnBytes(std::string(10000, 'A') + "\r\nNOOP\r\n");
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok"});
}

TEST_F(SmtpSessionTest, TimeoutAnswers421AndCloses) {
  session_.OnTimeout();
  EXPECT_EQ(transport_.TakeLines(),
            std::vector<std::string>{"421 4.4.2 mx.postdesk.test Error: timeout exceeded"});
  EXPECT_EQ(transport_.closes, 1);
}

TEST_F(SmtpSessionTest, ShutdownClosesIdleSessionsAtOnce) {
  Send("EHLO client.test");
  session_.Shutdown();
  EXPECT_EQ(transport_.TakeLines(),
            std::vector<std::string>{"421 4.3.2 mx.postdesk.test Service shutting down"});
  EXPECT_EQ(transport_.closes, 1);
}

TEST_F(SmtpSessionTest, ShutdownLetsTheTransactionInFlightFinish) {
  StartTransaction();
  SendOne("DATA");
  session_.Shutdown();
  EXPECT_EQ(transport_.closes, 0);
  session_.OnBytes("Subject: x\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  session_.OnDelivered({"250 2.0.0 Ok: ticket 3", "tickets=3"});
  EXPECT_EQ(transport_.TakeLines(),
            (std::vector<std::string>{"250 2.0.0 Ok: ticket 3",
                                      "421 4.3.2 mx.postdesk.test Service shutting down"}));
  EXPECT_EQ(transport_.closes, 1);
}

TEST_F(SmtpSessionTest, CommandsSplitAcrossReadsAndBareLfLinesWork) {
  session_.OnBytes("EH");
  EXPECT_TRUE(transport_.TakeLines().empty());
  session_.OnBytes("LO client.test\r");
  EXPECT_TRUE(transport_.TakeLines().empty());
  session_.OnBytes("\nNOOP\n");
  std::vector<std::string> lines = transport_.TakeLines();
  ASSERT_EQ(lines.size(), 9u);  // EHLO's eight, NOOP's one
  EXPECT_EQ(lines.back(), "250 2.0.0 Ok");
}

TEST_F(SmtpSessionTest, DisconnectDuringDataDeliversNothing) {
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("Subject: partial\r\n\r\nhalf a mess");
  session_.OnDisconnected("client closed the connection");
  EXPECT_TRUE(transport_.delivered.empty());
  EXPECT_EQ(session_.state(), SmtpSession::State::kClosed);
}

// Regression (fuzz/smtp_session_fuzzer.cc): a write that fails while the session closes made
// the session close its transport twice, from OnDisconnected() inside Write() and then again.
TEST_F(SmtpSessionTest, WriteFailureWhileClosingClosesTheTransportOnce) {
  Send("EHLO client.test");
  transport_.fail_writes_of = &session_;
  session_.OnBytes("QUIT\r\n");
  EXPECT_EQ(transport_.closes, 1);
  EXPECT_EQ(transport_.writes_after_close, 0);
  EXPECT_EQ(session_.state(), SmtpSession::State::kClosed);
}

TEST_F(SmtpSessionTest, WriteFailureAfterAReplyClosesOnceAndIgnoresTheRest) {
  Send("EHLO client.test");
  transport_.fail_writes_of = &session_;
  session_.OnBytes("NOOP\r\nNOOP\r\n");
  EXPECT_EQ(transport_.closes, 1);
  session_.OnBytes("NOOP\r\n");
  session_.OnTimeout();
  EXPECT_EQ(transport_.closes, 1);
  EXPECT_EQ(transport_.writes_after_close, 0);
}

// Slowloris: bytes of an unfinished command line must not keep the session alive.
TEST_F(SmtpSessionTest, OnlyACompleteCommandRestartsTheCommandTimeout) {
  int armed = transport_.timeouts_armed;
  for (char c : std::string_view("NOOP")) session_.OnBytes(std::string(1, c));
  EXPECT_EQ(transport_.timeouts_armed, armed);
  session_.OnBytes("\r\n");
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok"});
  EXPECT_EQ(transport_.timeouts_armed, armed + 1);
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(5));
}

// Before this fix the command timeout ran from the greeting (or the last DATA), so a busy
// session was cut while active.
TEST_F(SmtpSessionTest, EveryCompleteCommandRestartsTheCommandTimeout) {
  int armed = transport_.timeouts_armed;
  Send("EHLO client.test");
  Send("NOOP");
  session_.OnBytes("NOOP\r\nNOOP\n");
  EXPECT_EQ(transport_.timeouts_armed, armed + 4);
}

TEST_F(SmtpSessionTest, DataTimeoutIsOneDeadlineForTheWholeMessage) {
  StartTransaction();
  SendOne("DATA");
  int armed = transport_.timeouts_armed;
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(10));
  for (int i = 0; i < 100; ++i) session_.OnBytes("line\r\n");
  EXPECT_EQ(transport_.timeouts_armed, armed);
  session_.OnTimeout();
  EXPECT_EQ(transport_.TakeLines(),
            std::vector<std::string>{"421 4.4.2 mx.postdesk.test Error: timeout exceeded"});
  EXPECT_TRUE(transport_.delivered.empty());
  EXPECT_EQ(transport_.closes, 1);
}

// RFC 5321 4.5.3.2.6: the client waits 10 minutes for the reply to the final dot; a 421 after
// only the 5 minute command timeout made it send again a message we were storing (RFC 5321 6.1).
TEST_F(SmtpSessionTest, StoringTheMessageGetsTheDataTimeoutNotTheCommandTimeout) {
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("Subject: x\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(10));
  int armed = transport_.timeouts_armed;
  session_.OnDelivered({"250 2.0.0 Ok: ticket 4", "tickets=4"});
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok: ticket 4"});
  EXPECT_EQ(transport_.timeouts_armed, armed + 1);
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(5));
  EXPECT_EQ(SendOne("NOOP"), "250 2.0.0 Ok");
}

// Under stress (design.md; Postfix's stress timeouts) a session waiting for a command gets 10
// seconds instead of 5 minutes, and the normal timeout again once the stress is over.
TEST_F(SmtpSessionTest, UnderStressACommandIsAwaitedTenSeconds) {
  transport_.under_stress = true;
  Send("EHLO client.test");
  EXPECT_EQ(transport_.timeout, std::chrono::seconds(10));
  transport_.under_stress = false;
  EXPECT_EQ(SendOne("NOOP"), "250 2.0.0 Ok");
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(5));
}

// A session already idle when the stress begins waits 10 more seconds, not its 5 minutes; DATA
// and the wait for storage keep their deadlines (cutting them would waste a sender's work).
TEST_F(SmtpSessionTest, StressShortensTheWaitOfAnIdleSessionOnly) {
  StartTransaction();
  int armed = transport_.timeouts_armed;
  session_.OnStress();
  EXPECT_EQ(transport_.timeouts_armed, armed + 1);
  EXPECT_EQ(transport_.timeout, std::chrono::seconds(10));
  transport_.under_stress = true;
  SendOne("DATA");
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(10));
  armed = transport_.timeouts_armed;
  session_.OnStress();
  EXPECT_EQ(transport_.timeouts_armed, armed);
  session_.OnBytes("Subject: x\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  session_.OnStress();
  EXPECT_EQ(transport_.timeouts_armed, armed + 2);  // the final dot, then the store's wait
  EXPECT_EQ(transport_.timeout, std::chrono::minutes(10));
  session_.OnDelivered({"250 2.0.0 Ok: ticket 4", "tickets=4"});
  EXPECT_EQ(transport_.timeout, std::chrono::seconds(10));
}

TEST_F(SmtpSessionTest, StoreThatNeverAnswersIsCutAtTheDataTimeout) {
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("Subject: x\r\n\r\nbody\r\n.\r\nNOOP\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  session_.OnTimeout();
  EXPECT_EQ(transport_.TakeLines(),
            std::vector<std::string>{"421 4.4.2 mx.postdesk.test Error: timeout exceeded"});
  EXPECT_EQ(transport_.closes, 1);
  // The late outcome finds the session closed and writes nothing.
  session_.OnDelivered({"250 2.0.0 Ok: ticket 5", "tickets=5"});
  EXPECT_TRUE(transport_.TakeLines().empty());
  EXPECT_EQ(transport_.writes_after_close, 0);
}

// Regression (fuzz/smtp_session_fuzzer.cc): data that starts with white space folded its first
// line into our Received: header (RFC 5322 2.2.3), so a client could write into the trace.
TEST_F(SmtpSessionTest, MessageStartingWithWhiteSpaceCannotExtendOurReceivedHeader) {
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("\tfor <forged@elsewhere.test>\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  const std::string& message = transport_.delivered[0].message;
  size_t end = message.find("\r\n\r\n");
  ASSERT_NE(end, std::string::npos);
  EXPECT_GT(message.find("forged"), end) << message;
  EXPECT_EQ(message.substr(end + 4), "\tfor <forged@elsewhere.test>\r\nSubject: x\r\n\r\nbody\r\n");
}

TEST_F(SmtpSessionTest, MessageStartingWithAHeaderFollowsOurReceivedHeaderDirectly) {
  StartTransaction();
  SendOne("DATA");
  session_.OnBytes("Subject: x\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  const std::string& message = transport_.delivered[0].message;
  EXPECT_NE(message.find(" +0000\r\nSubject: x\r\n\r\nbody\r\n"), std::string::npos) << message;
}

TEST_F(SmtpSessionTest, StartTlsIsOfferedOnlyWithACertificate) {
  std::vector<std::string> plain = Send("EHLO client.test");
  EXPECT_EQ(std::count(plain.begin(), plain.end(), "250-STARTTLS"), 0);
  EXPECT_EQ(SendOne("STARTTLS"), "454 4.7.0 TLS not available");
  transport_.tls_offered = true;
  std::vector<std::string> offered = Send("EHLO client.test");
  EXPECT_EQ(std::count(offered.begin(), offered.end(), "250-STARTTLS"), 1);
}

TEST_F(SmtpSessionTest, CommandsPipelinedBehindStartTlsAreDiscarded) {
  // CVE-2011-0411: cleartext sent after STARTTLS must not run as if it came under TLS.
  transport_.tls_offered = true;
  Send("EHLO client.test");
  session_.OnBytes("STARTTLS\r\nMAIL FROM:<evil@x.test>\r\nRCPT TO:<support@acme.test>\r\n");
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"220 2.0.0 Ready to start TLS"});
  EXPECT_EQ(transport_.tls_starts, 1);
  session_.OnTlsEstablished("TLSv1.3 TLS_AES_256_GCM_SHA384");
  // RFC 3207 4.2: the client starts over with EHLO; nothing of the injected transaction stayed.
  EXPECT_EQ(SendOne("MAIL FROM:<a@b.test>"), "503 5.5.1 Error: send HELO/EHLO first");
  Send("EHLO client.test");
  EXPECT_EQ(SendOne("DATA"), "503 5.5.1 Error: need RCPT command");
}

TEST_F(SmtpSessionTest, MessagesUnderTlsAreReceivedWithEsmtps) {
  transport_.tls_offered = true;
  Send("EHLO client.test");
  SendOne("STARTTLS");
  session_.OnTlsEstablished("TLSv1.3 TLS_AES_256_GCM_SHA384");
  std::vector<std::string> ehlo = Send("EHLO client.test");
  EXPECT_EQ(std::count(ehlo.begin(), ehlo.end(), "250-STARTTLS"), 0);
  EXPECT_EQ(SendOne("STARTTLS"), "554 5.5.1 Error: TLS already active");
  SendOne("MAIL FROM:<ann@customer.test>");
  SendOne("RCPT TO:<support@acme.test>");
  SendOne("DATA");
  session_.OnBytes("Subject: secret\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  const std::string& message = transport_.delivered[0].message;
  EXPECT_NE(message.find("(using TLSv1.3 TLS_AES_256_GCM_SHA384)"), std::string::npos);
  EXPECT_NE(message.find("with ESMTPS id"), std::string::npos);
}

TEST_F(SmtpSessionTest, RecipientPastMaxRecipientsGets452AndTheFirstHundredStillGetTheMessage) {
  // The fixture keeps the default max_recipients, 100 (RFC 5321 4.5.3.1.8's minimum).
  Send("EHLO client.test");
  ASSERT_EQ(SendOne("MAIL FROM:<ann@customer.test>"), "250 2.1.0 Ok");
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(SendOne("RCPT TO:<r" + std::to_string(i) + "@in.acme.test>"), "250 2.1.5 Ok") << i;
  }
  EXPECT_EQ(SendOne("RCPT TO:<r100@in.acme.test>"), "452 4.5.3 Error: too many recipients");
  EXPECT_EQ(SendOne("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  session_.OnBytes("Subject: to a hundred\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  const std::vector<SmtpRecipient>& recipients = transport_.delivered[0].recipients;
  ASSERT_EQ(recipients.size(), 100u);
  EXPECT_EQ(recipients.front().match.received_at, "r0@in.acme.test");
  EXPECT_EQ(recipients.back().match.received_at, "r99@in.acme.test");
  session_.OnDelivered({"250 2.0.0 Ok: ticket 1", "tickets=1"});
  EXPECT_EQ(transport_.TakeLines(), std::vector<std::string>{"250 2.0.0 Ok: ticket 1"});
  // The limit is per transaction: the next one takes recipients again.
  EXPECT_EQ(SendOne("MAIL FROM:<ann@customer.test>"), "250 2.1.0 Ok");
  EXPECT_EQ(SendOne("RCPT TO:<r100@in.acme.test>"), "250 2.1.5 Ok");
}

TEST_F(SmtpSessionTest, PipelinedRecipientsPastTheLimitGet452WithoutEndingTheSession) {
  // RFC 5321 4.5.3.1.10: a client with more recipients sends the rest in another transaction,
  // so its 452s are not errors that close the session (the fixture's max_errors is 5).
  Send("EHLO client.test");
  std::string batch = "MAIL FROM:<ann@customer.test>\r\n";
  for (int i = 0; i < 150; ++i) batch += "RCPT TO:<r" + std::to_string(i) + "@in.acme.test>\r\n";
  batch += "DATA\r\n";
  session_.OnBytes(batch);
  std::vector<std::string> lines = transport_.TakeLines();
  ASSERT_EQ(lines.size(), 152u);
  EXPECT_EQ(lines[0], "250 2.1.0 Ok");
  EXPECT_EQ(std::count(lines.begin() + 1, lines.begin() + 101, "250 2.1.5 Ok"), 100);
  EXPECT_EQ(std::count(lines.begin() + 101, lines.begin() + 151,
                       "452 4.5.3 Error: too many recipients"),
            50);
  EXPECT_EQ(lines[151], "354 End data with <CR><LF>.<CR><LF>");
  EXPECT_EQ(transport_.closes, 0);
  session_.OnBytes("Subject: batch\r\n\r\nbody\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 1u);
  EXPECT_EQ(transport_.delivered[0].recipients.size(), 100u);
}

TEST_F(SmtpSessionTest, FailedWriteOfTheStartTlsReplyStartsNoTls) {
  // Found by fuzz/smtp_session_fuzzer.cc: the 220 could not be written, the session closed
  // inside the write, and TLS was then started on the closed transport.
  transport_.tls_offered = true;
  Send("EHLO client.test");
  transport_.fail_writes_of = &session_;
  session_.OnBytes("STARTTLS\r\n");
  EXPECT_EQ(transport_.tls_starts, 0);
  EXPECT_EQ(transport_.closes, 1);
  EXPECT_EQ(session_.state(), SmtpSession::State::kClosed);
}

TEST_F(SmtpSessionTest, SecondTransactionCarriesOnlyItsOwnEnvelope) {
  // The session keeps its recipients' storage between transactions and refills the buffers
  // that Deliver() gave back (stale ones here): nothing of the first envelope may leak.
  Send("EHLO client.test");
  ASSERT_EQ(SendOne("MAIL FROM:<ann@customer.test>"), "250 2.1.0 Ok");
  ASSERT_EQ(SendOne("RCPT TO:<support@acme.test>"), "250 2.1.5 Ok");
  ASSERT_EQ(SendOne("RCPT TO:<billing@in.acme.test>"), "250 2.1.5 Ok");
  ASSERT_EQ(SendOne("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  session_.OnBytes("Subject: one\r\n\r\nfirst\r\n.\r\n");
  session_.OnDelivered({"250 2.0.0 Ok: ticket 1", "tickets=1"});
  transport_.TakeLines();
  ASSERT_EQ(SendOne("MAIL FROM:<>"), "250 2.1.0 Ok");
  ASSERT_EQ(SendOne("RCPT TO:<x@in.acme.test>"), "250 2.1.5 Ok");
  ASSERT_EQ(SendOne("DATA"), "354 End data with <CR><LF>.<CR><LF>");
  session_.OnBytes("Subject: two\r\n\r\nsecond\r\n.\r\n");
  ASSERT_EQ(transport_.delivered.size(), 2u);
  const SmtpTransaction& first = transport_.delivered[0];
  const SmtpTransaction& second = transport_.delivered[1];
  ASSERT_EQ(first.recipients.size(), 2u);
  EXPECT_EQ(first.recipients[1].address, "billing@in.acme.test");
  EXPECT_EQ(second.mail_from, "");
  ASSERT_EQ(second.recipients.size(), 1u);
  EXPECT_EQ(second.recipients[0].address, "x@in.acme.test");
  EXPECT_EQ(second.recipients[0].match.received_at, "x@in.acme.test");
  EXPECT_FALSE(second.recipients[0].match.external);
  EXPECT_EQ(second.client_ip, "192.0.2.1");
  EXPECT_EQ(second.helo, "client.test");
  EXPECT_NE(second.id, first.id);
  EXPECT_EQ(second.message.find("stale"), std::string::npos);
  EXPECT_NE(second.message.find("\r\n\r\nsecond\r\n"), std::string::npos);
  // Our trace header names the one recipient of this transaction (RFC 5321 4.4 "for").
  EXPECT_NE(second.message.find("for <x@in.acme.test>"), std::string::npos);
}

// One dialogue, replies and deliveries, on a session built from `buffers`.
struct Dialogue {
  std::vector<std::string> replies;
  std::vector<SmtpTransaction> delivered;
};
Dialogue RunDialogue(SmtpSession::Buffers buffers) {
  FakeTransport transport;
  SmtpSession session(9, "192.0.2.1", TestState(), &transport, std::move(buffers));
  session.Start();
  session.OnBytes("EHLO client.test\r\nMAIL FROM:<ann@customer.test>\r\n");
  session.OnBytes("RCPT TO:<support@acme.test>\r\nDATA\r\n");
  session.OnBytes("Subject: new\r\n\r\nnew session\r\n.\r\n");
  session.OnDelivered({"250 2.0.0 Ok: ticket 1", "tickets=1"});
  session.OnBytes("QUIT\r\n");
  return {transport.TakeLines(), std::move(transport.delivered)};
}

TEST(SmtpSessionReuse, SessionOnAClosedOnesBuffersBehavesAsAFreshOne) {
  // A pooled connection (ServerLoop) hands the buffers of its closed session to the next one.
  // The old session leaves something in every buffer: TLS, a long IPv6 client, an envelope
  // with recipients, input pipelined after a delivery it never saw the end of.
  FakeTransport transport;
  SmtpSession old(1, "2001:db8:aaaa:bbbb:cccc:dddd:eeee:ffff", TestState(), &transport);
  old.Start();
  old.OnTlsEstablished("TLSv1.3 TLS_AES_256_GCM_SHA384");
  old.OnBytes("EHLO old.client.test\r\nMAIL FROM:<old@old.test>\r\n");
  old.OnBytes("RCPT TO:<support@acme.test>\r\nRCPT TO:<help@acme.test>\r\nDATA\r\n");
  old.OnBytes("Subject: old\r\n\r\nold\r\n.\r\nMAIL FROM:<pipelined@old.test>\r\nRCPT");
  old.OnDisconnected("client went away");
  ASSERT_EQ(old.state(), SmtpSession::State::kClosed);
  SmtpSession::Buffers buffers = old.TakeBuffers();
  EXPECT_FALSE(buffers.transaction.state) << "a spare keeps no configuration alive";

  Dialogue reused = RunDialogue(std::move(buffers));
  Dialogue fresh = RunDialogue({});
  EXPECT_EQ(reused.replies, fresh.replies);
  ASSERT_EQ(reused.delivered.size(), 1u);
  ASSERT_EQ(fresh.delivered.size(), 1u);
  const SmtpTransaction& a = reused.delivered[0];
  const SmtpTransaction& b = fresh.delivered[0];
  EXPECT_EQ(a.id, b.id);
  EXPECT_EQ(a.client_ip, "192.0.2.1");
  EXPECT_EQ(a.helo, b.helo);
  EXPECT_EQ(a.mail_from, "ann@customer.test");
  ASSERT_EQ(a.recipients.size(), 1u);
  EXPECT_EQ(a.recipients[0].address, "support@acme.test");
  // The trace header says plain ESMTP from client.test: nothing of the old TLS or HELO.
  EXPECT_EQ(a.message.find("old"), std::string::npos) << a.message;
  EXPECT_EQ(a.message.find("TLS"), std::string::npos) << a.message;
  EXPECT_NE(a.message.find("with ESMTP id"), std::string::npos) << a.message;
  EXPECT_EQ(a.message.size(), b.message.size());
}

}  // namespace
}  // namespace postdesk
