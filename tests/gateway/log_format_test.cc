#include "gateway/log_format.h"

#include <gtest/gtest.h>
#include <spdlog/sinks/ostream_sink.h>

#include <nlohmann/json.hpp>
#include <sstream>

namespace postdesk {
namespace {

TEST(LogFormat, LevelsAreTheFiveNames) {
  EXPECT_EQ(ParseLogLevel("warn").value(), spdlog::level::warn);
  EXPECT_EQ(ParseLogLevel("trace").value(), spdlog::level::trace);
  EXPECT_FALSE(ParseLogLevel("WARN").ok());
  EXPECT_FALSE(ParseLogLevel("verbose").ok());
}

// A HELO with controls, a line break, JSON of its own, an ANSI colour and a byte that is not
// UTF-8.
constexpr char kHelo[] = "evil\x01\r\n{\"x\":1}\x1b[31m\xff";

// Captures what the default logger writes, in the format under test.
class LogCapture : public ::testing::Test {
 protected:
  void SetUp() override {
    previous_ = spdlog::default_logger();
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    spdlog::set_default_logger(std::make_shared<spdlog::logger>("capture", sink));
    spdlog::set_level(spdlog::level::info);
  }
  void TearDown() override {
    spdlog::set_default_logger(previous_);
    InstallLogFormat(LogFormat::kText);
  }
  std::vector<std::string> Lines() {
    std::vector<std::string> lines;
    std::string line;
    std::istringstream in(out_.str());
    while (std::getline(in, line)) lines.push_back(line);
    return lines;
  }

  TransactionLogRecord Record(const DeliveryOutcome& outcome) {
    recipients_ = {{"support@acme.test", {}}, {"help+\"x\"@acme.test", {}}};
    TransactionLogRecord r;
    r.session_id = 0x1000000000002;
    r.transaction = 3;
    r.client = "192.0.2.7";
    r.tls = "TLSv1.3 TLS_AES_256_GCM_SHA384";
    r.helo = kHelo;
    r.mail_from = "ann@customer.test";
    r.recipients = recipients_;
    r.size = 1234;
    r.outcome = &outcome;
    r.ms = 17;
    return r;
  }

  std::ostringstream out_;
  std::shared_ptr<spdlog::logger> previous_;
  std::vector<SmtpRecipient> recipients_;
};

TEST_F(LogCapture, JsonFormatMakesEveryLineAnObject) {
  InstallLogFormat(LogFormat::kJson);
  spdlog::info("listening on {} with \"quotes\"", "127.0.0.1:2525");
  spdlog::warn("a\nsecond line");
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 2u);
  nlohmann::json first = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(first["level"], "info");
  EXPECT_EQ(first["msg"], "listening on 127.0.0.1:2525 with \"quotes\"");
  EXPECT_EQ(first["ts"].get<std::string>().size(), 24u);  // 2024-05-01T10:00:00.123Z
  EXPECT_EQ(first["ts"].get<std::string>().back(), 'Z');
  EXPECT_EQ(nlohmann::json::parse(lines[1])["msg"], "a\nsecond line");
}

TEST_F(LogCapture, JsonTransactionLineHasItsFieldsAsKeysWithClientTextEscaped) {
  InstallLogFormat(LogFormat::kJson);
  DeliveryOutcome outcome{
      "250 2.0.0 Ok: ticket 12, suspended 4 (loop)",
      "stored=\"ticket 12, suspended 4 (loop)\"",
      TransactionVerdict::kTicket,
      {{IngestOutcome::Kind::kTicket, 12, 0, ""}, {IngestOutcome::Kind::kSuspended, 4, 0, "loop"}},
      ""};
  LogTransaction(Record(outcome));
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);
  nlohmann::json line = nlohmann::json::parse(lines[0]);
  EXPECT_EQ(line["msg"], "transaction");
  EXPECT_EQ(line["level"], "info");
  EXPECT_EQ(line["session"], "1000000000002.3");
  EXPECT_EQ(line["client"], "192.0.2.7");
  EXPECT_EQ(line["tls"], "TLSv1.3/TLS_AES_256_GCM_SHA384");
  // Controls and 8-bit bytes stay escaped as text: nothing the client sent reaches the log raw.
  EXPECT_EQ(line["helo"], "evil\\x01\\x0d\\x0a{\"x\":1}\\x1b[31m\\xff");
  EXPECT_EQ(line["from"], "ann@customer.test");
  EXPECT_EQ(line["rcpt"], nlohmann::json::array({"support@acme.test", "help+\"x\"@acme.test"}));
  EXPECT_EQ(line["size"], 1234);
  EXPECT_EQ(line["outcome"], "ticket");
  EXPECT_EQ(line["ticket"], 12);
  ASSERT_EQ(line["outcomes"].size(), 2u);
  EXPECT_EQ(line["outcomes"][1]["outcome"], "suspended");
  EXPECT_EQ(line["outcomes"][1]["suspended"], 4);
  EXPECT_EQ(line["outcomes"][1]["cause"], "loop");
  EXPECT_EQ(line["reply"], "250 2.0.0 Ok: ticket 12, suspended 4 (loop)");
  EXPECT_EQ(line["ms"], 17);
}

TEST_F(LogCapture, JsonTransactionLineNamesTheCauseOfATempfail) {
  InstallLogFormat(LogFormat::kJson);
  DeliveryOutcome outcome{"451 4.3.0 Error: ticket storage unavailable, try again later",
                          "error=\"redis unavailable\"",
                          TransactionVerdict::kTempfail,
                          {},
                          "redis unavailable: Connection refused"};
  TransactionLogRecord r = Record(outcome);
  r.tls = "";
  LogTransaction(r);
  nlohmann::json line = nlohmann::json::parse(Lines().at(0));
  EXPECT_EQ(line["outcome"], "tempfail");
  EXPECT_EQ(line["cause"], "redis unavailable: Connection refused");
  EXPECT_EQ(line["tls"], "no");
  EXPECT_FALSE(line.contains("ticket"));
}

TEST_F(LogCapture, TextTransactionLineKeepsItsKeysAndAddsTls) {
  InstallLogFormat(LogFormat::kText);
  DeliveryOutcome outcome{"250 2.0.0 Ok: ticket 12",
                          "stored=\"ticket 12\"",
                          TransactionVerdict::kTicket,
                          {{IngestOutcome::Kind::kTicket, 12, 0, ""}},
                          ""};
  LogTransaction(Record(outcome));
  std::vector<std::string> lines = Lines();
  ASSERT_EQ(lines.size(), 1u);  // the CR LF of the HELO did not make a second line
  EXPECT_NE(
      lines[0].find(" info session=1000000000002.3 client=192.0.2.7 "
                    "tls=TLSv1.3/TLS_AES_256_GCM_SHA384 "
                    "helo=evil\\x01\\x0d\\x0a{\"x\":1}\\x1b[31m\\xff from=<ann@customer.test> "
                    "to=<support@acme.test,help+\"x\"@acme.test> size=1234 "
                    "stored=\"ticket 12\" reply=\"250 2.0.0 Ok: ticket 12\" ms=17"),
      std::string::npos)
      << lines[0];
}

TEST_F(LogCapture, NothingIsBuiltBelowTheLevel) {
  spdlog::set_level(spdlog::level::warn);
  DeliveryOutcome outcome{"250 2.0.0 Ok: ticket 1", "stored=\"ticket 1\""};
  LogTransaction(Record(outcome));
  EXPECT_TRUE(Lines().empty());
}

}  // namespace
}  // namespace postdesk
