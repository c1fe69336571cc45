#include "gateway/smtp_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>

#include "gateway/log_text.h"
#include "parser/smtp_reply.h"

namespace postdesk {
namespace {

// A reply, its continuation lines included, must fit in this (RFC 5321 4.5.3.1.5 asks for 512
// bytes per line; EHLO replies run to a few hundred bytes). More is a broken or hostile relay.
constexpr size_t kMaxReplyBytes = 64 * 1024;
constexpr unsigned kReadBufferSize = 64 * 1024;
// After a connection could not be set up, no additional connection while another one still
// serves, for this long: a relay that allows us fewer connections is not hammered in a loop.
constexpr uint64_t kSetupBackoffMs = 1000;

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // as received, without the line end

  int Class() const { return code / 100; }
  std::string Text() const {
    std::string text;
    for (const std::string& line : lines) {
      if (!text.empty()) text += '\n';
      text += line;
    }
    return text;
  }
};

// What the relay's EHLO reply offers (RFC 5321 4.1.1.1: one keyword per line after the first).
struct Extensions {
  bool pipelining = false;      // RFC 2920
  bool starttls = false;        // RFC 3207
  bool size = false;            // RFC 1870
  uint64_t max_size = 0;        // 0: no fixed limit
  bool eight_bit_mime = false;  // RFC 6152
  bool smtputf8 = false;        // RFC 6531
};

Extensions ParseExtensions(const Reply& ehlo) {
  Extensions ext;
  for (size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string_view line = ehlo.lines[i];
    line.remove_prefix(std::min<size_t>(4, line.size()));
    std::string_view param;
    size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      param = line.substr(space + 1);
      line = line.substr(0, space);
    }
    std::string keyword(line);
    for (char& c : keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (keyword == "PIPELINING") {
      ext.pipelining = true;
    } else if (keyword == "STARTTLS") {
      ext.starttls = true;
    } else if (keyword == "SIZE") {
      ext.size = true;
      ext.max_size = std::strtoull(std::string(param).c_str(), nullptr, 10);
    } else if (keyword == "8BITMIME") {
      ext.eight_bit_mime = true;
    } else if (keyword == "SMTPUTF8") {
      ext.smtputf8 = true;
    }
  }
  return ext;
}

// An envelope address goes between < and > on a command line: <, > and control characters (CR
// and LF above all) would end it early or inject a command.
bool ValidAddress(std::string_view address) {
  for (char c : address) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '<' || c == '>') return false;
  }
  return true;
}

bool HasNonAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

// The message as it goes on the wire after DATA: every line end CRLF (RFC 5321 2.3.8 allows no
// bare CR or LF, and a relay that reads them differently from the next hop is how "SMTP
// smuggling" hides a second message), a '.' doubled at the start of a line (4.5.2), a CRLF after
// the last line, then ".\r\n". `size` is RFC 1870's: the CRLF form, without the stuffing and the
// final dot.
void PrepareData(std::string_view data, std::string* wire, uint64_t* size, bool* eight_bit) {
  wire->clear();
  wire->reserve(data.size() + data.size() / 32 + 8);
  bool line_start = true;
  uint64_t stuffed = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      wire->append("\r\n");
      line_start = true;
      continue;
    }
    if (line_start && c == '.') {
      wire->push_back('.');
      ++stuffed;
    }
    line_start = false;
    if (static_cast<unsigned char>(c) >= 0x80) *eight_bit = true;
    wire->push_back(c);
  }
  if (!line_start) wire->append("\r\n");
  *size = wire->size() - stuffed;
  wire->append(".\r\n");
}

std::string FormatAddress(const sockaddr* addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(addr);
    uv_ip4_name(in, text, sizeof(text));
    return std::string(text) + ":" + std::to_string(ntohs(in->sin_port));
  }
  const auto* in6 = reinterpret_cast<const sockaddr_in6*>(addr);
  uv_ip6_name(in6, text, sizeof(text));
  return "[" + std::string(text) + "]:" + std::to_string(ntohs(in6->sin6_port));
}

DeliveryResult Failure(DeliveryResult::Kind kind, int code, std::string reply) {
  DeliveryResult result;
  result.kind = kind;
  result.code = code;
  result.reply = std::move(reply);
  return result;
}

