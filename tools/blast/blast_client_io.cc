// BlastClient's socket half: connect, read, write (through TLS once it is on), the command
// timer, and the close. The SMTP dialogue itself is in blast_client.cc.
#include <cstdio>
#include <exception>
#include <utility>

#include "parser/smtp_reply.h"
#include "tools/blast/blast_client.h"  // IWYU pragma: associated

namespace postdesk::blast {
namespace {

// A reply, continuation lines included, must fit in this (RFC 5321 4.5.3.1.5: 512 bytes a
// line; an EHLO reply is a few hundred bytes). More is a broken server.
constexpr size_t kMaxReplyBytes = 64 * 1024;

struct WriteRequest {
  uv_write_t req;
  std::string data;
};

// Every libuv callback runs its body through this: an exception (std::bad_alloc, most likely)
// fails the connection instead of unwinding into libuv's C frames.
template <typename Body>
void Guarded(BlastClient* client, Body body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    client->Abort();
    std::fprintf(stderr, "postdesk-blast: connection %zu: %s\n", client->slot(), e.what());
  } catch (...) {
    client->Abort();
  }
}

}  // namespace

BlastClient::BlastClient(uv_loop_t* loop, const Config& config, ClientHost* host, size_t slot)
    : loop_(loop), config_(config), host_(host), slot_(slot), timer_(new uv_timer_t) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  pending_ = 1;
}

BlastClient::~BlastClient() = default;

void BlastClient::Start() {
  tcp_ = new uv_tcp_t;
  uv_tcp_init(loop_, tcp_);
  tcp_->data = this;
  ++pending_;
  Await(State::kConnecting);
  auto* req = new uv_connect_t;
  req->data = this;
  int rc = uv_tcp_connect(req, tcp_, reinterpret_cast<const sockaddr*>(&config_.address),
                          &BlastClient::OnConnected);
  if (rc != 0) {
    delete req;
    Fail(ErrorKind::kConnect, uv_strerror(rc));
    return;
  }
  ++pending_;
}

void BlastClient::OnConnected(uv_connect_t* req, int status) {
  auto* self = static_cast<BlastClient*>(req->data);
  delete req;
  Guarded(self, [&] {
    if (self->closing_) return;  // UV_ECANCELED: the handle was closed
    if (status < 0) {
      self->Fail(ErrorKind::kConnect, uv_strerror(status));
      return;
    }
    uv_tcp_nodelay(self->tcp_, 1);  // commands are small and each waits for its reply
    int rc = uv_read_start(reinterpret_cast<uv_stream_t*>(self->tcp_), &BlastClient::OnAlloc,
                           &BlastClient::OnRead);
    if (rc != 0) {
      self->Fail(ErrorKind::kConnect, std::string("read: ") + uv_strerror(rc));
      return;
    }
    self->Await(State::kGreeting);  // RFC 5321 3.1: the server speaks first
  });
  self->Release();
}

void BlastClient::OnAlloc(uv_handle_t* handle, size_t, uv_buf_t* buf) {
  auto* self = static_cast<BlastClient*>(handle->data);
  *buf =
      uv_buf_init(self->config_.read_buffer, static_cast<unsigned>(self->config_.read_buffer_size));
}

void BlastClient::OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf) {
  auto* self = static_cast<BlastClient*>(stream->data);
  Guarded(self, [&] {
    if (self->closing_ || nread == 0) return;
    if (nread > 0) {
      self->OnBytes(buf->base, static_cast<size_t>(nread));
      return;
    }
    if (self->state_ == State::kQuit) {
      self->CloseHandles();
    } else if (self->state_ == State::kReady) {
      self->closed_by_server_ = true;  // e.g. the server's idle timeout
      self->CloseHandles();
    } else {
      std::string why =
          nread == UV_EOF ? "closed by the server" : uv_strerror(static_cast<int>(nread));
      self->Fail(ErrorKind::kClosed, "connection " + why + " awaiting " + Awaiting(self->state_));
    }
  });
}

void BlastClient::OnBytes(const char* data, size_t size) {
  if (!tls_) {
    ProcessInput(data, size);
    return;
  }
  std::string plaintext;
  bool was_done = tls_->handshake_done();
  Status fed = tls_->Feed(std::string_view(data, size), &plaintext);
  WriteToSocket(tls_->TakeOutput());  // handshake records, or an alert
  if (closing_) return;
  if (!fed.ok()) {
    // A close_notify (or a broken record) on an idle or quitting session is just its end.
    if (state_ == State::kReady || state_ == State::kQuit) {
      closed_by_server_ = state_ == State::kReady;
      CloseHandles();
    } else {
      Fail(ErrorKind::kTls, fed.message());
    }
    return;
  }
  if (!was_done && tls_->handshake_done()) {
    // RFC 3207 4.2: forget what the server said in clear, ask again under TLS.
    server_pipelining_ = server_starttls_ = server_8bitmime_ = server_size_ = false;
    Send("EHLO " + config_.helo + "\r\n");
    Await(State::kEhloTls);
  }
  if (!plaintext.empty()) ProcessInput(plaintext.data(), plaintext.size());
}

