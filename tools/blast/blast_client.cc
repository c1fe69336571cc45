#include "tools/blast/blast_client.h"

#include <cctype>
#include <utility>

namespace postdesk::blast {
namespace {

// Replies shown in an error message are cut to this.
constexpr size_t kMaxShownReply = 200;

// The first word of an EHLO line after the code, upper-cased (RFC 5321 4.1.1.1: the keywords
// are case-insensitive).
std::string EhloKeyword(std::string_view line) {
  std::string keyword;
  for (char c : line) {
    if (c == ' ') break;
    keyword.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
  }
  return keyword;
}

}  // namespace

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kConnect:
      return "connect";
    case ErrorKind::kRefused:
      return "setup_refused";
    case ErrorKind::kTimeout:
      return "timeout";
    case ErrorKind::kClosed:
      return "closed";
    case ErrorKind::kProtocol:
      return "protocol";
    case ErrorKind::kTls:
      return "tls";
  }
  return "?";
}

std::string BlastClient::Shown(std::string_view text) {
  std::string out;
  for (char c : text.substr(0, kMaxShownReply)) {
    auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7f ? '?' : c);
  }
  if (text.size() > kMaxShownReply) out += "...";
  return out;
}

const char* BlastClient::Awaiting(State state) {
  switch (state) {
    case State::kConnecting:
      return "the TCP connection";
    case State::kGreeting:
      return "the greeting";
    case State::kEhlo:
    case State::kEhloTls:
      return "the reply to EHLO";
    case State::kStartTls:
      return "the reply to STARTTLS";
    case State::kTlsHandshake:
      return "the TLS handshake";
    case State::kReady:
      return "nothing (idle)";
    case State::kMail:
      return "the reply to MAIL";
    case State::kRcpt:
      return "the reply to RCPT";
    case State::kData:
      return "the reply to DATA";
    case State::kPipelined:
      return "the replies to MAIL, RCPT, DATA";
    case State::kBody:
      return "the reply to the final dot";
    case State::kRset:
      return "the reply to RSET";
    case State::kQuit:
      return "the reply to QUIT";
    case State::kClosing:
      return "the close";
  }
  return "?";
}

const char* BlastClient::StageOf(State state) {
  switch (state) {
    case State::kMail:
      return "MAIL";
    case State::kRcpt:
      return "RCPT";
    case State::kData:
      return "DATA";
    case State::kBody:
      return "end of data";
    default:
      return "transaction";
  }
}

void BlastClient::OnReply(const Reply& reply) {
  switch (state_) {
    case State::kConnecting:
    case State::kTlsHandshake:
    case State::kClosing:
      Fail(ErrorKind::kProtocol,
           "reply \"" + Shown(reply.text) + "\" awaiting " + Awaiting(state_));
      return;
    case State::kReady:
      // Nothing was asked. A server closing an idle connection says 421 first (RFC 5321 3.8).
      if (reply.code == 421) {
        closed_by_server_ = true;
        CloseHandles();
      } else {
        Fail(ErrorKind::kProtocol, "unsolicited reply \"" + Shown(reply.text) + "\"");
      }
      return;
    case State::kQuit:
      CloseHandles();  // 221, or whatever: the session is over
      return;
    case State::kGreeting:
    case State::kEhlo:
    case State::kStartTls:
    case State::kEhloTls:
      OnSetupReply(reply);
      return;
    case State::kPipelined:
      OnPipelinedReply(reply);
      return;
    case State::kMail:
    case State::kRcpt:
    case State::kData:
    case State::kBody:
    case State::kRset:
      OnTransactionReply(reply);
      return;
  }
}

void BlastClient::OnSetupReply(const Reply& reply) {
  if (reply.Class() != 2) {
    Fail(ErrorKind::kRefused, std::string(Awaiting(state_)) + ": " + Shown(reply.text));
    return;
  }
  switch (state_) {
    case State::kGreeting:
      Send("EHLO " + config_.helo + "\r\n");
      Await(State::kEhlo);
      return;
    case State::kEhlo:
      ParseEhlo(reply);
      AfterEhlo();
      return;
    case State::kStartTls: {
      // Bytes after the 220 came in clear but would be read as if under TLS: the STARTTLS
      // response injection (CVE-2011-0411's client side). Nothing may follow the 220.
      if (!in_.empty()) {
        Fail(ErrorKind::kProtocol, "data after the 220 to STARTTLS");
        return;
      }
      Result<std::unique_ptr<TlsStream>> stream = TlsStream::Create(config_.tls, config_.tls_name);
      if (!stream.ok()) {
        Fail(ErrorKind::kTls, stream.status().message());
        return;
      }
      tls_ = std::move(stream).value();
      Await(State::kTlsHandshake);
      WriteToSocket(tls_->TakeOutput());  // the ClientHello
      return;
    }
    case State::kEhloTls:
      ParseEhlo(reply);
      StartTransactions();
      return;
    default:
      return;
  }
}

