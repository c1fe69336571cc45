// SmtpClient when the relay says no or goes wrong (tests/gateway/smtp_relay_fixture.h): each reply
// code's outcome, refused recipients, oversized messages and bad addresses, refused, silent,
// broken and overlong connections, the idle timeout and Close(). Every test runs the client on
// its own loop and ends with the loop closed, so a handle left open fails it.
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "gateway/smtp_client.h"
#include "tests/gateway/smtp_relay_fixture.h"

namespace postdesk::smtp_client_test {
namespace {

// --- replies ----------------------------------------------------------------------------------

struct ReplyCase {
  const char* name;
  std::vector<std::string> flags;
  std::string kind;
  int code;
  bool rset;  // the failed transaction is followed by RSET (not after the end of data)
};

void PrintTo(const ReplyCase& c, std::ostream* os) { *os << c.name; }

// smtp-sink: -f (5xx) and -r (4xx) turn PIPELINING off, so this is the one-at-a-time path.
class SmtpSinkReplyTest : public testing::TestWithParam<ReplyCase> {};

TEST_P(SmtpSinkReplyTest, ReplyDecidesTheOutcome) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start(GetParam().flags));
  Sent sent = SendAll(RelayOptions(sink.port()), {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), GetParam().kind) << sent.results[0].reply;
  EXPECT_EQ(sent.results[0].code, GetParam().code) << sent.results[0].reply;
}

INSTANTIATE_TEST_SUITE_P(
    Commands, SmtpSinkReplyTest,
    testing::Values(ReplyCase{"MailHardReject", {"-f", "MAIL"}, "permanent", 500, true},
                    ReplyCase{"MailSoftReject", {"-r", "MAIL"}, "temporary", 450, true},
                    ReplyCase{"RcptHardReject", {"-f", "RCPT"}, "permanent", 500, true},
                    ReplyCase{"RcptSoftReject", {"-r", "RCPT"}, "temporary", 450, true},
                    ReplyCase{"DataHardReject", {"-f", "DATA"}, "permanent", 500, true},
                    ReplyCase{"DataSoftReject", {"-r", "DATA"}, "temporary", 450, true},
                    ReplyCase{"EndOfDataHardReject", {"-f", "."}, "permanent", 500, false},
                    ReplyCase{"EndOfDataSoftReject", {"-r", "."}, "temporary", 450, false},
                    ReplyCase{"ClosingAtMail", {"-Q", "MAIL"}, "temporary", 421, false},
                    ReplyCase{"DisconnectAtEndOfData", {"-q", "."}, "temporary", 0, false}),
    [](const testing::TestParamInfo<ReplyCase>& p) { return p.param.name; });

// The scripted relay offers PIPELINING: MAIL, RCPT and DATA go together and every reply is
// read, even after the one that failed the transaction.
class PipelinedReplyTest : public testing::TestWithParam<ReplyCase> {};

TEST_P(PipelinedReplyTest, ReplyDecidesTheOutcome) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start(GetParam().flags));
  Sent sent = SendAll(RelayOptions(relay.port()), {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), GetParam().kind) << sent.results[0].reply;
  EXPECT_EQ(sent.results[0].code, GetParam().code) << sent.results[0].reply;
  std::vector<std::string> commands = relay.Commands();
  ASSERT_GE(commands.size(), 2u);
  EXPECT_EQ(commands[commands.size() - 2] == "RSET", GetParam().rset)
      << testing::PrintToString(commands);
  EXPECT_EQ(commands.back(), "QUIT");
}

