// The session tests' fake transport, configuration and fixture: smtp_session_test.cc and
// smtp_session_chunking_test.cc drive an SmtpSession through them, with no socket or loop.
#ifndef POSTDESK_TESTS_GATEWAY_SMTP_SESSION_FIXTURE_H_
#define POSTDESK_TESTS_GATEWAY_SMTP_SESSION_FIXTURE_H_

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "gateway/smtp_session.h"

namespace postdesk {

// A transport that records what the session does, and lets the test answer deliveries.
class FakeTransport : public SmtpSession::Transport {
 public:
  void Write(std::string_view bytes) override {
    if (closes > 0) ++writes_after_close;
    written += bytes;
    // As SmtpConnection::Write does when the socket write fails: report it from inside Write().
    if (fail_writes_of) fail_writes_of->OnDisconnected("write failed");
  }
  void SetReading(bool r) override { reading = r; }
  void SetTimeout(std::chrono::milliseconds t) override {
    timeout = t;
    ++timeouts_armed;
  }
  void Close() override { ++closes; }
  void Deliver(SmtpTransaction* transaction) override {
    delivered.push_back(std::move(*transaction));
    // As Delivery does, an earlier transaction's buffers come back; here with stale contents,
    // every one of which the session must overwrite.
    *transaction = StaleTransaction();
    // As Delivery does for a small message while storage is down: the answer comes at once.
    if (answer_at_once) answer_at_once->OnDelivered({answer, "at once"});
  }
  bool TlsOffered() override { return tls_offered; }
  void StartTls() override {
    ++tls_starts;
    tls_offered = false;
  }
  bool UnderStress() override { return under_stress; }

  static SmtpTransaction StaleTransaction() {
    SmtpTransaction stale;
    stale.id = "stale.id";
    stale.client_ip = "203.0.113.99";
    stale.helo = "stale.helo.test";
    stale.mail_from = "stale-sender@stale.test";
    for (int i = 0; i < 3; ++i) {
      stale.recipients.push_back({"stale-recipient@stale.test", {7, "stale@stale.test", true}});
    }
    stale.message = "Subject: stale\r\n\r\nstale\r\n";
    return stale;
  }

  // The reply lines written since the last call.
  std::vector<std::string> TakeLines() {
    std::vector<std::string> lines;
    size_t pos = 0;
    while (true) {
      size_t end = written.find("\r\n", pos);
      if (end == std::string::npos) break;
      lines.push_back(written.substr(pos, end - pos));
      pos = end + 2;
    }
    written.erase(0, pos);
    return lines;
  }

  std::string written;
  bool reading = true;
  std::chrono::milliseconds timeout{0};
  int closes = 0;
  int writes_after_close = 0;
  int timeouts_armed = 0;
  SmtpSession* fail_writes_of = nullptr;
  std::vector<SmtpTransaction> delivered;
  SmtpSession* answer_at_once = nullptr;
  std::string answer;
  bool tls_offered = false;
  int tls_starts = 0;
  bool under_stress = false;
};

inline std::shared_ptr<const ServingState> TestState() {
  Result<Config> config = ParseConfig(R"(
[smtp]
hostname = "mx.postdesk.test"
[limits]
max_message_size = "2KiB"
max_errors = 5
[[brand]]
name = "acme"
addresses = ["support@acme.test", "help@acme.test"]
wildcards = ["*@in.acme.test"]
[[brand]]
name = "globex"
addresses = ["help@globex.test"]
)",
                                      "test.toml");
  EXPECT_TRUE(config.ok()) << config.status().message();
  return std::make_shared<const ServingState>(std::move(config).value());
}

class SmtpSessionTest : public ::testing::Test {
 protected:
  SmtpSessionTest() : session_(7, "192.0.2.1", TestState(), &transport_) {
    session_.Start();
    transport_.TakeLines();
  }

  // Sends one command line and returns the reply lines it produced.
  std::vector<std::string> Send(std::string_view line) {
    session_.OnBytes(std::string(line) + "\r\n");
    return transport_.TakeLines();
  }
  std::string SendOne(std::string_view line) {
    std::vector<std::string> lines = Send(line);
    EXPECT_EQ(lines.size(), 1u) << line;
    return lines.empty() ? "" : lines.back();
  }
  void StartTransaction() {
    Send("EHLO client.test");
    ASSERT_EQ(SendOne("MAIL FROM:<ann@customer.test>"), "250 2.1.0 Ok");
    ASSERT_EQ(SendOne("RCPT TO:<support@acme.test>"), "250 2.1.5 Ok");
  }

  FakeTransport transport_;
  SmtpSession session_;
};

}  // namespace postdesk

#endif  // POSTDESK_TESTS_GATEWAY_SMTP_SESSION_FIXTURE_H_