// RFC 5321 4.2.1: 2yz done, 4yz try again later, 5yz never. Anything else where a 2yz or 354
// was due (a 1yz, a 3yz out of place) is a relay we do not understand: try again later.
DeliveryResult FromReply(const Reply& reply) {
  DeliveryResult::Kind kind = DeliveryResult::Kind::kTemporary;
  if (reply.Class() == 2) kind = DeliveryResult::Kind::kDelivered;
  if (reply.Class() == 5) kind = DeliveryResult::Kind::kPermanent;
  return Failure(kind, reply.code, reply.Text());
}

std::string Millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + "ms"; }

}  // namespace

std::string_view KindName(DeliveryResult::Kind kind) {
  switch (kind) {
    case DeliveryResult::Kind::kDelivered:
      return "delivered";
    case DeliveryResult::Kind::kTemporary:
      return "temporary";
    case DeliveryResult::Kind::kPermanent:
      return "permanent";
  }
  return "?";
}

// One connection to the relay: resolve, connect, greeting, EHLO (HELO), STARTTLS and EHLO
// again, then transactions one after another until idle_timeout, max_messages_per_connection,
// a failure or Close(). Owned by its SmtpClient's map; it asks to be erased (OnConnectionGone)
// from the callback that brings its count of open handles and pending requests to zero, and
// nothing else erases it, so every callback finds it alive. Only `timer_` and `tcp_` are handles;
// the resolver, connect and write requests are counted too, since they call back after a close.
class SmtpClient::Connection {
 public:
  Connection(SmtpClient* client, uint64_t id);
  ~Connection() { assert(pending_ == 0); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Start();
  // Set up, no transaction: may Take() a message.
  bool idle() const { return phase_ == Phase::kIdle && !closing_; }
  // Being set up: takes a queued message when ready.
  bool starting() const { return phase_ < Phase::kIdle && !closing_; }
  // Will carry messages (now or once set up): not failed, closing or quitting.
  bool serving() const { return !closing_ && phase_ != Phase::kQuitting; }
  const Extensions& extensions() const { return ext_; }
  void Take(std::unique_ptr<Job> job);
  // The client is closing: QUIT when idle, otherwise fail what is in flight and close.
  void Shutdown();

 private:
  enum class Phase { kResolving, kConnecting, kSetup, kIdle, kTransaction, kQuitting };
  // The replies awaited, in order (several at once under PIPELINING).
  enum class Step {
    kGreeting,
    kEhlo,
    kHelo,
    kStartTls,
    kMail,
    kRcpt,
    kData,
    kBody,
    kAbortDot,
    kRset,
    kQuit
  };
  enum class TimerFor { kConnect, kReply, kTlsHandshake, kIdle };

  struct Transaction {
    bool pipelined = false;
    Reply mail;
    size_t rcpt_sent = 0;
    size_t rcpt_replies = 0;
    size_t accepted = 0;
    std::vector<std::string> refused, deferred;
    std::optional<Reply> temporary;  // the first non-2xx, non-5xx RCPT reply
    std::optional<Reply> permanent;  // the first 5xx RCPT reply
  };

  static const char* StepName(Step step);
  static void OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* res);
  static void OnConnected(uv_connect_t* req, int status);
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnWritten(uv_write_t* req, int status);
  static void OnTimer(uv_timer_t* timer);
  static void OnHandleClosed(uv_handle_t* handle);

  std::string Relay() const { return peer_.empty() ? host_port_ : peer_; }
  void ConnectNext();
  void Connected();
  void OnBytes(std::string_view bytes);
  void ProcessInput(std::string_view plaintext);
  void OnReply(const Reply& reply);
  void OnDisconnected(const std::string& why);
  void ProtocolError(const std::string& what);

  void SendHello(bool ehlo);
  void AfterHello();
  void BeginTls();
  void Ready();
  void SendNextRcpt();
  void OnMailReply(const Reply& reply);
  void OnRcptReply(const Reply& reply);
  void OnDataReply(const Reply& reply);
  DeliveryResult RecipientVerdict() const;
  DeliveryResult WithRecipients(DeliveryResult result) const;
  void Finish(DeliveryResult result);
  void FailTransaction(DeliveryResult result);  // Finish, then RSET
  void Quit();

  // False when the connection failed (and is closing): the caller stops.
  bool Write(std::string bytes);
  bool WriteToSocket(std::string bytes);
  void Expect(Step step);
  void Arm(TimerFor purpose, std::chrono::milliseconds timeout);
  // Fails what is in flight (or, during setup, tells the client) with kTemporary, and closes.
  void Fail(int code, std::string reason);
  void CloseHandles();
  void Release();