INSTANTIATE_TEST_SUITE_P(
    Commands, PipelinedReplyTest,
    testing::Values(
        ReplyCase{
            "MailPermanent", {"--reply", "MAIL=550 5.7.1 sender refused"}, "permanent", 550, true},
        ReplyCase{"MailTemporary", {"--reply", "MAIL=451 4.3.0 try later"}, "temporary", 451, true},
        ReplyCase{
            "RcptPermanent", {"--reply", "RCPT=550 5.1.1 no such user"}, "permanent", 550, true},
        ReplyCase{
            "RcptTemporary", {"--reply", "RCPT=450 4.2.0 greylisted"}, "temporary", 450, true},
        ReplyCase{"DataPermanent", {"--reply", "DATA=554 5.3.0 no data"}, "permanent", 554, true},
        ReplyCase{"DataTemporary", {"--reply", "DATA=451 4.3.0 not now"}, "temporary", 451, true},
        ReplyCase{"EndOfDataPermanent",
                  {"--reply", "DOT=554 5.7.1 looks like spam"},
                  "permanent",
                  554,
                  false},
        ReplyCase{
            "EndOfDataTemporary", {"--reply", "DOT=452 4.3.1 disk full"}, "temporary", 452, false}),
    [](const testing::TestParamInfo<ReplyCase>& p) { return p.param.name; });

TEST(SmtpClientTest, SomeRecipientsRefusedDeliversToTheOthersAndNamesTheRefused) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "RCPT:bad@=550 5.1.1 no such user", "--reply",
                           "RCPT:later@=452 4.5.3 too many recipients"}));
  Sent sent =
      SendAll(RelayOptions(relay.port()),
              {Message({"good@customer.test", "bad@customer.test", "later@customer.test"})});
  const DeliveryResult& result = sent.results[0];
  EXPECT_EQ(KindName(result.kind), "delivered") << result.reply;
  EXPECT_EQ(result.code, 250);
  EXPECT_EQ(result.refused, std::vector<std::string>{"bad@customer.test"});
  EXPECT_EQ(result.deferred, std::vector<std::string>{"later@customer.test"});
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_EQ(relay.Events("message")[0]["rcpt"], nlohmann::json::array({"TO:<good@customer.test>"}));
}

