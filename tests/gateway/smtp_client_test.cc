// SmtpClient delivering through real relays (tests/gateway/smtp_relay_fixture.h): what arrives,
// over how many connections, with and without PIPELINING, and with STARTTLS. Every test runs the
// client on its own loop and ends with the loop closed, so a handle left open fails it (and ASan
// reports a leak). Refusals, failures and closing are in smtp_client_failure_test.cc.
#include "gateway/smtp_client.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <vector>

#include "tests/gateway/smtp_relay_fixture.h"

namespace postdesk::smtp_client_test {
namespace {

// --- delivery ---------------------------------------------------------------------------------

TEST(SmtpClientTest, LinesStartingWithADotArriveIntactThroughSmtpSink) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  // Unstuffed, ".\r\n" would end the message there and "..two" would lose a dot.
  Sent sent =
      SendAll(RelayOptions(sink.port()),
              {Message({"ann@customer.test"},
                       ".leading dot\r\n..two dots\r\n.\r\n...\r\nafter a lone dot\r\n", "dots")});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  EXPECT_EQ(sent.results[0].code, 250);
  std::vector<std::string> dumps = sink.Messages(1);
  ASSERT_EQ(dumps.size(), 1u);
  EXPECT_NE(dumps[0].find("Subject: dots\n\n.leading dot\n..two dots\n.\n...\nafter a lone dot\n"),
            std::string::npos)
      << dumps[0];
  EXPECT_NE(dumps[0].find("X-Rcpt-Args: <ann@customer.test>"), std::string::npos) << dumps[0];
}

TEST(SmtpClientTest, FiftyPipelinedMessagesShareAtMostMaxConnections) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  SmtpClient::Options options = RelayOptions(sink.port());
  options.max_connections = 2;
  std::vector<OutboundMessage> messages;
  for (int i = 0; i < 50; ++i) {
    messages.push_back(Message({"ann@customer.test", "bob@customer.test"}, "Body.\r\n",
                               "message " + std::to_string(i)));
  }
  Sent sent = SendAll(options, std::move(messages));
  for (size_t i = 0; i < sent.results.size(); ++i) {
    EXPECT_EQ(KindName(sent.results[i].kind), "delivered") << i << ": " << sent.results[i].reply;
  }
  EXPECT_LE(sent.most_connections, 2u);
  EXPECT_EQ(sink.Messages(50).size(), 50u);
  SmtpSink::Counters counters = sink.Settled(50);
  EXPECT_EQ(counters.messages, 50);
  EXPECT_GE(counters.sessions, 1);
  EXPECT_LE(counters.sessions, 2) << "each connection should carry many messages";
  EXPECT_EQ(counters.quits, counters.sessions) << "every connection should end with QUIT";
}

TEST(SmtpClientTest, ConnectionIsReplacedAfterMaxMessagesPerConnection) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  SmtpClient::Options options = RelayOptions(sink.port());
  options.max_connections = 1;
  options.max_messages_per_connection = 3;
  std::vector<OutboundMessage> messages;
  for (int i = 0; i < 7; ++i) messages.push_back(Message({"ann@customer.test"}));
  Sent sent = SendAll(options, std::move(messages));
  for (const DeliveryResult& result : sent.results) {
    EXPECT_EQ(KindName(result.kind), "delivered") << result.reply;
  }
  SmtpSink::Counters counters = sink.Settled(7);
  EXPECT_EQ(counters.messages, 7);
  EXPECT_EQ(counters.sessions, 3);  // 3 + 3 + 1
  EXPECT_EQ(counters.quits, 3);
}

TEST(SmtpClientTest, LargeMessageArrivesWholeThroughSmtpSink) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  std::string body;
  for (int i = 0; i < 200000; ++i) {
    body += ".line " + std::to_string(i) + " " + std::string(64, 'x') + "\r\n";
  }
  Sent sent = SendAll(RelayOptions(sink.port()), {Message({"ann@customer.test"}, body)});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  std::vector<std::string> dumps = sink.Messages(1);
  ASSERT_EQ(dumps.size(), 1u);
  EXPECT_NE(dumps[0].find("\n\n.line 0 xxx"), std::string::npos);
  EXPECT_NE(dumps[0].find("\n.line 199999 " + std::string(64, 'x') + "\n"), std::string::npos);
  // smtp-sink writes LF line ends: one byte less per line.
  EXPECT_GT(dumps[0].size(), body.size() - 200000);
}

