// SmtpConnection: one accepted TCP connection on a libuv loop, carrying one SmtpSession.
//
// Holds its uv_tcp_t and inactivity uv_timer_t (closed before the object goes) and the
// session. Lives on its loop's thread only. When both handles have closed it tells its
// ServerLoop, which destroys it or keeps it for a later connection (Reopen): nothing else
// deletes a connection, so a session may call Close() from inside its own callbacks safely. Its
// session's buffers (SmtpSession::Buffers) go to the ServerLoop with it, and come back to the
// next session in Accept().
// A connection from one of [smtp] proxy_protocol_from's networks (a load balancer) must first
// send a PROXY protocol header (parser/proxy_header.h) within kProxyHeaderTimeout: only then does
// the session start, as the client the header names, so that the connection limits, the logs and
// the Received: trace see that client. A missing or malformed header closes the connection
// without a word (nothing SMTP was spoken yet), logged with the balancer's address.
// Socket errors end the session quietly (the client went away); nothing here throws.
#ifndef POSTDESK_GATEWAY_SMTP_CONNECTION_H_
#define POSTDESK_GATEWAY_SMTP_CONNECTION_H_

#include <uv.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "gateway/connection_limits.h"
#include "gateway/smtp_session.h"
#include "gateway/tls_stream.h"

namespace postdesk {

class ServerLoop;

class SmtpConnection : public SmtpSession::Transport {
 public:
  SmtpConnection(ServerLoop* loop, uint64_t id);
  ~SmtpConnection() override;
  // Makes a connection whose handles have closed ready for Accept() again, as `id`.
  void Reopen(uint64_t id);

  // Postfix's smtpd_upstream_proxy_timeout: a balancer writes its header at once.
  static constexpr std::chrono::seconds kProxyHeaderTimeout{5};

  // Accepts from `listener` and starts the session (after the PROXY header, from a balancer);
  // false (and closed) on failure.
  // Over `limits`, the client is told 421 4.7.0 and the connection closed.
  // With `implicit_tls` the TLS handshake comes first (port 465 style) and the greeting is
  // sent under TLS.
  // `buffers`: a closed session's, for this one to reuse.
  bool Accept(uv_stream_t* listener, std::shared_ptr<const ServingState> state,
              ConnectionLimits* limits, bool implicit_tls, SmtpSession::Buffers buffers = {});

  SmtpSession* session() { return session_ ? &*session_ : nullptr; }
  uint64_t id() const { return id_; }
  // Closes the socket now, without waiting for queued replies (end of the shutdown grace).
  void Abort();

  // SmtpSession::Transport
  void Write(std::string_view bytes) override;
  void SetReading(bool reading) override;
  void SetTimeout(std::chrono::milliseconds timeout) override;
  void Close() override;
  void Deliver(SmtpTransaction* transaction) override;
  bool TlsOffered() override;
  void StartTls() override;
  bool UnderStress() override;

 private:
  static void OnAlloc(uv_handle_t* handle, size_t suggested, uv_buf_t* buf);
  static void OnRead(uv_stream_t* stream, ssize_t nread, const uv_buf_t* buf);
  static void OnTimer(uv_timer_t* timer);
  static void OnHandleClosed(uv_handle_t* handle);

  // What Accept() was given, kept while a balancer's PROXY header is awaited, with the
  // header's bytes so far (at most kMaxProxyHeaderBytes).
  struct PendingStart {
    std::shared_ptr<const ServingState> state;
    ConnectionLimits* limits = nullptr;
    bool implicit_tls = false;
    SmtpSession::Buffers buffers;
    std::string header;
  };
  bool StartSession(PendingStart start);
  void OnProxyBytes(std::string_view bytes);
  // Bytes from the socket to the session, through TLS once it has started.
  void HandleBytes(std::string_view bytes);
  void CloseHandles();
  void WriteToSocket(std::string_view bytes);
  bool BeginTls();  // false (and the session told) when TLS cannot start

  uv_stream_t* stream() { return reinterpret_cast<uv_stream_t*>(&tcp_); }

  ServerLoop* const loop_;
  uint64_t id_;
  uv_tcp_t tcp_;
  uv_timer_t timer_;
  uv_shutdown_t shutdown_;
  int open_handles_ = 0;
  bool closing_ = false;
  bool reading_ = false;
  std::optional<SmtpSession> session_;
  std::shared_ptr<const TlsContext> tls_context_;  // null: TLS not configured
  std::unique_ptr<TlsStream> tls_;                 // set once TLS started
  ConnectionLimits* limits_ = nullptr;  // set when a slot was acquired: released at the end
  std::string client_;
  // Set while the PROXY header is awaited: on the heap, so that the connections of a gateway
  // without balancers (kept by the loop for reuse, idle ones included) do not carry it.
  std::unique_ptr<PendingStart> pending_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_SMTP_CONNECTION_H_
