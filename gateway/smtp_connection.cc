#include "gateway/smtp_connection.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "gateway/metrics.h"
#include "gateway/server_loop.h"
#include "parser/proxy_header.h"

namespace postdesk {
namespace {

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

std::string PeerAddress(uv_tcp_t* tcp) {
  sockaddr_storage addr{};
  int len = sizeof(addr);
  if (uv_tcp_getpeername(tcp, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return "unknown";
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    uv_ip4_name(reinterpret_cast<sockaddr_in*>(&addr), text, sizeof(text));
  } else if (addr.ss_family == AF_INET6) {
    uv_ip6_name(reinterpret_cast<sockaddr_in6*>(&addr), text, sizeof(text));
  }
  return text;
}

}  // namespace

SmtpConnection::SmtpConnection(ServerLoop* loop, uint64_t id) : loop_(loop), id_(0) { Reopen(id); }

SmtpConnection::~SmtpConnection() { assert(open_handles_ == 0); }

void SmtpConnection::Reopen(uint64_t id) {
  assert(open_handles_ == 0 && !session_ && !tls_ && limits_ == nullptr);
  id_ = id;
  // libuv lets a handle's memory be initialised again once its close callback has run.
  uv_tcp_init(loop_->loop(), &tcp_);
  uv_timer_init(loop_->loop(), &timer_);
  tcp_.data = this;
  timer_.data = this;
  shutdown_.data = this;
  open_handles_ = 2;
  closing_ = false;
  reading_ = false;
}

bool SmtpConnection::Accept(uv_stream_t* listener, std::shared_ptr<const ServingState> state,
                            ConnectionLimits* limits, bool implicit_tls,
                            SmtpSession::Buffers buffers) {
  if (uv_accept(listener, stream()) != 0) {
    CloseHandles();
    return false;
  }
  // TCP_NODELAY comes from the listener (server_loop.cc).
  client_ = PeerAddress(&tcp_);
  tls_context_ = state->tls;
  PendingStart start{std::move(state), limits, implicit_tls, std::move(buffers), {}};
  if (InNetworks(start.state->config.proxy_protocol_from, client_)) {
    // The balancer's connection counts against no limit until it names its client: the
    // limits are the client's.
    pending_ = std::make_unique<PendingStart>(std::move(start));
    SetReading(true);
    SetTimeout(kProxyHeaderTimeout);
    return true;
  }
  return StartSession(std::move(start));
}

bool SmtpConnection::StartSession(PendingStart start) {
  ConnectionLimits* limits = start.limits;
  const std::string& hostname = start.state->config.hostname;  // it lives on in the session
  session_.emplace(id_, client_, std::move(start.state), this, std::move(start.buffers));
  switch (limits->Acquire(client_)) {
    case ConnectionLimits::Verdict::kAccepted:
      limits_ = limits;
      break;
    case ConnectionLimits::Verdict::kServerFull:
      Metrics().refused_server_full.Add();
      session_->Refuse("421 4.7.0 " + hostname + " Error: too many connections", "server full");
      return false;
    case ConnectionLimits::Verdict::kClientFull:
      Metrics().refused_client_full.Add();
      session_->Refuse("421 4.7.0 " + hostname + " Error: too many connections from your address",
                       "client over its connection limit");
      return false;
  }
  SetReading(true);
  if (start.implicit_tls && !BeginTls()) return false;
  session_->Start();
  return true;
}

void SmtpConnection::OnProxyBytes(std::string_view bytes) {
  std::string& so_far = pending_->header;
  size_t taken = std::min(bytes.size(), kMaxProxyHeaderBytes - so_far.size());
  so_far.append(bytes.substr(0, taken));
  ProxyHeader header = ParseProxyHeader(so_far);
  if (header.parse == ProxyHeader::Parse::kNeedMore) return;
  if (header.parse == ProxyHeader::Parse::kInvalid) {
    Metrics().proxy_header_errors.Add();
    spdlog::warn("session {:x} proxy={}: {}; connection closed", id_, client_, header.error);
    Close();
    return;
  }
  // Whatever followed the header is the client's: the start of its SMTP, or its TLS hello.
  std::string rest = so_far.substr(header.length);
  rest.append(bytes.substr(taken));
  if (header.proxied) {
    spdlog::debug("session {:x} proxy={} PROXY v{}: client {}:{} to {}:{}", id_, client_,
                  header.version, header.source, header.source_port, header.destination,
                  header.destination_port);
    client_ = std::move(header.source);
  } else {
    spdlog::debug("session {:x} proxy={} PROXY v{}: the balancer's own connection", id_, client_,
                  header.version);
  }
  std::unique_ptr<PendingStart> start = std::move(pending_);
  if (StartSession(std::move(*start)) && !rest.empty()) HandleBytes(rest);
}

void SmtpConnection::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  // One read buffer per loop: libuv calls OnRead right after OnAlloc and the session copies
  // what it keeps, so idle connections hold no buffer at all.
  auto* self = static_cast<SmtpConnection*>(handle->data);
  *buf = self->loop_->read_buffer();
}

void SmtpConnection::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<SmtpConnection*>(stream->data);
  if (nread > 0) {
    std::string_view bytes(buf->base, static_cast<size_t>(nread));
    if (self->pending_) {
      self->OnProxyBytes(bytes);
    } else {
      self->HandleBytes(bytes);
    }
  } else if (nread < 0) {
    const char* reason =
        nread == UV_EOF ? "client closed the connection" : uv_strerror(static_cast<int>(nread));
    if (!self->pending_) {
      self->session_->OnDisconnected(reason);
      return;
    }
    spdlog::debug("session {:x} proxy={} before its PROXY header: {}", self->id_, self->client_,
                  reason);
    self->Close();
  }
}