TEST(SmtpClientTest, StalledDataFailsAfterCommandTimeout) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  // Reads nothing for 3 s after DATA, through a small window: the data backs up at the client.
  ASSERT_TRUE(sink.Start({"-H", "3", "-T", "8192"}));
  std::string body;
  while (body.size() < 40u * 1024 * 1024) body += std::string(70, 'x') + "\r\n";
  SmtpClient::Options options = RelayOptions(sink.port());
  options.command_timeout = milliseconds(500);
  Sent sent = SendAll(options, {Message({"ann@customer.test"}, body)});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("could not send data for 500ms"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_LT(sent.after[0], milliseconds(2500));
}

TEST(SmtpClientTest, SlowButSteadyRelayIsNotTimedOutWhileDataFlows) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--slow-data", "524288"}));  // about 10 MB/s
  std::string body;
  while (body.size() < 24u * 1024 * 1024) body += std::string(70, 'x') + "\r\n";
  SmtpClient::Options options = RelayOptions(relay.port());
  // Less than the whole transfer takes; more than what the relay's and the kernel's buffers
  // hold after the last write takes to drain (the client cannot see that drain).
  options.command_timeout = milliseconds(1500);
  OutboundMessage message = Message({"ann@customer.test"}, body);
  size_t size = message.data.size();
  Sent sent = SendAll(options, {std::move(message)});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  EXPECT_GT(sent.after[0], milliseconds(1500));
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_EQ(relay.Events("message")[0]["size"], size);
}

TEST(SmtpClientTest, HostNameIsResolved) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  SmtpClient::Options options = RelayOptions(sink.port());
  options.host = "localhost";
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
}

