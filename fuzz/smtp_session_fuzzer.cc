// libFuzzer target: byte streams from a hostile client into SmtpSession, through a fake
// Transport that checks the session's side of the Transport contract.
//
// Input layout: byte 0 picks the limits (message size, line length, error limit); bytes 1-4 seed
// a PRNG that schedules the run: how the rest is split into reads, when deliveries are answered
// (250 or 451), and when a timeout, a shutdown, a write failure, a disconnect or a change of
// stress happens. The rest is what the client sends. Seeds in smtp_session_fuzzer/ are 5 control
// bytes, then a dialogue.
//
// Every property violation aborts (libFuzzer reports it as a crash):
//  - every Write() is whole reply lines: 3 digits, ' ' or '-', text without CR or LF, CRLF, and
//    the lines of a multi-line reply share their code (RFC 5321 4.2.1);
//  - the first line written is a 220 greeting (RFC 5321 4.3.1);
//  - nothing is written, delivered or closed after Close(); Close() is called at most once;
//  - the news of stress (OnStress) never writes or closes;
//  - at most one Deliver() is outstanding, and reading is off while it is (backpressure);
//  - a delivered message is our Received: header (well-formed, CRLF lines) followed by at most
//    max_message_size bytes, for 1 to max_recipients recipients;
//  - the output is bounded by the input: < 64 bytes per input byte + 4096;
//  - a session built on the buffers that the previous input's session left (as a connection
//    kept by ServerLoop gives them to its next one) writes and delivers exactly what a fresh
//    session does (the date in our Received: header aside).
#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "gateway/config.h"
#include "gateway/smtp_session.h"
#include "gateway/smtp_transaction.h"

namespace postdesk {
namespace {

// xorshift32: the schedule must be a pure function of the input, for reproducible crashes.
class Prng {
 public:
  explicit Prng(uint32_t seed) : state_(seed ? seed : 0x9e3779b9u) {}
  uint32_t Next() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 17;
    state_ ^= state_ << 5;
    return state_;
  }
  bool OneIn(uint32_t n) { return Next() % n == 0; }

 private:
  uint32_t state_;
};

std::shared_ptr<const ServingState> MakeState(size_t max_message_size, size_t max_line_length,
                                              size_t max_errors) {
  Result<Config> config = ParseConfig(R"(
[smtp]
hostname = "mx.postdesk.test"
[[brand]]
name = "acme"
addresses = ["support@acme.test", "help@acme.test"]
wildcards = ["*@in.acme.test"]
[[brand]]
name = "globex"
addresses = ["help@globex.test"]
)",
                                      "fuzz.toml");
  if (!config.ok()) {
    std::fprintf(stderr, "fuzz config: %s\n", config.status().message().c_str());
    std::abort();
  }
  // Within the ranges that ParseConfig accepts for [limits], at their small ends, so that the
  // fuzzer reaches every limit with short inputs.
  config->limits.max_message_size = max_message_size;
  config->limits.max_line_length = max_line_length;
  config->limits.max_errors = max_errors;
  return std::make_shared<const ServingState>(std::move(config).value());
}

const std::shared_ptr<const ServingState>& StateFor(uint8_t selector) {
  static const std::shared_ptr<const ServingState> kStates[8] = {
      MakeState(1024, 512, 20),      MakeState(1024, 512, 3),
      MakeState(2048, 2048, 20),     MakeState(1024, 2048, 1),
      MakeState(64 * 1024, 512, 20), MakeState(1024, 65536, 1000),
      MakeState(4096, 1000, 5),      MakeState(25 * 1024 * 1024, 2048, 20),
  };
  return kStates[selector % 8];
}

// gateway/smtp_session.cc's kMaxPendingWhileDelivering.
constexpr size_t kMaxHeldWhileDelivering = 64 * 1024;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

class CheckingTransport : public SmtpSession::Transport {
 public:
  CheckingTransport(const LimitsConfig& limits, Prng* prng) : limits_(limits), prng_(prng) {}

  void set_session(SmtpSession* session) { session_ = session; }

  void Write(std::string_view bytes) override {
    FUZZ_CHECK(!closed_);
    FUZZ_CHECK(!bytes.empty());
    written_ += bytes.size();
    record_.append(bytes);
    CheckReplyLines(bytes);
    // SmtpConnection::Write reports a failed write to the session from inside Write().
    if (prng_->OneIn(512)) session_->OnDisconnected("write failed");
  }

  void SetReading(bool reading) override {
    FUZZ_CHECK(!closed_);
    reading_ = reading;
  }

