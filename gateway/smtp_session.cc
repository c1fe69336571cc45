#include "gateway/smtp_session.h"

#include <spdlog/spdlog.h>

#include <array>
#include <cassert>
#include <charconv>
#include <ctime>

#include "gateway/log_format.h"
#include "gateway/metrics.h"
#include "parser/email_address.h"
#include "parser/json_string.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

// Input a client may pipeline behind a message being stored before reading pauses (RFC 2920
// allows the next transaction's commands there; nothing needs more than the read buffer).
constexpr size_t kMaxPendingWhileDelivering = 64 * 1024;

// Command flags, as in Postfix's smtpd command table.
constexpr unsigned kNeedsHelo = 1;  // only after HELO/EHLO (RFC 5321 4.1.4)
constexpr unsigned kNoArgs = 2;     // takes no argument (RFC 5321 4.1.1.4, 4.1.1.5, 4.1.1.10)
constexpr unsigned kBetweenChunks = 4;  // allowed between BDAT chunks (RFC 3030 2)

// RFC 5322 3.3, in UTC.
void AppendRfc5322Date(std::time_t now, std::string* out) {
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[64];
  size_t n = std::strftime(buf, sizeof(buf), "%a, %d %b %Y %H:%M:%S +0000", &tm);
  out->append(buf, n);
}

// RFC 5321 4.4: the "from" clause carries the client's HELO text, which we must not let break
// the header: anything outside printable ASCII, parentheses and brackets is replaced.
void AppendSanitizedHelo(std::string_view helo, std::string* out) {
  const size_t start = out->size();
  for (char c : helo.substr(0, 255)) {
    auto u = static_cast<unsigned char>(c);
    out->push_back((u > 32 && u < 127 && c != '(' && c != ')' && c != '[' && c != ']') ? c : '_');
  }
  if (out->size() == start) out->append("unknown");
}

}  // namespace

struct SmtpSession::CommandSpec {
  SmtpVerb verb;
  unsigned flags;
  void (SmtpSession::*handler)(std::string_view arg);
};

const SmtpSession::CommandSpec* SmtpSession::FindCommand(SmtpVerb verb) {
  static constexpr std::array<CommandSpec, 14> kCommands = {{
      {SmtpVerb::kHelo, 0, &SmtpSession::DoHelo},
      {SmtpVerb::kEhlo, 0, &SmtpSession::DoEhlo},
      {SmtpVerb::kMail, kNeedsHelo, &SmtpSession::DoMail},
      {SmtpVerb::kRcpt, kNeedsHelo, &SmtpSession::DoRcpt},
      {SmtpVerb::kData, kNeedsHelo | kNoArgs, &SmtpSession::DoData},
      {SmtpVerb::kRset, kNoArgs | kBetweenChunks, &SmtpSession::DoRset},
      // RFC 5321 4.1.1.9: a parameter is ignored.
      {SmtpVerb::kNoop, kBetweenChunks, &SmtpSession::DoNoop},
      {SmtpVerb::kQuit, kNoArgs | kBetweenChunks, &SmtpSession::DoQuit},
      {SmtpVerb::kVrfy, 0, &SmtpSession::DoVrfy},
      {SmtpVerb::kExpn, 0, &SmtpSession::DoExpn},
      {SmtpVerb::kHelp, 0, &SmtpSession::DoHelp},
      {SmtpVerb::kStarttls, kNoArgs, &SmtpSession::DoStarttls},
      {SmtpVerb::kAuth, 0, &SmtpSession::DoNotImplemented},
      // Not kNeedsHelo: DoBdat refuses it itself, after skipping the chunk's octets.
      {SmtpVerb::kBdat, kBetweenChunks, &SmtpSession::DoBdat},
  }};
  for (const CommandSpec& spec : kCommands) {
    if (spec.verb == verb) return &spec;
  }
  return nullptr;
}

const char* SmtpSession::StateName(State state) {
  switch (state) {
    case State::kGreeting:
      return "greeting";
    case State::kReady:
      return "ready";
    case State::kMail:
      return "mail";
    case State::kRecipients:
      return "recipients";
    case State::kData:
      return "data";
    case State::kChunk:
      return "chunk";
    case State::kChunks:
      return "chunks";
    case State::kDelivering:
      return "delivering";
    case State::kClosed:
      return "closed";
  }
  return "?";
}