void SmtpConnection::HandleBytes(std::string_view bytes) {
  if (!tls_) {
    session_->OnBytes(bytes);
    return;
  }
  std::string plaintext;
  bool was_established = tls_->handshake_done();
  Status s = tls_->Feed(bytes, &plaintext);
  WriteToSocket(tls_->TakeOutput());  // handshake records, or an alert
  if (!s.ok()) {
    session_->OnDisconnected(s.message());
    return;
  }
  if (!was_established && tls_->handshake_done()) {
    session_->OnTlsEstablished(tls_->Describe());
  }
  if (!plaintext.empty()) session_->OnBytes(plaintext);
}

void SmtpConnection::Write(std::string_view bytes) {
  if (closing_) return;
  if (tls_) {
    Status s = tls_->Write(bytes);
    WriteToSocket(tls_->TakeOutput());
    if (!s.ok()) session_->OnDisconnected(s.message());
    return;
  }
  WriteToSocket(bytes);
}

void SmtpConnection::WriteToSocket(std::string_view bytes) {
  if (closing_ || bytes.empty()) return;
  uv_stream_t* stream = this->stream();
  // Most replies fit in the socket buffer: try without a copy first.
  uv_buf_t buf = uv_buf_init(const_cast<char*>(bytes.data()), static_cast<unsigned>(bytes.size()));
  int written = uv_try_write(stream, &buf, 1);
  if (written == static_cast<int>(bytes.size())) return;
  if (written < 0 && written != UV_EAGAIN) {
    session_->OnDisconnected(uv_strerror(written));
    return;
  }
  size_t skip = written > 0 ? static_cast<size_t>(written) : 0;
  auto* req = new WriteRequest;
  req->data.assign(bytes.substr(skip));
  req->req.data = this;
  uv_buf_t rest = uv_buf_init(req->data.data(), static_cast<unsigned>(req->data.size()));
  int rc = uv_write(&req->req, stream, &rest, 1, [](uv_write_t* w, int status) {
    auto* request = reinterpret_cast<WriteRequest*>(w);
    auto* self = static_cast<SmtpConnection*>(w->data);
    delete request;
    if (status < 0 && status != UV_ECANCELED) self->session_->OnDisconnected(uv_strerror(status));
  });
  if (rc != 0) {
    delete req;
    session_->OnDisconnected(uv_strerror(rc));
  }
}

