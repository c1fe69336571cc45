// SmtpClient::Connection, SmtpClient's own: one connection to the relay and its dialogue. Only
// smtp_client.cc and the two files that implement it include this: smtp_client_connection.cc
// (the transport: resolving, connecting, reading, writing, timers and closing) and
// smtp_client_dialogue.cc (the SMTP steps: greeting, EHLO, STARTTLS, transactions, QUIT). It
// runs on its client's loop thread, and fails through Fail(), which reports to the message it
// carries or, during setup, to the client.
#ifndef POSTDESK_GATEWAY_SMTP_CLIENT_CONNECTION_H_
#define POSTDESK_GATEWAY_SMTP_CLIENT_CONNECTION_H_

#include <uv.h>

#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/smtp_client.h"
#include "gateway/smtp_relay_wire.h"
#include "gateway/tls_stream.h"

namespace postdesk {

// A reply, its continuation lines included, must fit in this (RFC 5321 4.5.3.1.5 asks for 512
// bytes per line; EHLO replies run to a few hundred bytes). More is a broken or hostile relay.
inline constexpr size_t kMaxReplyBytes = 64 * 1024;
inline constexpr unsigned kReadBufferSize = 64 * 1024;

// One connection to the relay: resolve, connect, greeting, EHLO (HELO), STARTTLS and EHLO
// again, then transactions one after another until idle_timeout, max_messages_per_connection,
// a failure or Close(). Owned by its SmtpClient's map; it asks to be erased (OnConnectionGone)
// from the callback that brings its count of open handles and pending requests to zero, and
// nothing else erases it, so every callback finds it alive. Only `timer_` and `tcp_` are handles;
// the resolver, connect and write requests are counted too, since they call back after a close.
class SmtpClient::Connection {
 public:
  using Reply = relay::Reply;
  using Extensions = relay::Extensions;

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

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_SMTP_CLIENT_CONNECTION_H_