void BlastClient::ParseEhlo(const Reply& reply) {
  // The reply's lines after the first, each "250-KEYWORD params" or "250 KEYWORD params".
  std::string_view text = reply.text;
  bool first = true;
  while (!text.empty()) {
    size_t end = text.find(" / ");
    std::string_view line = text.substr(0, end);
    text = end == std::string_view::npos ? std::string_view() : text.substr(end + 3);
    if (first) {
      first = false;
      continue;
    }
    std::string keyword = EhloKeyword(line.size() > 4 ? line.substr(4) : std::string_view());
    if (keyword == "PIPELINING") server_pipelining_ = true;  // RFC 2920
    if (keyword == "STARTTLS") server_starttls_ = true;      // RFC 3207
    if (keyword == "8BITMIME") server_8bitmime_ = true;      // RFC 6152
    if (keyword == "SIZE") server_size_ = true;              // RFC 1870
    if (keyword == "CHUNKING") server_chunking_ = true;      // RFC 3030
  }
}

void BlastClient::AfterEhlo() {
  if (config_.tls) {
    if (!server_starttls_) {
      Fail(ErrorKind::kTls, "the server does not offer STARTTLS");
      return;
    }
    Send("STARTTLS\r\n");
    Await(State::kStartTls);
    return;
  }
  StartTransactions();
}

void BlastClient::StartTransactions() {
  if (config_.chunking && !server_chunking_) {
    Fail(ErrorKind::kRefused, "the server does not offer CHUNKING");
    return;
  }
  BecomeReady();
}

void BlastClient::BecomeReady() {
  state_ = State::kReady;
  uv_timer_stop(timer_);
  was_ready_ = true;
  host_->OnReady(this);
}

void BlastClient::Send(OutgoingMessage message, const std::string& sender,
                       const std::string& recipient) {
  if (state_ != State::kReady || closing_) return;
  message_ = std::move(message);
  ++transactions_;
  std::string mail = "MAIL FROM:<" + sender + ">";
  if (server_size_) mail += " SIZE=" + std::to_string(message_.size);  // RFC 1870 6
  if (message_.eight_bit && server_8bitmime_) mail += " BODY=8BITMIME";
  mail += "\r\n";
  std::string rcpt = "RCPT TO:<" + recipient + ">\r\n";
  if (pipelining_active() && config_.chunking) {
    // RFC 3030 4.2: BDAT needs no reply before its octets, so the whole message is one write.
    group_.clear();
    SendChunk(mail + rcpt);
    Await(State::kPipelined);
    return;
  }
  if (pipelining_active()) {
    // RFC 2920 3.1: DATA must be the last command of a group; the message waits for its 354.
    group_.clear();
    Send(mail + rcpt + "DATA\r\n");
    Await(State::kPipelined);
    return;
  }
  Send(mail);
  Await(State::kMail);
  pending_rcpt_ = std::move(rcpt);
}

void BlastClient::OnTransactionReply(const Reply& reply) {
  if (state_ == State::kRset) {
    if (reply.Class() == 2) {
      BecomeReady();
    } else {
      Fail(ErrorKind::kProtocol, "RSET refused: " + Shown(reply.text));
    }
    return;
  }
  const char* stage = StageOf(state_);
  int expected = state_ == State::kData ? 3 : 2;
  if (reply.Class() == 4 || reply.Class() == 5) {
    Refused(reply, stage);
    return;
  }
  if (reply.Class() != expected) {
    Fail(ErrorKind::kProtocol,
         std::string("unexpected reply to ") + stage + ": " + Shown(reply.text));
    return;
  }
  switch (state_) {
    case State::kMail:
      Send(std::move(pending_rcpt_));
      Await(State::kRcpt);
      return;
    case State::kRcpt:
      if (config_.chunking) {
        SendChunk();
        Await(State::kBody);
        return;
      }
      Send("DATA\r\n");
      Await(State::kData);
      return;
    case State::kData:
      SendBody();
      return;
    case State::kBody: {
      TransactionResult result;
      result.accepted = true;
      result.code = reply.code;
      result.reply = reply.text;
      result.stage = stage;
      result.latency_ns = uv_hrtime() - dot_sent_ns_;
      Finish(result);
      if (!closing_) BecomeReady();
      return;
    }
    default:
      return;
  }
}

