// TicketStore: one loop's asynchronous connection to Redis (hiredis on libuv), through which the
// gateway stores messages as tickets.
//
// One TicketStore per event loop; every method runs on that loop's thread. It connects at
// Start(), loads the Functions library on every (re)connection, and reconnects with exponential
// backoff (100 ms to 5 s) after a failure, by itself. Ingest() calls its callback exactly once,
// on the loop: with the outcomes after Redis acknowledged the write (and, with the
// embedded server's `appendfsync always`, fsynced it), or with an error when Redis is down or
// answered an error (then nothing was written: the function is atomic). The outcomes say, per
// brand, whether a ticket, a comment, a suspension or nothing (a duplicate) was stored. The callback may run
// before Ingest() returns when the store is disconnected. Close() ends the connection after the
// replies in flight; the object may be destroyed once Close's callback ran. A state observer
// (for metrics) hears each change between connected and not, on the loop.
#ifndef POSTDESK_STORAGE_TICKET_STORE_H_
#define POSTDESK_STORAGE_TICKET_STORE_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "parser/result.h"
#include "storage/ingest_request.h"
#include "storage/redis_address.h"
#include "storage/redis_reply_arena.h"

struct redisAsyncContext;

namespace postdesk {

// `outcomes` is empty unless `status` is ok; both are valid only during the call (the store
// reuses them for the next reply).
using IngestCallback =
    std::function<void(const Status& status, const std::vector<IngestOutcome>& outcomes)>;

class TicketStore {
 public:
  TicketStore(uv_loop_t* loop, RedisAddress address);
  ~TicketStore();
  TicketStore(const TicketStore&) = delete;
  TicketStore& operator=(const TicketStore&) = delete;

  void Start();
  void Ingest(const IngestRequest& request, IngestCallback callback);
  void Close(std::function<void()> done);

  bool connected() const { return state_ == State::kConnected; }
  // Called with true once connected, with false when that connection ends.
  void SetStateObserver(std::function<void(bool connected)> observer) {
    observer_ = std::move(observer);
  }

 private:
  enum class State { kIdle, kConnecting, kConnected, kWaiting, kClosing, kClosed };

  static void OnConnect(const redisAsyncContext* context, int status);
  static void OnDisconnect(const redisAsyncContext* context, int status);
  static void OnReply(redisAsyncContext* context, void* reply, void* privdata);
  static void OnTimer(uv_timer_t* timer);

  void Connect();
  void ScheduleReconnect(const std::string& why);
  void MaybeFinishClose();
  void ReportState(bool connected);
  void PopPending();

  uv_loop_t* const loop_;
  const RedisAddress address_;
  State state_ = State::kIdle;
  redisAsyncContext* context_ = nullptr;
  uv_timer_t* timer_;  // owned; freed in its close callback
  uint64_t backoff_ms_ = 0;
  uint64_t next_request_ = 1;
  struct Pending {
    uint64_t id;
    IngestCallback callback;
  };
  std::vector<Pending> pending_;  // oldest first, from pending_head_
  size_t pending_head_ = 0;
  IngestCommands block_;     // reused for every request
  std::string storage_key_;  // likewise
  std::vector<IngestOutcome> outcomes_;  // likewise, for every reply
  // Every connection's replies; it outlives each context (hiredis frees a half-read reply into
  // it when a connection goes, and the destructor runs only once Close() has finished).
  RedisReplyArena reply_arena_;
  std::function<void()> close_done_;
  std::string last_error_;
  std::function<void(bool)> observer_;
  bool reported_connected_ = false;
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_TICKET_STORE_H_