SmtpSession::SmtpSession(uint64_t id, std::string_view client_ip,
                         std::shared_ptr<const ServingState> state, Transport* transport,
                         Buffers buffers)
    : id_(id),
      client_ip_(std::move(buffers.client_ip)),
      serving_(std::move(state)),
      limits_(serving_->config.limits),
      transport_(transport),
      pending_(std::move(buffers.pending)),
      out_(std::move(buffers.out)),
      helo_(std::move(buffers.helo)),
      tls_(std::move(buffers.tls)),
      received_(std::move(buffers.received)),
      mail_from_(std::move(buffers.mail_from)),
      recipients_(std::move(buffers.recipients)),
      transaction_(std::move(buffers.transaction)) {
  client_ip_.assign(client_ip);
  for (std::string* s : {&pending_, &out_, &helo_, &tls_, &received_, &mail_from_}) s->clear();
}

SmtpSession::Buffers SmtpSession::TakeBuffers() {
  // Enough for the lines and envelopes of ordinary mail; a buffer that held more is freed.
  constexpr size_t kMaxKeptBytes = 16 * 1024;
  constexpr size_t kMaxKeptRecipients = 16;
  Buffers b{std::move(client_ip_), std::move(pending_),    std::move(out_),
            std::move(helo_),      std::move(tls_),        std::move(received_),
            std::move(mail_from_), std::move(recipients_), std::move(transaction_)};
  b.transaction.state.reset();  // a spare must not keep an old configuration alive
  for (std::string* s : {&b.client_ip, &b.pending, &b.out, &b.helo, &b.tls, &b.received,
                         &b.mail_from, &b.transaction.id, &b.transaction.client_ip,
                         &b.transaction.helo, &b.transaction.mail_from, &b.transaction.message}) {
    if (s->capacity() > kMaxKeptBytes) std::string().swap(*s);
  }
  if (b.recipients.size() > kMaxKeptRecipients) std::vector<SmtpRecipient>().swap(b.recipients);
  if (b.transaction.recipients.size() > kMaxKeptRecipients) {
    std::vector<SmtpRecipient>().swap(b.transaction.recipients);
  }
  recipient_count_ = 0;
  return b;
}

void SmtpSession::Start() {
  Reply({"220 ", serving_->config.hostname, " ESMTP Postdesk"});
  transport_->SetTimeout(CommandTimeout());
  Flush();
}

void SmtpSession::Refuse(std::string_view reply, std::string_view reason) {
  Reply(reply);
  Close(reason);
}

void SmtpSession::EnterState(State next) {
  SPDLOG_TRACE("session {:x}: {} -> {}", id_, StateName(state_), StateName(next));
  state_ = next;
}

void SmtpSession::Reply(std::string_view line) {
  out_.append(line);
  out_.append("\r\n");
}

void SmtpSession::Reply(std::initializer_list<std::string_view> parts) {
  for (std::string_view part : parts) out_.append(part);
  out_.append("\r\n");
}

void SmtpSession::Flush() {
  if (out_.empty()) return;
  // Take the bytes out first: a failed write calls OnDisconnected() from inside Write().
  std::string bytes;
  bytes.swap(out_);
  transport_->Write(bytes);
  // Then the buffer comes back for the next replies, so that replying allocates nothing.
  if (out_.empty()) {
    bytes.clear();
    out_.swap(bytes);
  }
}

void SmtpSession::Close(std::string_view reason) {
  if (state_ == State::kClosed) return;
  spdlog::debug("session {:x} client={} closed: {}", id_, client_ip_, reason);
  // Closed before the last write: if that write fails, the transport reports it through
  // OnDisconnected() from inside Write(), which must then find the session closed and not close
  // the transport a second time (found by fuzz/smtp_session_fuzzer.cc).
  EnterState(State::kClosed);
  pending_.clear();
  Flush();
  transport_->Close();
}