void SmtpConnection::SetReading(bool reading) {
  if (closing_ || reading == reading_) return;
  reading_ = reading;
  uv_stream_t* stream = this->stream();
  if (reading) {
    uv_read_start(stream, &SmtpConnection::OnAlloc, &SmtpConnection::OnRead);
  } else {
    uv_read_stop(stream);
  }
}

void SmtpConnection::SetTimeout(std::chrono::milliseconds timeout) {
  if (closing_) return;
  uv_timer_start(&timer_, &SmtpConnection::OnTimer, static_cast<uint64_t>(timeout.count()), 0);
}

void SmtpConnection::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<SmtpConnection*>(timer->data);
  if (!self->pending_) {
    self->session_->OnTimeout();
    return;
  }
  Metrics().proxy_header_errors.Add();
  spdlog::warn("session {:x} proxy={}: no PROXY header within {}s; connection closed", self->id_,
               self->client_, kProxyHeaderTimeout.count());
  self->Close();
}

void SmtpConnection::Close() {
  if (closing_) return;
  SetReading(false);
  closing_ = true;
  uv_timer_stop(&timer_);
  // When every reply is already in the kernel, close() alone sends them and then the FIN:
  // shutdown() first would be one more system call per connection (one in 25 with a new
  // connection per message), and it fails anyway when the client has closed after its QUIT.
  if (uv_stream_get_write_queue_size(stream()) == 0) {
    CloseHandles();
    return;
  }
  // Shutdown waits for the queued writes (the last reply), then sends FIN. Its callback runs
  // before the handle's close callback, even when Abort() closes the handle meanwhile.
  int rc = uv_shutdown(&shutdown_, stream(), [](uv_shutdown_t* r, int) {
    static_cast<SmtpConnection*>(r->data)->CloseHandles();
  });
  if (rc != 0) CloseHandles();
}

void SmtpConnection::Abort() {
  if (session_) session_->OnDisconnected("aborted at the end of the shutdown grace");
  closing_ = true;
  CloseHandles();
}

void SmtpConnection::CloseHandles() {
  closing_ = true;
  for (uv_handle_t* h :
       {reinterpret_cast<uv_handle_t*>(&tcp_), reinterpret_cast<uv_handle_t*>(&timer_)}) {
    if (!uv_is_closing(h)) uv_close(h, &SmtpConnection::OnHandleClosed);
  }
}

void SmtpConnection::OnHandleClosed(uv_handle_t* handle) {
  auto* self = static_cast<SmtpConnection*>(handle->data);
  if (--self->open_handles_ > 0) return;
  if (self->limits_) self->limits_->Release(self->client_);
  self->limits_ = nullptr;
  // The session (closed by now) goes with its configuration and TLS state; its buffers stay.
  SmtpSession::Buffers buffers;
  if (self->session_) {
    buffers = self->session_->TakeBuffers();
    self->session_.reset();
  } else if (self->pending_) {  // a balancer's connection that never named its client
    buffers = std::move(self->pending_->buffers);
  }
  self->pending_.reset();
  self->tls_.reset();
  self->tls_context_.reset();
  self->loop_->OnConnectionClosed(self->id_, std::move(buffers));  // may destroy `self`
}

bool SmtpConnection::TlsOffered() { return tls_context_ && !tls_; }

void SmtpConnection::StartTls() { BeginTls(); }

bool SmtpConnection::UnderStress() { return limits_ && limits_->under_stress(); }

bool SmtpConnection::BeginTls() {
  Result<std::unique_ptr<TlsStream>> stream = TlsStream::Create(tls_context_);
  if (!stream.ok()) {
    session_->OnDisconnected(stream.status().message());
    return false;
  }
  tls_ = std::move(stream).value();
  return true;
}

void SmtpConnection::Deliver(SmtpTransaction* transaction) { loop_->Deliver(transaction); }

}  // namespace postdesk