TEST(SmtpClientTest, PipeliningSendsMailRcptAndDataInOneWrite) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({}));
  Sent sent = SendAll(RelayOptions(relay.port()),
                      {Message({"a@customer.test", "b@customer.test", "c@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  std::vector<nlohmann::json> commands = relay.Events("command");
  // EHLO, MAIL, RCPT x3, DATA, QUIT; MAIL and the RCPTs arrived with more behind them.
  ASSERT_EQ(commands.size(), 7u);
  EXPECT_EQ(commands[1]["line"],
            "MAIL FROM:<support@acme.test> SIZE=" + std::to_string(Message({}).data.size()));
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(commands[i]["batched"].get<bool>()) << commands[i];
  EXPECT_EQ(commands[5]["line"], "DATA");
  EXPECT_EQ(commands[6]["line"], "QUIT");
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_EQ(relay.Events("message")[0]["rcpt"].size(), 3u);
}

TEST(SmtpClientTest, WithoutPipeliningEachCommandWaitsForItsReply) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--no-pipelining"}));
  Sent sent =
      SendAll(RelayOptions(relay.port()), {Message({"a@customer.test", "b@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  std::vector<nlohmann::json> commands = relay.Events("command");
  ASSERT_EQ(commands.size(), 6u);  // EHLO MAIL RCPT RCPT DATA QUIT
  for (const auto& command : commands) EXPECT_FALSE(command["batched"].get<bool>()) << command;
}

TEST(SmtpClientTest, BareLineEndsAreSentAsCrLfAndTheLastLineIsEnded) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({}));
  OutboundMessage message;
  message.mail_from = "";
  message.rcpt_to = {"ann@customer.test"};
  message.data = "Subject: bare\n\nline one\nline two\rline three\r\n.dot";
  Sent sent = SendAll(RelayOptions(relay.port()), {message});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_EQ(relay.Events("message")[0]["raw"],
            "Subject: bare\r\n\r\nline one\r\nline two\r\nline three\r\n..dot\r\n.\r\n");
  EXPECT_EQ(relay.FirstCommand("MAIL")["line"].get<std::string>().rfind("MAIL FROM:<> ", 0), 0u);
}

TEST(SmtpClientTest, MultiLineGreetingAndHeloWhenEhloIsRefused) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "GREETING=220-relay.test first line\\n220 relay.test ESMTP",
                           "--reply", "EHLO=502 5.5.2 Error: command not recognized"}));
  Sent sent = SendAll(RelayOptions(relay.port()), {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  std::vector<std::string> commands = relay.Commands();
  ASSERT_GE(commands.size(), 3u);
  EXPECT_EQ(commands[0], "EHLO notify.postdesk.test");
  EXPECT_EQ(commands[1], "HELO notify.postdesk.test");
  EXPECT_EQ(commands[2], "MAIL FROM:<support@acme.test>");          // no SIZE: HELO offers nothing
  EXPECT_FALSE(relay.FirstCommand("MAIL")["batched"].get<bool>());  // nor PIPELINING
}

// --- STARTTLS ---------------------------------------------------------------------------------

TEST(SmtpClientTest, StartTlsIsUsedWhenOfferedAndEhloIsSentAgain) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--cert", TlsFiles::Get().cert, "--key", TlsFiles::Get().key}));
  auto tls = TlsContext::Client(TlsFiles::Get().cert);  // verifies the relay's certificate
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  SmtpClient::Options options = RelayOptions(relay.port());
  options.tls = tls.value();
  options.require_tls = true;
  options.max_connections = 1;
  Sent sent = SendAll(options, {Message({"ann@customer.test"}), Message({"bob@customer.test"})});
  for (const DeliveryResult& result : sent.results) {
    EXPECT_EQ(KindName(result.kind), "delivered") << result.reply;
  }
  ASSERT_EQ(relay.Events("tls").size(), 1u);
  std::vector<nlohmann::json> commands = relay.Events("command");
  ASSERT_GE(commands.size(), 4u);
  EXPECT_EQ(commands[0]["line"], "EHLO notify.postdesk.test");
  EXPECT_EQ(commands[1]["line"], "STARTTLS");
  EXPECT_EQ(commands[2]["line"], "EHLO notify.postdesk.test");  // RFC 3207 4.2
  EXPECT_TRUE(commands[2]["tls"].get<bool>());
  std::vector<nlohmann::json> messages = relay.Events("message");
  ASSERT_EQ(messages.size(), 2u);
  for (const auto& message : messages) EXPECT_TRUE(message["tls"].get<bool>());
  EXPECT_EQ(relay.Connections(), 1u);
}

TEST(SmtpClientTest, RequireTlsSendsNothingToARelayWithoutStartTls) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({}));
  auto tls = TlsContext::Client();
  ASSERT_TRUE(tls.ok());
  SmtpClient::Options options = RelayOptions(relay.port());
  options.tls = tls.value();
  options.require_tls = true;
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("does not offer STARTTLS"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_TRUE(relay.FirstCommand("MAIL").is_null());
}

TEST(SmtpClientTest, StartTlsRefusedGoesOnInClearUnlessTlsIsRequired) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--cert", TlsFiles::Get().cert, "--key", TlsFiles::Get().key, "--reply",
                           "STARTTLS=454 4.7.0 TLS not available now"}));
  auto tls = TlsContext::Client();
  ASSERT_TRUE(tls.ok());
  SmtpClient::Options options = RelayOptions(relay.port());
  options.tls = tls.value();
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_FALSE(relay.Events("message")[0]["tls"].get<bool>());

  options.require_tls = true;
  sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 454);
  EXPECT_EQ(relay.Events("message").size(), 1u);
}

TEST(SmtpClientTest, FailedTlsHandshakeFailsTemporarilyWithoutSending) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--cert", TlsFiles::Get().cert, "--key", TlsFiles::Get().key}));
  auto tls = TlsContext::Client(TlsFiles::Get().other_cert);  // the relay's is not trusted
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  SmtpClient::Options options = RelayOptions(relay.port());
  options.tls = tls.value();
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("TLS handshake"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_TRUE(relay.FirstCommand("MAIL").is_null());
}

}  // namespace
}  // namespace postdesk::smtp_client_test