void SmtpSession::OnDisconnected(std::string_view reason) {
  if (state_ == State::kClosed) return;
  out_.clear();
  if ((state_ == State::kData || state_ == State::kChunk || state_ == State::kChunks) && data_) {
    Metrics().received_bytes.Add(data_->total_bytes());
    spdlog::info("session {:x} client={} lost during {} ({} bytes): {}", id_, client_ip_,
                 state_ == State::kData ? "DATA" : "BDAT", data_->total_bytes(), reason);
  }
  Close(reason);
}

// Under stress a client that errs gives its slot back at once (Postfix's smtpd_hard_error_limit
// is ${stress?{1}:{20}}): a 5xx recipient is final for the sender, who retries the rest later.
bool SmtpSession::CountError() {
  const size_t limit = transport_->UnderStress() ? limits_.stress_max_errors : limits_.max_errors;
  if (++errors_ < limit) return false;
  Reply("421 4.7.0 " + serving_->config.hostname + " Error: too many errors");
  Close("too many errors");
  return true;
}

void SmtpSession::OnTimeout() {
  if (state_ == State::kClosed) return;
  Reply("421 4.4.2 " + serving_->config.hostname + " Error: timeout exceeded");
  Close(std::string("timeout in state ") + StateName(state_));
}

void SmtpSession::OnStress() {
  if (state_ == State::kData || state_ == State::kChunk || state_ == State::kDelivering ||
      state_ == State::kClosed) {
    return;
  }
  transport_->SetTimeout(limits_.stress_command_timeout);
}

// RFC 5321 4.5.3.2.7 asks for 5 minutes; under stress Postfix waits 10 seconds (its
// smtpd_timeout's ${stress?{10}:{300}}s), and so do we: a flood of idle connections then
// frees its slots for mail that is being sent.
std::chrono::milliseconds SmtpSession::CommandTimeout() const {
  return transport_->UnderStress() ? limits_.stress_command_timeout : limits_.command_timeout;
}

void SmtpSession::Shutdown() {
  draining_ = true;
  if (state_ == State::kGreeting || state_ == State::kReady) {
    Reply("421 4.3.2 " + serving_->config.hostname + " Service shutting down");
    Close("shutdown");
  }
}

void SmtpSession::ResetTransaction() {
  mail_from_.clear();
  smtputf8_ = false;
  binary_mime_ = false;
  recipient_count_ = 0;
  data_.reset();
}

void SmtpSession::OnBytes(std::string_view bytes) {
  if (state_ == State::kClosed) return;
  if (pending_.empty() && state_ != State::kDelivering) {
    size_t used = Process(bytes);
    if (state_ != State::kClosed) pending_.assign(bytes.substr(used));
  } else {
    pending_.append(bytes);
    if (state_ != State::kDelivering) {
      size_t used = Process(pending_);
      if (state_ != State::kClosed) pending_.erase(0, used);
    } else if (pending_.size() > kMaxPendingWhileDelivering) {
      transport_->SetReading(false);  // until the delivery ends: the client waits for us
    }
  }
  Flush();
}

size_t SmtpSession::Process(std::string_view input) {
  assert(!processing_);
  processing_ = true;
  size_t pos = ProcessCommands(input);
  processing_ = false;
  return pos;
}

size_t SmtpSession::ProcessCommands(std::string_view input) {
  size_t pos = 0;
  while (pos < input.size() && state_ != State::kClosed && state_ != State::kDelivering) {
    if (discard_input_) return input.size();  // cleartext pipelined behind STARTTLS
    if (state_ == State::kData) {
      pos += data_->Consume(input.substr(pos));
      if (data_->done()) FinishData();
      continue;
    }
    if (state_ == State::kChunk) {
      pos += ConsumeChunk(input.substr(pos));
      continue;
    }
    size_t lf = input.find('\n', pos);
    if (discarding_line_) {
      if (lf == std::string_view::npos) return input.size();
      discarding_line_ = false;
      pos = lf + 1;
      continue;
    }
    if (lf == std::string_view::npos) {
      // RFC 5321 4.5.3.1.4 bounds a command line; we allow max_line_length and refuse the rest
      // without buffering it.
      if (input.size() - pos > limits_.max_line_length) {
        discarding_line_ = true;
        Reply("500 5.5.2 Error: line too long");
        CountError();
        return input.size();
      }
      break;
    }
    std::string_view line = input.substr(pos, lf - pos);
    pos = lf + 1;
    if (line.size() + 1 > limits_.max_line_length) {
      Reply("500 5.5.2 Error: line too long");
      CountError();
      continue;
    }
    // Clients that end commands with a bare LF are common and harmless here; DATA is stricter.
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    HandleLine(line);
  }
  return pos;
}