TEST(SmtpClientTest, AllRecipientsRefusedUnderPipeliningResetsAndTheConnectionGoesOn) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "RCPT:bad@=550 5.1.1 no such user"}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.max_connections = 1;
  Sent sent = SendAll(options, {Message({"bad@customer.test"}), Message({"good@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "permanent") << sent.results[0].reply;
  EXPECT_EQ(sent.results[0].code, 550);
  EXPECT_EQ(sent.results[0].refused, std::vector<std::string>{"bad@customer.test"});
  EXPECT_EQ(KindName(sent.results[1].kind), "delivered") << sent.results[1].reply;
  // The relay answered the pipelined DATA 554 (no valid recipients); RSET came before the next.
  std::vector<std::string> commands = relay.Commands();
  std::string mail =
      "MAIL FROM:<support@acme.test> SIZE=" + std::to_string(Message({}).data.size());
  std::vector<std::string> expected = {"EHLO notify.postdesk.test",
                                       mail,
                                       "RCPT TO:<bad@customer.test>",
                                       "DATA",
                                       "RSET",
                                       mail,
                                       "RCPT TO:<good@customer.test>",
                                       "DATA",
                                       "QUIT"};
  EXPECT_EQ(commands, expected);
  EXPECT_EQ(relay.Connections(), 1u);
  EXPECT_EQ(relay.Events("message").size(), 1u);
}

TEST(SmtpClientTest, MessageOverTheAdvertisedSizeFailsPermanentlyWithoutBeingSent) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--size", "300"}));
  Sent sent = SendAll(RelayOptions(relay.port()),
                      {Message({"ann@customer.test"}, std::string(400, 'x') + "\r\n"),
                       Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "permanent");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("SIZE limit of 300"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_EQ(KindName(sent.results[1].kind), "delivered") << sent.results[1].reply;
  EXPECT_EQ(relay.Events("message").size(), 1u);
}

TEST(SmtpClientTest, InvalidAddressesAreRefusedBeforeAnyConnection) {
  Loop loop;
  SmtpClient client(loop.get(), RelayOptions(FreePort()));
  std::vector<DeliveryResult> results;
  auto keep = [&](DeliveryResult r) { results.push_back(std::move(r)); };
  client.Send(Message({"ann@customer.test>\r\nRCPT TO:<eve@evil.test"}), keep);
  client.Send(Message({}), keep);
  OutboundMessage bad_sender = Message({"ann@customer.test"});
  bad_sender.mail_from = "support@acme.test>\r\nDATA";
  client.Send(bad_sender, keep);
  EXPECT_EQ(client.connections(), 0u);
  EXPECT_TRUE(results.empty()) << "done must not run inside Send()";
  bool closed = false;
  loop.After(milliseconds(0), [&] { client.Close([&] { closed = true; }); });
  loop.Run(std::chrono::seconds(10), [] { ADD_FAILURE() << "stuck"; });
  EXPECT_TRUE(closed);
  ASSERT_EQ(results.size(), 3u);
  for (const DeliveryResult& result : results) {
    EXPECT_EQ(KindName(result.kind), "permanent") << result.reply;
    EXPECT_EQ(result.code, 0);
  }
  EXPECT_NE(results[0].reply.find("invalid recipient address"), std::string::npos);
  EXPECT_EQ(results[1].reply, "no recipient");
  EXPECT_NE(results[2].reply.find("invalid sender address"), std::string::npos);
}

// --- failures of the connection ---------------------------------------------------------------

TEST(SmtpClientTest, ConnectionRefusedFailsEveryQueuedMessageTemporarilyAndAtOnce) {
  uint16_t port = FreePort();
  Sent sent = SendAll(
      RelayOptions(port),
      {Message({"a@customer.test"}), Message({"b@customer.test"}), Message({"c@customer.test"})});
  for (size_t i = 0; i < sent.results.size(); ++i) {
    EXPECT_EQ(KindName(sent.results[i].kind), "temporary");
    EXPECT_EQ(sent.results[i].code, 0);
    EXPECT_EQ(sent.results[i].reply,
              "connect 127.0.0.1:" + std::to_string(port) + ": connection refused");
    EXPECT_LT(sent.after[i], milliseconds(2000));
  }
}

TEST(SmtpClientTest, GreetingRefusedFailsTheQueueAfterNoMoreThanMaxConnectionsAttempts) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "GREETING=554 5.3.2 relay.test has no service for you"}));
  std::vector<OutboundMessage> messages;
  for (int i = 0; i < 10; ++i) messages.push_back(Message({"ann@customer.test"}));
  Sent sent = SendAll(RelayOptions(relay.port()), std::move(messages));
  for (const DeliveryResult& result : sent.results) {
    // The relay refused the session, not the message: try again later (as Postfix does).
    EXPECT_EQ(KindName(result.kind), "temporary");
    EXPECT_EQ(result.code, 554);
    EXPECT_EQ(result.reply, "554 5.3.2 relay.test has no service for you");
  }
  EXPECT_LE(relay.Connections(), 2u);
}

TEST(SmtpClientTest, SilentServerFailsTemporarilyAfterCommandTimeout) {
  // A listening socket that never accepts: the TCP handshake completes, no greeting comes.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  SmtpClient::Options options = RelayOptions(ntohs(addr.sin_port));
  options.command_timeout = milliseconds(300);
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  close(fd);
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("no reply to the greeting within 300ms"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_GE(sent.after[0], milliseconds(290));
  EXPECT_LT(sent.after[0], milliseconds(3000));
}

TEST(SmtpClientTest, NoReplyToTheEndOfDataFailsTheMessageAfterCommandTimeout) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "DOT=HANG"}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.command_timeout = milliseconds(500);
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("no reply to the end of data within 500ms"),
            std::string::npos)
      << sent.results[0].reply;
}

