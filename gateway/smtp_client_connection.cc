#include "gateway/smtp_client_connection.h"

#include <spdlog/spdlog.h>

#include <cstring>
#include <utility>

#include "gateway/log_text.h"

namespace postdesk {
namespace {

using relay::Failure;

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

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

std::string Millis(std::chrono::milliseconds ms) { return std::to_string(ms.count()) + "ms"; }

}  // namespace

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

}  // namespace postdesk