void SmtpSession::HandleLine(std::string_view line) {
  // RFC 5321 4.5.3.2.7 bounds the idle time between commands: only a complete command restarts
  // the clock, so a client that trickles one command line a byte at a time (slowloris) is cut
  // command_timeout after its last whole command. DATA sets its own deadline.
  transport_->SetTimeout(CommandTimeout());
  if (draining_ && state_ != State::kMail && state_ != State::kRecipients &&
      state_ != State::kChunks) {
    Reply("421 4.3.2 " + serving_->config.hostname + " Service shutting down");
    Close("shutdown");
    return;
  }
  SmtpCommand command = ParseSmtpCommand(line);
  const CommandSpec* spec = FindCommand(command.verb);
  if (!spec) {
    Reply("500 5.5.2 Error: command not recognized");
    CountError();
    return;
  }
  if ((spec->flags & kNeedsHelo) && state_ == State::kGreeting) {
    Reply("503 5.5.1 Error: send HELO/EHLO first");
    CountError();
    return;
  }
  // RFC 3030 2: DATA, MAIL, RCPT and the rest have no place inside a BDAT transaction.
  if (state_ == State::kChunks && !(spec->flags & kBetweenChunks)) {
    Reply("503 5.5.1 Error: BDAT transaction in progress");
    CountError();
    return;
  }
  if ((spec->flags & kNoArgs) && !command.argument.empty()) {
    Reply("501 5.5.4 Syntax: no parameters allowed");
    CountError();
    return;
  }
  (this->*(spec->handler))(command.argument);
}

void SmtpSession::DoHelo(std::string_view arg) {
  if (arg.empty()) {
    Reply("501 5.5.4 Syntax: HELO hostname");
    CountError();
    return;
  }
  ResetTransaction();  // RFC 5321 4.1.4: HELO/EHLO reset the state like RSET
  helo_.assign(arg.substr(0, 255));
  esmtp_ = false;
  EnterState(State::kReady);
  Reply({"250 ", serving_->config.hostname});
}

void SmtpSession::DoEhlo(std::string_view arg) {
  if (arg.empty()) {
    Reply("501 5.5.4 Syntax: EHLO hostname");
    CountError();
    return;
  }
  ResetTransaction();
  helo_.assign(arg.substr(0, 255));
  esmtp_ = true;
  EnterState(State::kReady);
  Reply({"250-", serving_->config.hostname});
  Reply("250-PIPELINING");
  out_.append("250-SIZE ");
  AppendDecimal(static_cast<int64_t>(limits_.max_message_size), &out_);
  out_.append("\r\n");
  Reply("250-8BITMIME");
  Reply("250-CHUNKING");
  Reply("250-BINARYMIME");
  if (transport_->TlsOffered()) Reply("250-STARTTLS");
  Reply("250-SMTPUTF8");
  Reply("250 ENHANCEDSTATUSCODES");
}