  SmtpClient* const client_;
  const Options& options_;
  const uint64_t id_;
  const std::string host_port_;
  uv_timer_t* timer_;
  uv_tcp_t* tcp_ = nullptr;  // set from the connect attempt until CloseHandles()
  int pending_ = 0;          // open handles and requests still to call back
  bool closing_ = false;
  Phase phase_ = Phase::kResolving;
  TimerFor timer_for_ = TimerFor::kConnect;
  size_t write_queue_when_armed_ = 0;
  uv_getaddrinfo_t* resolving_ = nullptr;
  std::vector<sockaddr_storage> addresses_;
  size_t next_address_ = 0;
  std::string peer_;            // "127.0.0.1:2526" once an address is tried
  std::string connect_errors_;  // every address's failure, "; "-separated
  std::string in_;              // plaintext received, not yet a whole reply
  size_t scan_ = 0;             // in_ before this is whole lines of the reply being read
  std::deque<Step> steps_;
  Extensions ext_;
  bool tls_refused_ = false;  // the relay answered STARTTLS with an error: carry on in clear
  std::unique_ptr<TlsStream> tls_;
  std::unique_ptr<Job> job_;
  Transaction tx_;
  size_t messages_ = 0;
};

SmtpClient::Connection::Connection(SmtpClient* client, uint64_t id)
    : client_(client),
      options_(client->options_),
      id_(id),
      host_port_(client->options_.host + ":" + std::to_string(client->options_.port)),
      timer_(new uv_timer_t) {
  uv_timer_init(client_->loop_, timer_);
  timer_->data = this;
  pending_ = 1;
}

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

void SmtpClient::Connection::Start() {
  Arm(TimerFor::kConnect, options_.connect_timeout);
  // An IP literal needs no resolver (and no thread pool round trip).
  sockaddr_storage literal{};
  std::string host = options_.host;
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (uv_ip4_addr(host.c_str(), options_.port, reinterpret_cast<sockaddr_in*>(&literal)) == 0 ||
      uv_ip6_addr(host.c_str(), options_.port, reinterpret_cast<sockaddr_in6*>(&literal)) == 0) {
    addresses_.push_back(literal);
    ConnectNext();
    return;
  }
  resolving_ = new uv_getaddrinfo_t;
  resolving_->data = this;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = AI_NUMERICSERV;  // no AI_ADDRCONFIG: it ignores loopback ("localhost")
  std::string port = std::to_string(options_.port);
  int rc = uv_getaddrinfo(client_->loop_, resolving_, &Connection::OnResolved, host.c_str(),
                          port.c_str(), &hints);
  if (rc != 0) {
    delete resolving_;
    resolving_ = nullptr;
    Fail(0, "resolve " + options_.host + ": " + uv_strerror(rc));
    return;
  }
  ++pending_;
}

void SmtpClient::Connection::OnResolved(uv_getaddrinfo_t* req, int status, addrinfo* res) {
  auto* self = static_cast<Connection*>(req->data);
  delete req;
  self->resolving_ = nullptr;
  if (!self->closing_) {
    if (status < 0) {
      self->Fail(0, "resolve " + self->options_.host + ": " + uv_strerror(status));
    } else {
      for (addrinfo* ai = res; ai; ai = ai->ai_next) {
        if ((ai->ai_family != AF_INET && ai->ai_family != AF_INET6) ||
            ai->ai_addrlen > sizeof(sockaddr_storage)) {
          continue;
        }
        sockaddr_storage address{};
        std::memcpy(&address, ai->ai_addr, ai->ai_addrlen);
        self->addresses_.push_back(address);
      }
      if (self->addresses_.empty()) {
        self->Fail(0, "resolve " + self->options_.host + ": no address");
      } else {
        self->ConnectNext();
      }
    }
  }
  uv_freeaddrinfo(res);
  self->Release();
}