  void SetTimeout(std::chrono::milliseconds timeout) override { FUZZ_CHECK(timeout.count() > 0); }

  void Close() override {
    FUZZ_CHECK(!closed_);
    closed_ = true;
  }

  void Deliver(SmtpTransaction* transaction) override {
    SmtpTransaction tx = std::move(*transaction);
    FUZZ_CHECK(!closed_);
    FUZZ_CHECK(!delivering_);
    FUZZ_CHECK(!tx.recipients.empty());
    FUZZ_CHECK(tx.recipients.size() <= limits_.max_recipients);
    size_t header_end = CheckMessage(tx.message);
    record_.append("\n[delivered]").append(tx.helo).append("\n").append(tx.mail_from);
    for (const SmtpRecipient& r : tx.recipients) record_.append("\n").append(r.address);
    record_.append("\n").append(tx.message, header_end);
    delivering_ = true;
    fed_while_delivering_ = 0;
  }

  // TLS is offered once; the handshake never completes here, so everything after STARTTLS
  // must be discarded by the session (CVE-2011-0411), which the reply checks would notice.
  bool UnderStress() override { return under_stress_; }
  bool TlsOffered() override { return !tls_started_; }
  void StartTls() override {
    FUZZ_CHECK(!closed_);
    FUZZ_CHECK(!tls_started_);
    tls_started_ = true;
  }

  bool closed() const { return closed_; }
  void ToggleStress() { under_stress_ = !under_stress_; }
  bool reading() const { return reading_; }
  bool delivering() const { return delivering_; }
  void Delivered() { delivering_ = false; }

  // The session reads on while a delivery is outstanding, but holds at most
  // kMaxHeldWhileDelivering bytes before it stops reading: memory per session stays bounded
  // however fast a client pipelines.
  void Fed(size_t bytes) {
    if (!delivering_) return;
    fed_while_delivering_ += bytes;
    if (reading_) FUZZ_CHECK(fed_while_delivering_ <= kMaxHeldWhileDelivering);
  }
  size_t written() const { return written_; }
  // Everything written and delivered, in order.
  const std::string& record() const { return record_; }

 private:
  bool tls_started_ = false;
  bool under_stress_ = false;
  void CheckReplyLines(std::string_view bytes) {
    size_t pos = 0;
    while (pos < bytes.size()) {
      size_t end = bytes.find("\r\n", pos);
      FUZZ_CHECK(end != std::string_view::npos);  // whole lines only
      std::string_view line = bytes.substr(pos, end - pos);
      FUZZ_CHECK(line.size() >= 4);
      FUZZ_CHECK(IsDigit(line[0]) && IsDigit(line[1]) && IsDigit(line[2]));
      FUZZ_CHECK(line[0] >= '2' && line[0] <= '5');
      FUZZ_CHECK(line[3] == ' ' || line[3] == '-');
      FUZZ_CHECK(line.find_first_of("\r\n") == std::string_view::npos);
      if (lines_ == 0) FUZZ_CHECK(line.substr(0, 4) == "220 ");
      if (!continued_code_.empty()) FUZZ_CHECK(line.substr(0, 3) == continued_code_);
      continued_code_ = line[3] == '-' ? std::string(line.substr(0, 3)) : std::string();
      ++lines_;
      pos = end + 2;
    }
    // A multi-line reply is never split across writes: the client waits for its last line.
    FUZZ_CHECK(continued_code_.empty());
  }

  // Returns where our Received: header ends.
  size_t CheckMessage(std::string_view message) {
    FUZZ_CHECK(message.substr(0, 15) == "Received: from ");
    // The header ends at the first CRLF that is not followed by folding whitespace.
    size_t end = 0;
    while (true) {
      end = message.find("\r\n", end);
      FUZZ_CHECK(end != std::string_view::npos);
      end += 2;
      if (end >= message.size() || (message[end] != '\t' && message[end] != ' ')) break;
    }
    std::string_view header = message.substr(0, end);
    FUZZ_CHECK(header.size() < 1024);
    for (size_t i = 0; i < header.size(); ++i) {
      if (header[i] == '\r') FUZZ_CHECK(i + 1 < header.size() && header[i + 1] == '\n');
      if (header[i] == '\n') FUZZ_CHECK(i > 0 && header[i - 1] == '\r');
      FUZZ_CHECK(header[i] != '\0');
    }
    // The client's data, less the empty line the session puts before data that starts with
    // white space (which would otherwise continue our header).
    size_t data = message.size() - end;
    if (message.substr(end, 2) == "\r\n" && end + 2 < message.size() &&
        (message[end + 2] == ' ' || message[end + 2] == '\t')) {
      data -= 2;
    }
    FUZZ_CHECK(data <= limits_.max_message_size);
    return end;
  }