void SmtpSession::DoMail(std::string_view arg) {
  if (state_ != State::kReady) {
    Reply("503 5.5.1 Error: nested MAIL command");
    CountError();
    return;
  }
  if (draining_) {
    Reply("421 4.3.2 " + serving_->config.hostname + " Service shutting down");
    Close("shutdown");
    return;
  }
  Result<MailPath> path = ParseMailPath(arg, "FROM:", /*allow_null=*/true);
  if (!path.ok()) {
    Reply("501 5.5.4 " + path.status().message());
    CountError();
    return;
  }
  bool smtputf8 = false;
  bool binary = false;
  for (const EsmtpParameter& p : path->parameters()) {
    if (p.keyword == "SIZE" && esmtp_) {
      // RFC 1870 6: refuse a declared size over the limit at MAIL, before any data.
      size_t declared = 0;
      auto [ptr, ec] = std::from_chars(p.value.data(), p.value.data() + p.value.size(), declared);
      if (ec == std::errc::result_out_of_range ||
          (ec == std::errc() && declared > limits_.max_message_size)) {
        Reply("552 5.3.4 Error: message size exceeds fixed maximum message size");
        CountError();
        return;
      }
      if (ec != std::errc() || ptr != p.value.data() + p.value.size()) {
        Reply("501 5.5.4 Syntax: bad SIZE parameter");
        CountError();
        return;
      }
    } else if (p.keyword == "BODY" && esmtp_) {
      // RFC 6152: 7BIT and 8BITMIME; RFC 3030 3: BINARYMIME, whose body only BDAT carries.
      binary = EqualsIgnoreCase(p.value, "BINARYMIME");
      if (!binary && !EqualsIgnoreCase(p.value, "7BIT") && !EqualsIgnoreCase(p.value, "8BITMIME")) {
        Reply("501 5.5.4 Syntax: BODY must be 7BIT, 8BITMIME or BINARYMIME");
        CountError();
        return;
      }
    } else if (p.keyword == "SMTPUTF8" && esmtp_ && p.value.empty()) {
      smtputf8 = true;  // RFC 6531 3.4
    } else {
      Reply("555 5.5.4 Error: unsupported MAIL parameter");
      CountError();
      return;
    }
  }
  mail_from_.assign(path->address);
  smtputf8_ = smtputf8;
  binary_mime_ = binary;
  EnterState(State::kMail);
  Reply("250 2.1.0 Ok");
}

void SmtpSession::DoRcpt(std::string_view arg) {
  if (state_ != State::kMail && state_ != State::kRecipients) {
    Reply("503 5.5.1 Error: need MAIL command");
    CountError();
    return;
  }
  Result<MailPath> path = ParseMailPath(arg, "TO:", /*allow_null=*/false);
  if (!path.ok()) {
    Reply("501 5.5.4 " + path.status().message());
    CountError();
    return;
  }
  if (!path->parameters().empty()) {
    Reply("555 5.5.4 Error: unsupported RCPT parameter");
    CountError();
    return;
  }
  if (!smtputf8_ && !IsAscii(path->address)) {
    // RFC 6531 3.4: a UTF-8 address needs SMTPUTF8 on MAIL.
    Reply("553 5.6.7 Error: non-ASCII address without SMTPUTF8");
    CountError();
    return;
  }
  if (recipient_count_ >= limits_.max_recipients) {
    Metrics().recipients_over_limit.Add();
    Reply("452 4.5.3 Error: too many recipients");  // RFC 5321 4.5.3.1.10
    return;
  }
  if (recipient_count_ == recipients_.size()) recipients_.emplace_back();
  SmtpRecipient& recipient = recipients_[recipient_count_];
  if (!serving_->addresses.FindRecipient(path->address, &recipient.match)) {
    Metrics().recipients_unknown.Add();
    // RFC 5321 3.6.2 / design: refused now, so that no bounce is ever sent later (backscatter).
    Reply("550 5.1.1 <" + std::string(path->address) +
          ">: Recipient address rejected: User unknown");
    CountError();
    return;
  }
  Metrics().recipients_accepted.Add();
  recipient.address.assign(path->address);
  ++recipient_count_;
  EnterState(State::kRecipients);
  Reply("250 2.1.5 Ok");
}

void SmtpSession::DoData(std::string_view) {
  if (state_ == State::kMail) {
    // RFC 2920 3.1: with PIPELINING, DATA after only failed RCPTs is refused with 554.
    Reply("554 5.5.1 Error: no valid recipients");
    CountError();
    return;
  }
  if (state_ != State::kRecipients) {
    Reply("503 5.5.1 Error: need RCPT command");
    CountError();
    return;
  }
  if (binary_mime_) {
    // RFC 3030 3: a binary body has no line structure that dot-stuffing could keep.
    Reply("503 5.5.1 Error: BODY=BINARYMIME needs BDAT");
    CountError();
    return;
  }
  data_.emplace(limits_.max_message_size);
  data_started_ = std::chrono::steady_clock::now();
  EnterState(State::kData);
  // One deadline for the whole message, not re-armed by data bytes: RFC 5321 4.5.3.2.6 times
  // each block, which a client sending one byte a minute would satisfy forever.
  transport_->SetTimeout(limits_.data_timeout);
  Reply("354 End data with <CR><LF>.<CR><LF>");
  // The 354 must reach the client now: it waits for it before sending data (RFC 2920 3.1).
  Flush();
}