void BlastClient::ProcessInput(const char* data, size_t size) {
  in_.append(data, size);
  while (!closing_) {
    size_t eol = in_.find('\n');
    if (eol == std::string::npos) break;
    std::string_view line(in_.data(), eol);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    std::optional<SmtpReplyLine> parsed = ParseSmtpReplyLine(line);
    if (!parsed) {
      Fail(ErrorKind::kProtocol,
           "malformed reply line \"" + Shown(line) + "\" awaiting " + Awaiting(state_));
      return;
    }
    if (!reply_text_.empty()) reply_text_ += " / ";
    reply_text_.append(line);
    bool last = parsed->last;
    int code = parsed->code;
    // Consumed before the reply is acted on: what is left is what the server sent after it
    // (the STARTTLS check below depends on that).
    in_.erase(0, eol + 1);
    if (!last) continue;
    Reply reply;
    reply.code = code;
    reply.text = std::move(reply_text_);
    reply_text_.clear();
    OnReply(reply);
  }
  if (!closing_ && in_.size() + reply_text_.size() > kMaxReplyBytes) {
    Fail(ErrorKind::kProtocol, "reply longer than " + std::to_string(kMaxReplyBytes) + " bytes");
  }
}

void BlastClient::Send(std::string bytes) {
  if (closing_) return;
  if (!tls_) {
    WriteToSocket(std::move(bytes));
    return;
  }
  Status written = tls_->Write(bytes);
  if (!written.ok()) {
    Fail(ErrorKind::kTls, written.message());
    return;
  }
  WriteToSocket(tls_->TakeOutput());
}

void BlastClient::WriteToSocket(std::string bytes) {
  if (closing_ || bytes.empty()) return;
  auto* stream = reinterpret_cast<uv_stream_t*>(tcp_);
  size_t offset = 0;
  if (writes_in_flight_ == 0) {  // else the bytes would overtake those queued
    uv_buf_t buf = uv_buf_init(bytes.data(), static_cast<unsigned>(bytes.size()));
    int n = uv_try_write(stream, &buf, 1);
    if (n < 0 && n != UV_EAGAIN) {
      Fail(ErrorKind::kClosed, std::string("write: ") + uv_strerror(n));
      return;
    }
    if (n > 0) offset = static_cast<size_t>(n);
    if (offset == bytes.size()) return;
  }
  auto* request = new WriteRequest;
  request->req.data = this;
  request->data = bytes.substr(offset);
  uv_buf_t buf = uv_buf_init(request->data.data(), static_cast<unsigned>(request->data.size()));
  int rc = uv_write(&request->req, stream, &buf, 1, &BlastClient::OnWritten);
  if (rc != 0) {
    delete request;
    Fail(ErrorKind::kClosed, std::string("write: ") + uv_strerror(rc));
    return;
  }
  ++pending_;
  ++writes_in_flight_;
}

void BlastClient::OnWritten(uv_write_t* req, int status) {
  auto* request = reinterpret_cast<WriteRequest*>(req);
  auto* self = static_cast<BlastClient*>(req->data);
  delete request;
  Guarded(self, [&] {
    --self->writes_in_flight_;
    if (self->closing_) return;
    if (status < 0) {
      self->Fail(ErrorKind::kClosed, std::string("write: ") + uv_strerror(status) + " awaiting " +
                                         Awaiting(self->state_));
      return;
    }
    if (self->dot_in_write_ && self->writes_in_flight_ == 0) {
      self->dot_in_write_ = false;
      self->dot_sent_ns_ = uv_hrtime();
    }
  });
  self->Release();
}

void BlastClient::Await(State state) {
  if (closing_) return;  // a write just failed: the state stays kClosing
  state_ = state;
  uv_timer_start(timer_, &BlastClient::OnTimer, config_.timeout_ms, 0);
}

void BlastClient::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<BlastClient*>(timer->data);
  Guarded(self, [&] {
    if (self->closing_) return;
    if (self->state_ == State::kQuit) {
      self->CloseHandles();  // a server slow to say 221 costs us nothing
      return;
    }
    self->Fail(ErrorKind::kTimeout, "no " + std::string(Awaiting(self->state_)).substr(4) +
                                        " within " + std::to_string(self->config_.timeout_ms) +
                                        " ms");
  });
}

void BlastClient::Fail(ErrorKind kind, const std::string& what) {
  if (closing_) return;
  failed_ = true;
  error_kind_ = kind;
  error_ = what;
  error_lost_message_ = in_transaction();  // kRset: the message was already counted refused
  CloseHandles();
}

void BlastClient::CloseHandles() {
  if (closing_) return;
  closing_ = true;
  state_ = State::kClosing;
  uv_close(reinterpret_cast<uv_handle_t*>(timer_), &BlastClient::OnHandleClosed);
  if (tcp_) uv_close(reinterpret_cast<uv_handle_t*>(tcp_), &BlastClient::OnHandleClosed);
}

void BlastClient::OnHandleClosed(uv_handle_t* handle) {
  auto* self = static_cast<BlastClient*>(handle->data);
  if (handle == reinterpret_cast<uv_handle_t*>(self->timer_)) {
    delete self->timer_;
    self->timer_ = nullptr;
  } else {
    delete self->tcp_;
    self->tcp_ = nullptr;
  }
  self->Release();
}

void BlastClient::Release() {
  if (--pending_ > 0) return;
  // The last callback: report, then hand the client over; nothing of `this` is touched after.
  // The host's callbacks may throw only std::bad_alloc; the client is released regardless.
  ClientHost* host = host_;
  try {
    if (failed_) host->OnConnectionError(this, error_kind_, error_, error_lost_message_);
  } catch (...) {
  }
  try {
    host->OnClosed(this);
  } catch (...) {
  }
}

}  // namespace postdesk::blast