  const LimitsConfig& limits_;
  Prng* const prng_;
  SmtpSession* session_ = nullptr;
  bool closed_ = false;
  bool reading_ = true;
  bool delivering_ = false;
  size_t fed_while_delivering_ = 0;
  size_t written_ = 0;
  std::string record_;
  size_t lines_ = 0;
  std::string continued_code_;
};

void Answer(SmtpSession* session, CheckingTransport* transport, Prng* prng) {
  transport->Delivered();
  if (prng->OneIn(3)) {
    session->OnDelivered({"451 4.3.0 Error: ticket storage unavailable, try again later", "down"});
  } else {
    session->OnDelivered({"250 2.0.0 Ok: ticket 1", "tickets=1"});
  }
}

// One run of the input on a session built on `buffers`; returns the transport's record and
// leaves the closed session's buffers in `*left`.
std::string RunSession(const uint8_t* data, size_t size, SmtpSession::Buffers buffers,
                       SmtpSession::Buffers* left) {
  const auto& state = StateFor(data[0]);
  Prng prng(static_cast<uint32_t>(data[1]) | static_cast<uint32_t>(data[2]) << 8 |
            static_cast<uint32_t>(data[3]) << 16 | static_cast<uint32_t>(data[4]) << 24);
  std::string_view input(reinterpret_cast<const char*>(data) + 5, size - 5);

  CheckingTransport transport(state->config.limits, &prng);
  SmtpSession session(1, "192.0.2.1", state, &transport, std::move(buffers));
  transport.set_session(&session);
  session.Start();
  FUZZ_CHECK(transport.written() > 0 || transport.closed());

  size_t pos = 0;
  while (pos < input.size() && !transport.closed()) {
    uint32_t event = prng.Next() % 256;
    if (transport.delivering() && (!transport.reading() || event < 64)) {
      // Delivery answers between reads; it must come before more input while reading is off.
      Answer(&session, &transport, &prng);
      continue;
    }
    if (event == 255) {
      session.OnTimeout();
      continue;
    }
    if (event == 254) {
      session.Shutdown();
      continue;
    }
    if (event == 253) {
      session.OnDisconnected("client closed the connection");
      break;
    }
    if (event == 252) {  // stress begins or ends; its news only re-arms a timer
      transport.ToggleStress();
      const size_t written = transport.written();
      session.OnStress();
      FUZZ_CHECK(transport.written() == written && !transport.closed());
      continue;
    }
    // Mostly small reads, to split commands, CRLFs and dots; sometimes big ones.
    uint32_t r = prng.Next();
    size_t chunk = (r & 3) == 0 ? 1 + (r >> 2) % 4096 : 1 + (r >> 2) % 16;
    chunk = std::min(chunk, input.size() - pos);
    bool held = transport.delivering();  // else the chunk may have started the delivery
    session.OnBytes(input.substr(pos, chunk));
    if (held) transport.Fed(chunk);
    pos += chunk;
  }
  // Each answer may let pipelined input start the next transaction.
  while (transport.delivering()) Answer(&session, &transport, &prng);
  switch (prng.Next() % 4) {
    case 0:
      session.OnTimeout();
      break;
    case 1:
      session.Shutdown();
      break;
    case 2:
      session.OnDisconnected("client closed the connection");
      break;
    default:
      break;
  }
  // Late events must be harmless: a timer that fired as the session closed, a duplicate or
  // stray delivery outcome (nothing is outstanding any more).
  session.OnTimeout();
  session.OnDelivered({"250 2.0.0 Ok: ticket 2", "tickets=2"});
  FUZZ_CHECK(transport.written() < 64 * size + 4096);
  if (transport.closed()) FUZZ_CHECK(session.state() == SmtpSession::State::kClosed);
  // The connection's handles close after the session has: then it gives up its buffers.
  session.OnDisconnected("end of input");
  *left = session.TakeBuffers();
  return transport.record();
}

}  // namespace
}  // namespace postdesk

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  spdlog::set_level(spdlog::level::off);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using postdesk::SmtpSession;
  if (size < 5) return 0;
  // What the previous input's session left, as a kept connection holds it for the next one.
  static SmtpSession::Buffers kept;
  SmtpSession::Buffers unused;
  const std::string fresh = postdesk::RunSession(data, size, {}, &unused);
  const std::string reused = postdesk::RunSession(data, size, std::move(kept), &kept);
  FUZZ_CHECK(reused == fresh);
  return 0;
}