void SmtpSession::FinishData() {
  transport_->SetTimeout(CommandTimeout());
  dot_received_ = std::chrono::steady_clock::now();
  Metrics().received_bytes.Add(data_->total_bytes());
  ++transaction_count_;
  if (data_->oversized()) {
    Metrics().CountTransaction(TransactionVerdict::kRefused);
    const DeliveryOutcome refused{"552 5.3.4 Error: message file too big",
                                  "refused=size",
                                  TransactionVerdict::kRefused,
                                  {},
                                  "size"};
    LogTransaction(refused);
    ResetTransaction();
    EnterState(State::kReady);
    Reply(refused.reply);
    CountError();
    return;
  }
  // Every field is assigned into the buffers of an earlier transaction (Transport::Deliver
  // gives them back): a warm session copies its envelope without allocating.
  SmtpTransaction& tx = transaction_;
  tx.session_id = id_;
  char id[32];
  int id_length =
      snprintf(id, sizeof(id), "%llx.%x", static_cast<unsigned long long>(id_), transaction_count_);
  tx.id.assign(id, static_cast<size_t>(id_length));
  received_.clear();
  AppendReceivedHeader(tx.id, &received_);
  std::string& data = data_->message();
  // RFC 5322 2.2.3: a line that starts with white space continues the header field before it,
  // which here is our trace header; a client must not be able to write into it. Such a message
  // has no valid header section anyway, so an empty line makes all of it body, kept byte for
  // byte (found by fuzz/smtp_session_fuzzer.cc).
  if (!data.empty() && (data[0] == ' ' || data[0] == '\t')) received_.append("\r\n");
  // In place: the reader keeps room for the trace header, so the message is not copied.
  data.insert(0, received_);
  tx.message = std::move(data);
  tx.client_ip.assign(client_ip_);
  tx.helo.assign(helo_);
  tx.mail_from.assign(mail_from_);
  tx.recipients.resize(recipient_count_);
  for (size_t i = 0; i < recipient_count_; ++i) {
    tx.recipients[i].address.assign(recipients_[i].address);
    tx.recipients[i].match = recipients_[i].match;
  }
  tx.state = serving_;
  EnterState(State::kDelivering);
  // The client waits for the reply to the final dot as long as RFC 5321 4.5.3.2.6 says (10
  // minutes, the data_timeout default); a 421 sooner makes it deliver a message we may well
  // have stored a second time (RFC 5321 6.1). The bound stays: a store that never answers
  // must not hold the session forever. Reading goes on (what the client pipelines waits in
  // pending_, up to kMaxPendingWhileDelivering), so that a session costs no poll changes per
  // message.
  transport_->SetTimeout(limits_.data_timeout);
  transport_->Deliver(&tx);
}

void SmtpSession::AppendReceivedHeader(std::string_view id, std::string* out) const {
  // RFC 5321 4.4; protocol names from RFC 3848 and RFC 6531 4.3. Appended piece by piece into a
  // buffer the session keeps: no temporaries per message.
  out->append("Received: from ");
  AppendSanitizedHelo(helo_, out);
  out->append(" ([").append(client_ip_).append("])");
  if (!tls_.empty()) out->append("\r\n\t(using ").append(tls_).append(")");
  out->append("\r\n\tby ").append(serving_->config.hostname).append(" (Postdesk) with ");
  out->append(smtputf8_ ? "UTF8SMTP" : (esmtp_ ? "ESMTP" : "SMTP"));
  if (!tls_.empty()) out->push_back('S');  // RFC 3848: ESMTPS, and RFC 6531's UTF8SMTPS
  out->append(" id ").append(id);
  if (recipient_count_ == 1) out->append("\r\n\tfor <").append(recipients_[0].address).append(">");
  out->append("; ");
  AppendRfc5322Date(std::time(nullptr), out);
  out->append("\r\n");
}