void SmtpClient::Connection::ConnectNext() {
  phase_ = Phase::kConnecting;
  // RFC 5321 5.1: every address of the name is tried in turn before giving up.
  while (next_address_ < addresses_.size()) {
    const auto* addr = reinterpret_cast<const sockaddr*>(&addresses_[next_address_++]);
    peer_ = FormatAddress(addr);
    tcp_ = new uv_tcp_t;
    uv_tcp_init(client_->loop_, tcp_);
    tcp_->data = this;
    ++pending_;
    auto* req = new uv_connect_t;
    req->data = this;
    int rc = uv_tcp_connect(req, tcp_, addr, &Connection::OnConnected);
    if (rc == 0) {
      ++pending_;
      return;
    }
    delete req;
    if (!connect_errors_.empty()) connect_errors_ += "; ";
    connect_errors_ += "connect " + peer_ + ": " + uv_strerror(rc);
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_), &Connection::OnHandleClosed);
    tcp_ = nullptr;
  }
  Fail(0, connect_errors_);
}

void SmtpClient::Connection::OnConnected(uv_connect_t* req, int status) {
  auto* self = static_cast<Connection*>(req->data);
  delete req;
  if (!self->closing_) {  // else UV_ECANCELED: the handle was closed
    if (status < 0) {
      if (!self->connect_errors_.empty()) self->connect_errors_ += "; ";
      self->connect_errors_ += "connect " + self->peer_ + ": " + uv_strerror(status);
      uv_close(reinterpret_cast<uv_handle_t*>(self->tcp_), &Connection::OnHandleClosed);
      self->tcp_ = nullptr;
      self->ConnectNext();
    } else {
      self->Connected();
    }
  }
  self->Release();
}

void SmtpClient::Connection::Connected() {
  phase_ = Phase::kSetup;
  uv_tcp_nodelay(tcp_, 1);
  int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(tcp_), &Connection::OnAlloc,
                         &Connection::OnRead);
  if (rc != 0) {
    Fail(0, "relay " + peer_ + ": " + uv_strerror(rc));
    return;
  }
  spdlog::debug("smtp client {}: connection {} to {} established", host_port_, id_, peer_);
  Expect(Step::kGreeting);  // RFC 5321 4.5.3.2.1
}

void SmtpClient::Connection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  // One buffer per client: libuv calls OnRead right after OnAlloc, and what is kept is copied.
  auto* self = static_cast<Connection*>(handle->data);
  *buf = uv_buf_init(self->client_->read_buffer_.get(), kReadBufferSize);
}

void SmtpClient::Connection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<Connection*>(stream->data);
  if (self->closing_) return;
  if (nread > 0) {
    self->OnBytes(std::string_view(buf->base, static_cast<size_t>(nread)));
  } else if (nread < 0) {
    self->OnDisconnected(nread == UV_EOF ? "connection closed by the relay"
                                         : uv_strerror(static_cast<int>(nread)));
  }
}

void SmtpClient::Connection::OnBytes(std::string_view bytes) {
  if (!tls_) {
    ProcessInput(bytes);
    return;
  }
  std::string plaintext;
  bool was_established = tls_->handshake_done();
  Status s = tls_->Feed(bytes, &plaintext);
  if (!WriteToSocket(tls_->TakeOutput())) return;  // handshake records, or an alert
  if (!s.ok()) {
    OnDisconnected(s.message());
    return;
  }
  if (!was_established && tls_->handshake_done()) {
    spdlog::debug("smtp client {}: connection {} TLS: {}", host_port_, id_, tls_->Describe());
    // RFC 3207 4.2: forget what the relay said in clear and ask again under TLS.
    ext_ = Extensions{};
    SendHello(true);
    if (closing_) return;
  }
  if (!plaintext.empty()) ProcessInput(plaintext);
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

bool SmtpClient::Connection::Write(std::string bytes) {
  if (closing_) return false;
  if (!tls_) return WriteToSocket(std::move(bytes));
  Status s = tls_->Write(bytes);
  if (!WriteToSocket(tls_->TakeOutput())) return false;
  if (!s.ok()) {
    Fail(0, "relay " + Relay() + ": " + s.message());
    return false;
  }
  return true;
}

bool SmtpClient::Connection::WriteToSocket(std::string bytes) {
  if (closing_) return false;
  if (bytes.empty()) return true;
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp_);
  // Commands nearly always fit in the socket buffer: try without queueing first.
  uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
  int written = uv_try_write(stream, &buf, 1);
  if (written == static_cast<int>(bytes.size())) return true;
  if (written < 0 && written != UV_EAGAIN) {
    OnDisconnected(uv_strerror(written));
    return false;
  }
  auto* req = new WriteRequest;
  req->data = std::move(bytes);
  if (written > 0) req->data.erase(0, static_cast<size_t>(written));
  req->req.data = this;
  uv_buf_t rest = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  int rc = uv_write(&req->req, stream, &rest, 1, &Connection::OnWritten);
  if (rc != 0) {
    delete req;
    OnDisconnected(uv_strerror(rc));
    return false;
  }
  ++pending_;
  return true;
}

