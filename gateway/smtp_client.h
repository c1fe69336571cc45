// SmtpClient: outbound SMTP (RFC 5321) to one relay (a smarthost) on a libuv loop, for the
// helpdesk's notifications. Send() queues a message; up to max_connections connections to the
// relay take queued messages one after another (one TCP and TLS handshake for many messages),
// with PIPELINING (RFC 2920) and STARTTLS (RFC 3207) when the relay offers them.
//
// Owns the queue, the connections and their libuv handles; a connection frees each handle in
// its close callback and lives until its last handle and request have called back, so no
// callback ever sees a freed connection. Everything happens on the loop's thread: construct,
// Send(), Close() and every callback; nothing here is thread-safe.
//
// Fails per message, never by throwing: each Send()'s `done` runs exactly once, on a later loop
// turn (never inside Send() or Close(), so it may call either), with kDelivered after the
// relay's 2xx to the final dot, kPermanent after a 5xx (the message will never go: bounce it),
// or kTemporary (send it again later): a 4xx, a timeout, a lost connection or failed TLS, a
// relay that cannot be reached, Close(). A connection that breaks fails only the message it
// carried; the queue moves on to another connection. A connection that cannot be set up
// (refused, timed out, greeting or EHLO refused, TLS failed) carries no message yet; when no
// other connection is left to serve the queue, everything queued fails with its reason, so an
// unreachable relay costs one connection attempt, not one per message.
#ifndef POSTDESK_GATEWAY_SMTP_CLIENT_H_
#define POSTDESK_GATEWAY_SMTP_CLIENT_H_

#include <uv.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "gateway/tls_stream.h"

namespace postdesk {

struct OutboundMessage {
  std::string mail_from;             // envelope sender; "" sends MAIL FROM:<> (RFC 5321 4.5.5)
  std::vector<std::string> rcpt_to;  // at least one; bare addresses, without <>
  // The whole message. CRLF line ends (a bare LF or CR is sent as CRLF), NOT dot-stuffed: the
  // client stuffs it and ends it with ".".
  std::string data;
};

struct DeliveryResult {
  enum class Kind { kDelivered, kTemporary, kPermanent };
  Kind kind = Kind::kTemporary;
  // The deciding SMTP reply code; 0 when no reply decided (refused connection, timeout, TLS
  // failure, a message refused before sending).
  int code = 0;
  // The relay's reply as sent (lines joined with "\n"; untrusted text: escape it for logs), or
  // why, e.g. "connect 127.0.0.1:2526: connection refused".
  std::string reply;
  // Recipients the relay refused with 5xx, and those it refused with 4xx, whatever `kind`: on
  // kDelivered the message went to the others. A 4xx recipient (often 452, "too many
  // recipients") is to be sent again in another transaction (RFC 5321 4.5.3.1.10).
  std::vector<std::string> refused;
  // Its default member initializer keeps DeliveryResult{kind, code, reply, refused} free of
  // -Wmissing-field-initializers.
  std::vector<std::string> deferred{};
};

// "delivered", "temporary", "permanent".
std::string_view KindName(DeliveryResult::Kind kind);

class SmtpClient {
 public:
  struct Options {
    std::string
        host;  // an IP literal or a name (resolved with uv_getaddrinfo, every address tried)
    uint16_t port = 25;
    std::string helo_name;  // our EHLO name; empty: the machine's name
    // A client context (TlsContext::Client): STARTTLS whenever the relay offers it, with `host`
    // as SNI (and as the name verified, when the context verifies), and EHLO again under TLS
    // (RFC 3207 4.2). Null: never STARTTLS.
    std::shared_ptr<const TlsContext> tls;
    // Refuse to send in clear: without STARTTLS (or without `tls`) every message fails as
    // kTemporary instead of going out unencrypted.
    bool require_tls = false;
    std::chrono::milliseconds connect_timeout{10000};  // resolving and TCP connect, all addresses
    std::chrono::milliseconds command_timeout{60000};  // each reply, and the TLS handshake
    std::chrono::milliseconds idle_timeout{30000};     // then an unused connection QUITs
    size_t max_connections = 2;                        // parallel connections to the relay
    size_t max_messages_per_connection = 100;          // then QUIT and reconnect
  };
  using Done = std::function<void(DeliveryResult)>;

  SmtpClient(uv_loop_t* loop, Options options);
  // Must be Closed, and the loop run until `closed` ran, before destruction.
  ~SmtpClient();
  SmtpClient(const SmtpClient&) = delete;
  SmtpClient& operator=(const SmtpClient&) = delete;

  // Queues one message. `done` runs exactly once, on the loop thread, after the relay's final
  // reply or the failure. Refused at once (kPermanent, no connection made): no recipient, or an
  // address with <, > or control characters (they would inject commands). After Close():
  // kTemporary "client closing".
  void Send(OutboundMessage message, Done done);
  // QUITs idle connections, fails queued and in-flight messages as kTemporary ("client
  // closing"), closes every handle; `closed` runs once every libuv handle is closed and every
  // `done` has run. The client may be destroyed from inside `closed`. A second call does nothing.
  void Close(std::function<void()> closed);

  size_t queued() const { return queue_.size(); }
  size_t connections() const { return connections_.size(); }

 private:
  class Connection;

  struct Job {
    std::string mail_from;
    std::vector<std::string> rcpt_to;
    std::string wire;             // CRLF, dot-stuffed, with the final ".\r\n"
    uint64_t size = 0;            // RFC 1870's size: CRLF line ends, before dot-stuffing
    bool eight_bit = false;       // octets over 127: BODY=8BITMIME (RFC 6152)
    bool utf8_addresses = false;  // non-ASCII addresses: SMTPUTF8 (RFC 6531)
    Done done;
  };

  // Every `done` goes through here: it runs from the idle handle, on the next loop turn.
  void Complete(Done done, DeliveryResult result);
  static void OnIdle(uv_idle_t* idle);
  static void OnIdleClosed(uv_handle_t* handle);
  // Gives queued messages to idle connections, then opens connections for the rest.
  void Dispatch();
  // The next queued message `connection` can carry; messages the relay's EHLO rules out (over
  // its SIZE, SMTPUTF8 not offered) fail permanently on the way.
  std::unique_ptr<Job> TakeJobFor(const Connection& connection);
  void OnSetupFailed(const Connection& failed, const DeliveryResult& result);
  void OnConnectionGone(uint64_t id);
  void MaybeFinishClose();

  uv_loop_t* const loop_;
  Options options_;
  std::unique_ptr<char[]> read_buffer_;  // shared by the connections: a read is consumed at once
  uv_idle_t* idle_;                      // owned; freed in its close callback
  bool idle_closing_ = false;
  std::deque<std::pair<Done, DeliveryResult>> completions_;
  std::deque<std::unique_ptr<Job>> queue_;
  std::map<uint64_t, std::unique_ptr<Connection>> connections_;  // oldest first
  uint64_t next_connection_ = 1;
  uint64_t backoff_until_ = 0;  // uv_now(): no extra connection before, after a failed setup
  bool closing_ = false;
  bool closed_ = false;
  std::function<void()> on_closed_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_SMTP_CLIENT_H_