void SmtpSession::LogTransaction(const DeliveryOutcome& outcome) const {
  TransactionLogRecord record;
  record.session_id = id_;
  record.transaction = transaction_count_;
  record.client = client_ip_;
  record.tls = tls_;
  record.helo = helo_;
  record.mail_from = mail_from_;
  record.recipients = recipients();
  record.size = data_->total_bytes();
  record.outcome = &outcome;
  record.ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now() - data_started_)
                  .count();
  postdesk::LogTransaction(record);
}

void SmtpSession::OnDelivered(const DeliveryOutcome& outcome) {
  if (state_ != State::kDelivering) return;  // closed meanwhile (timeout, shutdown grace)
  Metrics().final_dot.Observe(std::chrono::steady_clock::now() - dot_received_);
  LogTransaction(outcome);
  Reply(outcome.reply);
  if (outcome.reply.empty() || outcome.reply[0] != '2') CountError();
  if (state_ == State::kClosed) return;
  ResetTransaction();
  EnterState(State::kReady);
  transport_->SetTimeout(CommandTimeout());
  transport_->SetReading(true);
  if (draining_) {
    Reply("421 4.3.2 " + serving_->config.hostname + " Service shutting down");
    Close("shutdown");
    return;
  }
  // A delivery that ended inside Process() (see processing_): its loop reads on.
  if (processing_) return;
  // Commands pipelined behind the data waited in pending_.
  size_t used = Process(pending_);
  if (state_ != State::kClosed) pending_.erase(0, used);
  Flush();
}

void SmtpSession::DoRset(std::string_view) {
  ResetTransaction();
  if (state_ != State::kGreeting) EnterState(State::kReady);
  Reply("250 2.0.0 Ok");
}

void SmtpSession::DoNoop(std::string_view) { Reply("250 2.0.0 Ok"); }

void SmtpSession::DoQuit(std::string_view) {
  Reply("221 2.0.0 Bye");
  Close("quit");
}

void SmtpSession::DoVrfy(std::string_view arg) {
  if (arg.empty()) {
    Reply("501 5.5.4 Syntax: VRFY address");
    CountError();
    return;
  }
  // RFC 5321 3.5.3: 252 when we will not verify; no address harvesting.
  Reply("252 2.0.0 Cannot VRFY user, but will accept message and attempt delivery");
}

void SmtpSession::DoExpn(std::string_view) {
  Reply("502 5.5.1 Error: EXPN not supported");
  CountError();
}

void SmtpSession::DoHelp(std::string_view) {
  Reply("214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA BDAT RSET NOOP QUIT VRFY HELP");
}

void SmtpSession::DoStarttls(std::string_view) {
  if (!transport_->TlsOffered()) {
    Reply(tls_.empty() ? "454 4.7.0 TLS not available" : "554 5.5.1 Error: TLS already active");
    CountError();
    return;
  }
  if (state_ == State::kMail || state_ == State::kRecipients) {  // kChunks: HandleLine's 503
    Reply("503 5.5.1 Error: MAIL transaction in progress");
    CountError();
    return;
  }
  Reply("220 2.0.0 Ready to start TLS");
  Flush();
  // The write can fail and close the session from inside Flush() (found by
  // fuzz/smtp_session_fuzzer.cc): then there is no connection to start TLS on.
  if (state_ == State::kClosed) return;
  // Anything the client pipelined after STARTTLS arrived in the clear and must not be taken
  // as said under TLS (CVE-2011-0411, the STARTTLS command injection).
  discard_input_ = true;
  transport_->StartTls();
}

void SmtpSession::OnTlsEstablished(std::string description) {
  if (state_ == State::kClosed) return;
  tls_ = std::move(description);
  discard_input_ = false;
  // RFC 3207 4.2: the server discards what it knew from the client; EHLO comes again.
  ResetTransaction();
  helo_.clear();
  esmtp_ = false;
  if (state_ != State::kGreeting) EnterState(State::kGreeting);
  spdlog::debug("session {:x} client={} TLS: {}", id_, client_ip_, tls_);
}

void SmtpSession::DoNotImplemented(std::string_view) {
  Reply("502 5.5.1 Error: command not implemented");
  CountError();
}

}  // namespace postdesk