void SmtpClient::Connection::OnWritten(uv_write_t* w, int status) {
  auto* self = static_cast<Connection*>(w->data);
  delete reinterpret_cast<WriteRequest*>(w);
  if (!self->closing_) {  // else UV_ECANCELED: the handle was closed
    if (status < 0) {
      self->OnDisconnected(uv_strerror(status));
    } else if (!self->steps_.empty()) {
      // A message's data has left: its reply's time starts now (RFC 5321 4.5.3.2.6).
      self->Arm(TimerFor::kReply, self->options_.command_timeout);
    }
  }
  self->Release();
}

void SmtpClient::Connection::Expect(Step step) {
  steps_.push_back(step);
  if (steps_.size() == 1) Arm(TimerFor::kReply, options_.command_timeout);
}

void SmtpClient::Connection::Arm(TimerFor purpose, std::chrono::milliseconds timeout) {
  if (closing_) return;
  timer_for_ = purpose;
  write_queue_when_armed_ =
      tcp_ ? uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(tcp_)) : 0;
  uv_timer_start(timer_, &Connection::OnTimer, static_cast<uint64_t>(timeout.count()), 0);
}

void SmtpClient::Connection::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<Connection*>(timer->data);
  if (self->closing_) return;
  const Options& options = self->options_;
  switch (self->timer_for_) {
    case TimerFor::kConnect:
      self->Fail(
          0, "connect " + self->Relay() + ": timed out after " + Millis(options.connect_timeout));
      return;
    case TimerFor::kIdle:
      self->Quit();  // RFC 5321 4.1.1.10: a connection we are done with ends with QUIT
      return;
    case TimerFor::kTlsHandshake:
      self->Fail(0, "relay " + self->Relay() + ": TLS handshake not done after " +
                        Millis(options.command_timeout));
      return;
    case TimerFor::kReply:
      break;
  }
  // A large message still being written is no silent relay: the clock restarts while the
  // socket keeps taking bytes (RFC 5321 4.5.3.2.5 times each data block, not the whole).
  size_t queued =
      self->tcp_ ? uv_stream_get_write_queue_size(reinterpret_cast<uv_stream_t*>(self->tcp_)) : 0;
  if (queued > 0 && queued < self->write_queue_when_armed_) {
    self->Arm(TimerFor::kReply, options.command_timeout);
    return;
  }
  if (self->phase_ == Phase::kQuitting) {
    self->CloseHandles();
    return;
  }
  if (queued > 0) {
    self->Fail(0, "relay " + self->Relay() + ": could not send data for " +
                      Millis(options.command_timeout) + " (" + std::to_string(queued) +
                      " bytes unsent)");
    return;
  }
  std::string awaited = self->steps_.empty() ? "a reply" : StepName(self->steps_.front());
  self->Fail(0, "relay " + self->Relay() + ": no reply to " + awaited + " within " +
                    Millis(options.command_timeout));
}

void SmtpClient::Connection::Fail(int code, std::string reason) {
  if (closing_) return;
  bool setting_up = phase_ < Phase::kIdle;
  CloseHandles();
  DeliveryResult result = Failure(DeliveryResult::Kind::kTemporary, code, std::move(reason));
  if (job_) {
    Finish(std::move(result));
  } else if (setting_up) {
    client_->OnSetupFailed(*this, result);
  } else {
    spdlog::debug("smtp client {}: connection {} closed: {}", host_port_, id_,
                  EscapeForLog(result.reply));
  }
}

void SmtpClient::Connection::CloseHandles() {
  if (closing_) return;
  closing_ = true;
  steps_.clear();
  // A resolver request already on a worker thread cannot be cancelled: it calls back later.
  if (resolving_) uv_cancel(reinterpret_cast<uv_req_t*>(resolving_));
  // Closing the TCP handle stops reading and cancels the connect and write requests (they
  // call back with UV_ECANCELED before the close callback).
  if (tcp_) {
    uv_close(reinterpret_cast<uv_handle_t*>(tcp_), &Connection::OnHandleClosed);
    tcp_ = nullptr;
  }
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), &Connection::OnHandleClosed);
}

