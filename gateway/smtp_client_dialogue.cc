#include <spdlog/spdlog.h>

#include <utility>

#include "gateway/log_text.h"
#include "gateway/smtp_client_connection.h"
#include "parser/smtp_reply.h"

namespace postdesk {
namespace {

using relay::FromReply;
using relay::ParseExtensions;

}  // namespace

const char* SmtpClient::Connection::StepName(Step step) {
  switch (step) {
    case Step::kGreeting:
      return "the greeting";
    case Step::kEhlo:
      return "EHLO";
    case Step::kHelo:
      return "HELO";
    case Step::kStartTls:
      return "STARTTLS";
    case Step::kMail:
      return "MAIL";
    case Step::kRcpt:
      return "RCPT";
    case Step::kData:
      return "DATA";
    case Step::kBody:
    case Step::kAbortDot:
      return "the end of data";
    case Step::kRset:
      return "RSET";
    case Step::kQuit:
      return "QUIT";
  }
  return "?";
}

void SmtpClient::Connection::ProcessInput(std::string_view plaintext) {
  in_.append(plaintext);
  while (!closing_) {
    size_t eol = in_.find('\n', scan_);
    if (eol == std::string::npos) break;
    std::string_view line(in_.data() + scan_, eol - scan_);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::optional<SmtpReplyLine> parsed = ParseSmtpReplyLine(line);
    if (!parsed) {
      ProtocolError("malformed reply line \"" + EscapeForLog(line, 100) + "\"");
      return;
    }
    scan_ = eol + 1;
    if (scan_ > kMaxReplyBytes) break;  // refused below
    if (!parsed->last) continue;
    Reply reply;
    reply.code = parsed->code;
    std::string_view whole(in_.data(), scan_);
    while (!whole.empty()) {
      size_t end = whole.find('\n');
      std::string_view one = whole.substr(0, end);
      if (!one.empty() && one.back() == '\r') one.remove_suffix(1);
      reply.lines.emplace_back(one);
      whole.remove_prefix(end + 1);
    }
    in_.erase(0, scan_);
    scan_ = 0;
    OnReply(reply);
  }
  if (!closing_ && in_.size() > kMaxReplyBytes) {
    ProtocolError("reply longer than " + std::to_string(kMaxReplyBytes) + " bytes");
  }
}

void SmtpClient::Connection::OnReply(const Reply& reply) {
  if (steps_.empty()) {
    // Nothing asked: a relay closing an idle connection says 421 first (RFC 5321 3.8).
    if (phase_ == Phase::kIdle || phase_ == Phase::kQuitting) {
      spdlog::debug("smtp client {}: connection {} closed by the relay: {}", host_port_, id_,
                    EscapeForLog(reply.Text()));
      CloseHandles();
    } else {
      ProtocolError("unexpected reply \"" + EscapeForLog(reply.Text(), 100) + "\"");
    }
    return;
  }
  Step step = steps_.front();
  steps_.pop_front();
  if (!steps_.empty()) Arm(TimerFor::kReply, options_.command_timeout);  // the next one's turn
  if (step == Step::kQuit) {
    CloseHandles();
    return;
  }
  if (reply.code == 421) {
    // RFC 5321 3.8: the relay is closing the connection; nothing more will be answered.
    Fail(reply.code, reply.Text());
    return;
  }
  switch (step) {
    case Step::kGreeting:
      if (reply.Class() == 2) {
        SendHello(true);
      } else {
        Fail(reply.code, reply.Text());  // 554: no SMTP service here (RFC 5321 3.1)
      }
      return;
    case Step::kEhlo:
      if (reply.Class() == 2) {
        ext_ = ParseExtensions(reply);
        AfterHello();
      } else if (reply.Class() == 5) {
        SendHello(false);  // RFC 5321 3.2: a server without EHLO answers it 5xx
      } else {
        Fail(reply.code, reply.Text());
      }
      return;
    case Step::kHelo:
      if (reply.Class() == 2) {
        ext_ = Extensions{};
        AfterHello();
      } else {
        Fail(reply.code, reply.Text());
      }
      return;
    case Step::kStartTls:
      if (reply.Class() == 2) {
        // Whatever arrived after the 220 came in clear but would be read as if under TLS: the
        // STARTTLS response injection (CVE-2011-0411's client side). Nothing may be there.
        if (!in_.empty()) {
          ProtocolError("data after the 220 to STARTTLS, before the TLS handshake");
          return;
        }
        BeginTls();
      } else if (options_.require_tls) {
        Fail(reply.code, reply.Text());
      } else {
        // RFC 3207 4.1: the session goes on in clear, with what EHLO offered.
        spdlog::warn("smtp client {}: STARTTLS refused, sending in clear: {}", host_port_,
                     EscapeForLog(reply.Text()));
        tls_refused_ = true;
        AfterHello();
      }
      return;
    case Step::kMail:
      OnMailReply(reply);
      return;
    case Step::kRcpt:
      OnRcptReply(reply);
      return;
    case Step::kData:
      OnDataReply(reply);
      return;
    case Step::kBody: {
      // No RSET after this, whatever the reply: the end of data ends the transaction and clears
      // the relay's buffers (RFC 5321 3.3).
      Finish(WithRecipients(FromReply(reply)));
      Ready();
      return;
    }
    case Step::kAbortDot:
      return;  // the empty message that ended an accepted DATA no recipient could use
    case Step::kRset:
      if (reply.Class() == 2) {
        Ready();
      } else {
        Quit();  // the relay's state is unknown: do not start another transaction on it
      }
      return;
    case Step::kQuit:
      return;
  }
}

void SmtpClient::Connection::OnDisconnected(const std::string& why) {
  if (closing_) return;
  if (phase_ == Phase::kIdle || phase_ == Phase::kQuitting) {
    spdlog::debug("smtp client {}: connection {} ended: {}", host_port_, id_, why);
    CloseHandles();
    return;
  }
  std::string during = steps_.empty() ? (tls_ ? "the TLS handshake" : "setup")
                                      : std::string(StepName(steps_.front()));
  Fail(0, "relay " + Relay() + ": " + why + " (awaiting " + during + ")");
}

void SmtpClient::Connection::ProtocolError(const std::string& what) {
  Fail(0, "relay " + Relay() + ": " + what);
}

void SmtpClient::Connection::SendHello(bool ehlo) {
  if (!Write((ehlo ? "EHLO " : "HELO ") + options_.helo_name + "\r\n")) return;
  Expect(ehlo ? Step::kEhlo : Step::kHelo);
}

void SmtpClient::Connection::AfterHello() {
  if (!tls_ && !tls_refused_ && options_.tls && ext_.starttls) {
    if (!Write("STARTTLS\r\n")) return;
    Expect(Step::kStartTls);
    return;
  }
  if (!tls_ && options_.require_tls) {
    Fail(0, "relay " + Relay() + (options_.tls ? " does not offer STARTTLS" : "") +
                ": require_tls" + (options_.tls ? "" : " without a TLS context") +
                ", nothing is sent in clear");
    return;
  }
  spdlog::debug("smtp client {}: connection {} ready ({}, pipelining {})", host_port_, id_,
                tls_ ? tls_->Describe() : "no TLS", ext_.pipelining);
  Ready();
}

void SmtpClient::Connection::BeginTls() {
  // The relay's name as SNI (a smarthost behind a shared address picks its certificate by it).
  Result<std::unique_ptr<TlsStream>> stream = TlsStream::Create(options_.tls, options_.host);
  if (!stream.ok()) {
    Fail(0, stream.status().message());
    return;
  }
  tls_ = std::move(stream).value();
  if (!WriteToSocket(tls_->TakeOutput())) return;  // the ClientHello
  Arm(TimerFor::kTlsHandshake, options_.command_timeout);
}

void SmtpClient::Connection::Ready() {
  if (closing_) return;
  phase_ = Phase::kIdle;
  if (client_->closing_ || messages_ >= options_.max_messages_per_connection) {
    Quit();
    return;
  }
  std::unique_ptr<Job> job = client_->TakeJobFor(*this);
  if (job) {
    Take(std::move(job));
    return;
  }
  Arm(TimerFor::kIdle, options_.idle_timeout);
}

void SmtpClient::Connection::Take(std::unique_ptr<Job> job) {
  assert(idle());
  job_ = std::move(job);
  tx_ = Transaction{};
  tx_.pipelined = ext_.pipelining;
  phase_ = Phase::kTransaction;
  ++messages_;
  std::string mail = "MAIL FROM:<" + job_->mail_from + ">";
  if (ext_.size) mail += " SIZE=" + std::to_string(job_->size);
  if (job_->eight_bit && ext_.eight_bit_mime) mail += " BODY=8BITMIME";
  if (job_->utf8_addresses) mail += " SMTPUTF8";  // TakeJobFor checked it is offered
  mail += "\r\n";
  if (!tx_.pipelined) {
    if (!Write(std::move(mail))) return;
    Expect(Step::kMail);
    return;
  }
  // RFC 2920 3.1: MAIL, every RCPT and DATA in one group, the replies read in order after.
  std::string group = std::move(mail);
  for (const std::string& rcpt : job_->rcpt_to) group += "RCPT TO:<" + rcpt + ">\r\n";
  group += "DATA\r\n";
  tx_.rcpt_sent = job_->rcpt_to.size();
  if (!Write(std::move(group))) return;
  Expect(Step::kMail);
  for (size_t i = 0; i < job_->rcpt_to.size(); ++i) Expect(Step::kRcpt);
  Expect(Step::kData);
}

void SmtpClient::Connection::SendNextRcpt() {
  const std::string& rcpt = job_->rcpt_to[tx_.rcpt_sent++];
  if (!Write("RCPT TO:<" + rcpt + ">\r\n")) return;
  Expect(Step::kRcpt);
}

void SmtpClient::Connection::OnMailReply(const Reply& reply) {
  tx_.mail = reply;
  if (tx_.pipelined) return;  // the RCPT and DATA replies follow; OnDataReply decides
  if (reply.Class() == 2) {
    SendNextRcpt();
  } else {
    FailTransaction(FromReply(reply));
  }
}

void SmtpClient::Connection::OnRcptReply(const Reply& reply) {
  const std::string& rcpt = job_->rcpt_to[tx_.rcpt_replies++];
  if (reply.Class() == 2) {
    ++tx_.accepted;
  } else if (reply.Class() == 5) {
    tx_.refused.push_back(rcpt);
    if (!tx_.permanent) tx_.permanent = reply;
  } else {
    tx_.deferred.push_back(rcpt);
    if (!tx_.temporary) tx_.temporary = reply;
  }
  if (tx_.pipelined) return;
  if (tx_.rcpt_sent < job_->rcpt_to.size()) {
    SendNextRcpt();
  } else if (tx_.accepted == 0) {
    FailTransaction(RecipientVerdict());
  } else if (Write("DATA\r\n")) {
    Expect(Step::kData);
  }
}

// No recipient accepted: permanent only when every refusal was.
DeliveryResult SmtpClient::Connection::RecipientVerdict() const {
  DeliveryResult result = tx_.temporary ? FromReply(*tx_.temporary) : FromReply(*tx_.permanent);
  if (tx_.temporary) result.kind = DeliveryResult::Kind::kTemporary;
  return WithRecipients(std::move(result));
}

DeliveryResult SmtpClient::Connection::WithRecipients(DeliveryResult result) const {
  result.refused = tx_.refused;
  result.deferred = tx_.deferred;
  return result;
}

void SmtpClient::Connection::OnDataReply(const Reply& reply) {
  std::optional<DeliveryResult> failure;
  if (tx_.mail.Class() != 2) {
    failure = FromReply(tx_.mail);  // the RCPT and DATA replies only say "need MAIL first"
  } else if (tx_.accepted == 0) {
    failure = RecipientVerdict();  // DATA got 503 or 554 "no valid recipients"
  } else if (reply.code != 354) {
    failure = WithRecipients(FromReply(reply));
    if (reply.Class() == 2) failure->kind = DeliveryResult::Kind::kTemporary;  // not 354
  }
  if (!failure) {
    std::string wire = std::move(job_->wire);
    if (!Write(std::move(wire))) return;
    Expect(Step::kBody);
    return;
  }
  if (reply.code == 354) {
    // A relay that accepted DATA though nothing can be sent gets an empty message ended at
    // once (RFC 2920 3.1), and the RSET right behind it.
    Finish(std::move(*failure));
    if (!Write(".\r\nRSET\r\n")) return;
    Expect(Step::kAbortDot);
    Expect(Step::kRset);
    return;
  }
  FailTransaction(std::move(*failure));
}

void SmtpClient::Connection::Finish(DeliveryResult result) {
  if (!job_) return;
  spdlog::debug("smtp client {}: connection {}: {} {} {}", host_port_, id_, KindName(result.kind),
                result.code, EscapeForLog(result.reply));
  client_->Complete(std::move(job_->done), std::move(result));
  job_.reset();
}

void SmtpClient::Connection::FailTransaction(DeliveryResult result) {
  Finish(std::move(result));
  if (!Write("RSET\r\n")) return;  // RFC 5321 4.1.1.5: the next transaction starts clean
  Expect(Step::kRset);
}

void SmtpClient::Connection::Quit() {
  phase_ = Phase::kQuitting;
  steps_.clear();
  if (!Write("QUIT\r\n")) return;
  Expect(Step::kQuit);
}

void SmtpClient::Connection::Shutdown() {
  if (closing_ || phase_ == Phase::kQuitting) return;
  if (phase_ == Phase::kIdle) {
    Quit();
    return;
  }
  // Between transactions (the RSET after a failed one is out): Ready() QUITs once it is answered.
  if (phase_ == Phase::kTransaction && !job_) return;
  Fail(0, "client closing");
}

void SmtpClient::Connection::Expect(Step step) {
  steps_.push_back(step);
  if (steps_.size() == 1) Arm(TimerFor::kReply, options_.command_timeout);
}

}  // namespace postdesk