void BlastClient::OnPipelinedReply(const Reply& reply) {
  if (reply.code == 421) {
    // RFC 5321 3.8: the server closes now; the rest of the group will not be answered.
    static constexpr const char* kStages[] = {"MAIL", "RCPT", "DATA"};
    Refused(reply, kStages[group_.size()]);
    return;
  }
  group_.push_back(reply);
  if (group_.size() < 3) {
    Await(State::kPipelined);  // the next reply's turn: a new timeout
    return;
  }
  const Reply& mail = group_[0];
  const Reply& rcpt = group_[1];
  const Reply& data = group_[2];
  bool envelope_ok = mail.Class() == 2 && rcpt.Class() == 2;
  if (config_.chunking && envelope_ok) {
    // The chunk's reply is the message's: as the reply to a final dot.
    Reply last = data;
    state_ = State::kBody;
    OnTransactionReply(last);
    return;
  }
  if (data.code == 354 && !config_.chunking) {
    if (!envelope_ok) {
      // RFC 2920 3.1 has the server refuse DATA when no RCPT succeeded; one that did not now
      // waits for a message we never meant to send.
      Fail(ErrorKind::kProtocol, "354 to DATA after a refused MAIL or RCPT: " + Shown(rcpt.text));
      return;
    }
    SendBody();
    return;
  }
  const Reply* refusal = nullptr;
  const char* stage = "";
  if (mail.Class() != 2) {
    refusal = &mail;
    stage = "MAIL";
  } else if (rcpt.Class() != 2) {
    refusal = &rcpt;
    stage = "RCPT";
  } else {
    refusal = &data;
    stage = "DATA";
  }
  if (refusal->Class() != 4 && refusal->Class() != 5) {
    Fail(ErrorKind::kProtocol,
         std::string("unexpected reply to ") + stage + ": " + Shown(refusal->text));
    return;
  }
  Reply copy = *refusal;  // Refused may clear group_ through a new transaction
  Refused(copy, stage);
}

void BlastClient::SendBody() {
  SendEndOfMessage(std::move(message_.wire));
  Await(State::kBody);
}

void BlastClient::SendEndOfMessage(std::string bytes) {
  dot_in_write_ = false;
  dot_sent_ns_ = uv_hrtime();
  Send(std::move(bytes));
  // The latency runs from the moment the final dot is handed to the kernel: now, unless part
  // of the message waits in a uv_write (a large message, a full socket buffer).
  if (writes_in_flight_ > 0) dot_in_write_ = true;
  message_ = OutgoingMessage{};
}

void BlastClient::SendChunk(std::string commands) {
  const std::string octets = ChunkOctets(message_.wire);
  commands.append("BDAT ").append(std::to_string(octets.size())).append(" LAST\r\n");
  SendEndOfMessage(commands + octets);
}

void BlastClient::Refused(const Reply& reply, const char* stage) {
  bool at_dot = state_ == State::kBody;
  TransactionResult result;
  result.code = reply.code;
  result.reply = reply.text;
  result.stage = stage;
  if (at_dot) result.latency_ns = uv_hrtime() - dot_sent_ns_;
  Finish(result);
  if (closing_) return;
  if (reply.code == 421) {
    CloseHandles();  // RFC 5321 3.8: the server closes the connection; it is no error of ours
  } else if (at_dot) {
    BecomeReady();  // the final dot ends the transaction whatever the reply (RFC 5321 3.3)
  } else {
    Send("RSET\r\n");
    Await(State::kRset);
  }
}

void BlastClient::Finish(const TransactionResult& result) {
  message_ = OutgoingMessage{};
  host_->OnTransactionDone(this, result);
}

void BlastClient::Quit() {
  if (closing_) return;
  if (state_ != State::kReady) {
    Abort();
    return;
  }
  Send("QUIT\r\n");
  Await(State::kQuit);
}

void BlastClient::Abort() { CloseHandles(); }

}  // namespace postdesk::blast