void SmtpClient::Connection::OnHandleClosed(uv_handle_t* handle) {
  auto* self = static_cast<Connection*>(handle->data);
  if (handle->type == UV_TCP) {
    delete reinterpret_cast<uv_tcp_t*>(handle);
  } else {
    delete reinterpret_cast<uv_timer_t*>(handle);
  }
  self->Release();
}

void SmtpClient::Connection::Release() {
  assert(pending_ > 0);
  if (--pending_ == 0) client_->OnConnectionGone(id_);  // destroys *this: the last thing done
}

SmtpClient::SmtpClient(uv_loop_t* loop, Options options)
    : loop_(loop),
      options_(std::move(options)),
      read_buffer_(new char[kReadBufferSize]),
      idle_(new uv_idle_t) {
  options_.max_connections = std::max<size_t>(options_.max_connections, 1);
  options_.max_messages_per_connection = std::max<size_t>(options_.max_messages_per_connection, 1);
  if (options_.helo_name.empty()) {
    char name[256];
    size_t size = sizeof(name);
    options_.helo_name = uv_os_gethostname(name, &size) == 0 ? name : "localhost";
  }
  uv_idle_init(loop_, idle_);
  idle_->data = this;
}

SmtpClient::~SmtpClient() { assert(closed_ && "SmtpClient destroyed before Close() finished"); }

void SmtpClient::Send(OutboundMessage message, Done done) {
  if (closing_) {
    Complete(std::move(done), Failure(DeliveryResult::Kind::kTemporary, 0, "client closing"));
    return;
  }
  std::string invalid;
  if (message.rcpt_to.empty()) invalid = "no recipient";
  if (!ValidAddress(message.mail_from)) {
    invalid = "invalid sender address \"" + EscapeForLog(message.mail_from) + "\"";
  }
  for (const std::string& rcpt : message.rcpt_to) {
    if (invalid.empty() && (rcpt.empty() || !ValidAddress(rcpt))) {
      invalid = "invalid recipient address \"" + EscapeForLog(rcpt) + "\"";
    }
  }
  if (!invalid.empty()) {
    Complete(std::move(done), Failure(DeliveryResult::Kind::kPermanent, 0, invalid));
    return;
  }
  auto job = std::make_unique<Job>();
  PrepareData(message.data, &job->wire, &job->size, &job->eight_bit);
  job->utf8_addresses = HasNonAscii(message.mail_from);
  for (const std::string& rcpt : message.rcpt_to) {
    job->utf8_addresses = job->utf8_addresses || HasNonAscii(rcpt);
  }
  job->mail_from = std::move(message.mail_from);
  job->rcpt_to = std::move(message.rcpt_to);
  job->done = std::move(done);
  queue_.push_back(std::move(job));
  Dispatch();
}

void SmtpClient::Close(std::function<void()> closed) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(closed);
  while (!queue_.empty()) {
    Complete(std::move(queue_.front()->done),
             Failure(DeliveryResult::Kind::kTemporary, 0, "client closing"));
    queue_.pop_front();
  }
  for (auto& entry : connections_) entry.second->Shutdown();
  MaybeFinishClose();
}

void SmtpClient::Complete(Done done, DeliveryResult result) {
  if (closed_) {  // Send() after `closed` ran (a misuse): no handle is left to defer with
    if (done) done(std::move(result));
    return;
  }
  completions_.emplace_back(std::move(done), std::move(result));
  // While the idle handle closes, OnIdleClosed delivers what is left.
  if (!idle_closing_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(idle_))) {
    uv_idle_start(idle_, &SmtpClient::OnIdle);
  }
}

void SmtpClient::OnIdle(uv_idle_t* idle) {
  auto* self = static_cast<SmtpClient*>(idle->data);
  // Only those queued before this turn: a `done` that sends again (and fails at once) runs on
  // the next turn, not in an endless loop here.
  size_t count = self->completions_.size();
  for (size_t i = 0; i < count && !self->completions_.empty(); ++i) {
    auto [done, result] = std::move(self->completions_.front());
    self->completions_.pop_front();
    try {
      if (done) done(std::move(result));
    } catch (const std::exception& e) {
      spdlog::error("smtp client {}: delivery callback threw: {}", self->options_.host, e.what());
    } catch (...) {
      spdlog::error("smtp client {}: delivery callback threw", self->options_.host);
    }
  }
  if (self->completions_.empty()) uv_idle_stop(self->idle_);
  self->MaybeFinishClose();
}

