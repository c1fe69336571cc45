// ServerLoop: one libuv event loop on its own thread, with its own listening sockets
// (SO_REUSEPORT: the kernel spreads connections across loops), connections, Redis connection
// (TicketStore) and Delivery. A Server runs one per core (design.md, "Scale").
//
// Construction and Listen() happen on the main thread before Run(); Run() is the thread's body
// and returns when the loop has drained after Shutdown(). Shutdown(), UpdateState() and
// StressBegan() are the only methods that may be called from another thread. Every other method
// runs on the loop's thread.
#ifndef POSTDESK_GATEWAY_SERVER_LOOP_H_
#define POSTDESK_GATEWAY_SERVER_LOOP_H_

#include <uv.h>

#include <memory>
#include <mutex>
#include <unordered_map>
#include <vector>

#include "gateway/delivery.h"
#include "gateway/smtp_connection.h"
#include "gateway/smtp_transaction.h"
#include "parser/result.h"
#include "storage/redis_address.h"
#include "storage/ticket_store.h"

namespace postdesk {

class ServerLoop {
 public:
  // `limits` is shared by every loop and outlives them.
  ServerLoop(uint16_t index, std::shared_ptr<const ServingState> state, RedisAddress redis,
             ConnectionLimits* limits);
  ~ServerLoop();
  ServerLoop(const ServerLoop&) = delete;
  ServerLoop& operator=(const ServerLoop&) = delete;

  // Binds a listening socket for each address (SO_REUSEPORT, so every loop binds the same
  // ports). Fails naming the address (in use, permission denied...).
  // With `implicit_tls`, connections start with the TLS handshake.
  Status Listen(const std::vector<ListenAddress>& addresses, bool implicit_tls = false);
  void Run();
  // Thread-safe. Stops accepting; idle sessions get 421 now, the others after their
  // transaction; after the grace period the rest are cut.
  void Shutdown();
  // Thread-safe. New sessions use `state` (a reloaded configuration); sessions in progress
  // keep the one they started with.
  void UpdateState(std::shared_ptr<const ServingState> state);
  // Thread-safe. The process came under stress (ConnectionLimits): every session of this loop
  // that waits for a command hears so (SmtpSession::OnStress).
  void StressBegan();

  uv_loop_t* loop() { return &loop_; }
  uv_buf_t read_buffer() { return uv_buf_init(read_buffer_.get(), kReadBufferSize); }
  void Deliver(SmtpTransaction* transaction);
  // `buffers`: the closed session's, kept with the connection for its next session.
  void OnConnectionClosed(uint64_t id, SmtpSession::Buffers buffers);

 private:
  static constexpr unsigned kReadBufferSize = 64 * 1024;

  static void OnConnection(uv_stream_t* listener, int status);
  void BeginShutdown();
  void MaybeFinish();

  // Initialised before every member that registers handles on it.
  struct Loop {
    Loop() { uv_loop_init(&loop); }
    uv_loop_t loop;
  };

  const uint16_t index_;
  std::shared_ptr<const ServingState> state_;
  ConnectionLimits* const limits_;
  Loop loop_holder_;
  uv_loop_t& loop_ = loop_holder_.loop;
  static void OnWakeup(uv_async_t* async);

  uv_async_t* wakeup_async_;  // owned; freed in its close callback
  std::mutex async_mu_;       // guards the three below: other threads ask, the loop acts
  bool async_open_ = true;
  bool shutdown_requested_ = false;
  bool stress_began_ = false;
  std::shared_ptr<const ServingState> next_state_;
  uv_timer_t* grace_timer_;     // owned; freed in its close callback
  // A listening socket; `tcp` first, so that a uv_stream_t* of it is a Listener*.
  struct Listener {
    uv_tcp_t tcp;
    bool implicit_tls = false;
  };
  std::vector<Listener*> listeners_;  // owned; freed in their close callbacks
  std::unique_ptr<char[]> read_buffer_;
  TicketStore store_;
  Delivery delivery_;
  using ConnectionMap = std::unordered_map<uint64_t, std::unique_ptr<SmtpConnection>>;
  ConnectionMap connections_;
  // Closed connections, each in its map node and with its session's buffers, kept for the next
  // accepts: a new connection then costs no allocation for its object, handles, node or
  // session buffers. An open connection holds no spare buffers (idle ones stay small).
  static constexpr size_t kMaxSpareConnections = 128;
  struct SpareConnection {
    ConnectionMap::node_type node;
    SmtpSession::Buffers buffers;
  };
  std::vector<SpareConnection> spare_connections_;
  uint64_t next_connection_ = 1;
  bool shutting_down_ = false;
  bool finished_ = false;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_SERVER_LOOP_H_