TEST(SmtpClientTest, BrokenConnectionFailsOnlyItsMessageAndTheQueueMovesOn) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "RCPT:drop@=CLOSE"}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.max_connections = 1;
  Sent sent = SendAll(options, {Message({"one@customer.test"}), Message({"drop@customer.test"}),
                                Message({"two@customer.test"}), Message({"three@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  EXPECT_EQ(KindName(sent.results[1].kind), "temporary");
  EXPECT_EQ(sent.results[1].code, 0);
  EXPECT_NE(sent.results[1].reply.find("connection closed by the relay (awaiting RCPT)"),
            std::string::npos)
      << sent.results[1].reply;
  EXPECT_EQ(KindName(sent.results[2].kind), "delivered") << sent.results[2].reply;
  EXPECT_EQ(KindName(sent.results[3].kind), "delivered") << sent.results[3].reply;
  EXPECT_EQ(relay.Connections(), 2u);
  EXPECT_EQ(relay.Events("message").size(), 3u);
}

TEST(SmtpClientTest, OverlongReplyIsAProtocolErrorNotUnboundedMemory) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "GREETING=HUGE"}));
  Sent sent = SendAll(RelayOptions(relay.port()), {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("reply longer than 65536 bytes"), std::string::npos)
      << sent.results[0].reply;
}

// --- lifetime ---------------------------------------------------------------------------------

TEST(SmtpClientTest, IdleConnectionQuitsAfterIdleTimeout) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.idle_timeout = milliseconds(200);
  Loop loop;
  SmtpClient client(loop.get(), options);
  DeliveryResult result;
  size_t connections_later = 99;
  bool closed = false;
  client.Send(Message({"ann@customer.test"}), [&](DeliveryResult r) {
    result = std::move(r);
    loop.After(milliseconds(1000), [&] {
      connections_later = client.connections();
      client.Close([&] { closed = true; });
    });
  });
  loop.Run(std::chrono::seconds(20), [&] { client.Close([&] { closed = true; }); });
  EXPECT_TRUE(closed);
  EXPECT_EQ(KindName(result.kind), "delivered") << result.reply;
  EXPECT_EQ(connections_later, 0u);
  EXPECT_EQ(relay.Commands().back(), "QUIT");
}

TEST(SmtpClientTest, CloseFailsQueuedAndInFlightMessagesAsTemporaryAndClosesEveryHandle) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "DOT=HANG"}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.max_connections = 1;
  Loop loop;
  SmtpClient client(loop.get(), options);
  std::vector<DeliveryResult> results(5);
  std::vector<int> calls(5);
  bool closed = false;
  size_t queued_at_close = 0;
  for (int i = 0; i < 4; ++i) {
    client.Send(Message({"ann@customer.test"}), [&, i](DeliveryResult r) {
      results[i] = std::move(r);
      ++calls[i];
    });
  }
  // By then the first message waits for the reply to its final dot, which never comes.
  loop.After(milliseconds(800), [&] {
    queued_at_close = client.queued();
    client.Close([&] { closed = true; });
    client.Send(Message({"late@customer.test"}), [&](DeliveryResult r) {
      results[4] = std::move(r);
      ++calls[4];
    });
  });
  loop.Run(std::chrono::seconds(20), [] { ADD_FAILURE() << "Close() did not finish"; });
  EXPECT_TRUE(closed);
  EXPECT_EQ(client.connections(), 0u);
  EXPECT_EQ(queued_at_close, 3u);
  EXPECT_EQ(relay.Events("message").size(), 1u) << "the first message was in flight";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(calls[i], 1) << i;
    EXPECT_EQ(KindName(results[i].kind), "temporary") << i;
    EXPECT_EQ(results[i].code, 0) << i;
    EXPECT_EQ(results[i].reply, "client closing") << i;
  }
}

TEST(SmtpClientTest, CloseOfAnUnusedClientClosesAtOnce) {
  Loop loop;
  SmtpClient client(loop.get(), RelayOptions(FreePort()));
  bool closed = false;
  client.Close([&] { closed = true; });
  loop.Run(std::chrono::seconds(5), [] { ADD_FAILURE() << "Close() did not finish"; });
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace postdesk::smtp_client_test