void SmtpClient::Dispatch() {
  if (closing_) return;
  for (auto& entry : connections_) {
    if (queue_.empty()) return;
    Connection& connection = *entry.second;
    if (!connection.idle()) continue;
    std::unique_ptr<Job> job = TakeJobFor(connection);
    if (job) connection.Take(std::move(job));
  }
  size_t starting = 0;
  bool serving = false;
  for (auto& entry : connections_) {
    if (entry.second->starting()) ++starting;
    serving = serving || entry.second->serving();
  }
  // One new connection per message nobody will take, up to max_connections.
  while (queue_.size() > starting && connections_.size() < options_.max_connections) {
    if (serving && uv_now(loop_) < backoff_until_) break;
    uint64_t id = next_connection_++;
    Connection* connection =
        connections_.emplace(id, std::make_unique<Connection>(this, id)).first->second.get();
    connection->Start();  // may fail at once, failing the queue (OnSetupFailed)
    if (connection->starting()) ++starting;
    serving = serving || connection->serving();
  }
}

std::unique_ptr<SmtpClient::Job> SmtpClient::TakeJobFor(const Connection& connection) {
  const Extensions& ext = connection.extensions();
  while (!queue_.empty()) {
    std::unique_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    if (ext.size && ext.max_size > 0 && job->size > ext.max_size) {
      // RFC 1870 4: the relay would refuse it with a permanent 552 anyway; not sent at all.
      Complete(std::move(job->done), Failure(DeliveryResult::Kind::kPermanent, 0,
                                             "message of " + std::to_string(job->size) +
                                                 " bytes is over the relay's SIZE limit of " +
                                                 std::to_string(ext.max_size)));
      continue;
    }
    if (job->utf8_addresses && !ext.smtputf8) {
      // RFC 6531 3.2: without SMTPUTF8 there is no way to send a non-ASCII address.
      Complete(std::move(job->done),
               Failure(DeliveryResult::Kind::kPermanent, 0,
                       "non-ASCII address and the relay does not offer SMTPUTF8"));
      continue;
    }
    return job;
  }
  return nullptr;
}

void SmtpClient::OnSetupFailed(const Connection& failed, const DeliveryResult& result) {
  if (closing_) return;
  spdlog::warn("smtp client {}:{}: {}", options_.host, options_.port, EscapeForLog(result.reply));
  backoff_until_ = uv_now(loop_) + kSetupBackoffMs;
  for (auto& entry : connections_) {
    if (entry.second.get() != &failed && entry.second->serving()) return;  // it takes the queue
  }
  // Nothing else will carry the queue: the relay cannot be reached now, and each message learns
  // it now rather than after a connection attempt of its own.
  while (!queue_.empty()) {
    Complete(std::move(queue_.front()->done), result);
    queue_.pop_front();
  }
}

void SmtpClient::OnConnectionGone(uint64_t id) {
  connections_.erase(id);
  if (closing_) {
    MaybeFinishClose();
  } else {
    Dispatch();
  }
}

void SmtpClient::MaybeFinishClose() {
  if (!closing_ || idle_closing_ || !connections_.empty() || !completions_.empty()) return;
  idle_closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(idle_), &SmtpClient::OnIdleClosed);
}

void SmtpClient::OnIdleClosed(uv_handle_t* handle) {
  auto* self = static_cast<SmtpClient*>(handle->data);
  delete reinterpret_cast<uv_idle_t*>(handle);
  self->idle_ = nullptr;
  // Sends made by other handles' callbacks while this one closed: nothing is left to defer to.
  while (!self->completions_.empty()) {
    auto [done, result] = std::move(self->completions_.front());
    self->completions_.pop_front();
    try {
      if (done) done(std::move(result));
    } catch (...) {
      spdlog::error("smtp client {}: delivery callback threw", self->options_.host);
    }
  }
  self->closed_ = true;
  std::function<void()> closed = std::move(self->on_closed_);
  try {
    if (closed) closed();  // may destroy *self: nothing after this
  } catch (...) {
    spdlog::error("smtp client: closed callback threw");
  }
}

}  // namespace postdesk
