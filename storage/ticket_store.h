// TicketStore: one loop's asynchronous connection to Redis, through which the gateway stores
// messages as tickets.
//
// One TicketStore per event loop; every method and callback runs on that loop's thread, and none
// blocks it. It connects at Start() (which returns at once) and, on every (re)connection,
// authenticates (when the address has a password), selects the database, checks that the node
// serves the schema's slot and loads the Functions library; it counts as connected once Redis
// has accepted every step. On Redis Cluster a node that does not serve the slot answers MOVED,
// at the setup or later (the slot moved): the store then connects at once to the node named,
// and after any other failure starts again from the configured one. With a redis-sentinel://
// address every connection first asks the sentinels for the primary, and a READONLY reply (the
// primary was demoted by a failover) ends the connection so that the next one asks again;
// FUNCTION LOAD, a write, refuses a replica at the setup. The sentinels' answer and a host
// name's resolution are blocking calls (a dead or stuck sentinel answers only with its timeouts,
// storage/redis_sentinel.h): they run on libuv's thread pool (RedisNodeLookup) while the loop
// serves its sessions, and the connection goes on on the loop once they are done; messages
// meanwhile hear "redis unavailable". A unix socket or an IP address needs no lookup. It
// reconnects with exponential backoff (100 ms to 5 s) after a failure, by itself (a Redis that
// takes the connection and then answers nothing for `reply_timeout` while requests wait, one
// stopped or stuck behind a disk, is such a failure: every request waiting hears that its
// reply was lost, and Close() never waits longer for them): a lookup that
// found no node, a connect that failed, a refused setup step (a wrong password, say), each named
// in Ingest's error. A message that comes while the setup is answered is held until Redis has
// accepted every step, so that nothing runs behind a refused one (a failed SELECT would leave it in
// database 0); should one fail, the message hears its reason as "redis unavailable: ...". Ingest()
// calls its callback exactly once, on the loop: with the outcomes after Redis acknowledged the
// write (and, with the embedded server's `appendfsync always`, fsynced it), or with an error when
// Redis is down or answered an error (then nothing was written: the function is atomic), or when
// the connection went before the reply (then the block may or may not have run, as with any lost
// reply). The outcomes say, per brand, whether a ticket, a comment, a suspension or nothing (a
// duplicate) was stored. The callback may run before Ingest() returns when the store is
// disconnected. Close() ends the connection after the replies in flight; the object may be
// destroyed once Close's callback ran. Close does not wait for a lookup in flight: it cancels
// it, and its answer is dropped when the pool hands it back; the loop itself runs until then
// (uv_run returns only once the pool has handed back every request), at most the lookup's
// timeouts. Destroying a store that never connected, or whose Close finished, is safe at any
// time, a lookup in flight included. A state observer (for metrics) hears each change between
// connected and not, on the loop.
//
// The connection is our own libuv stream (unix socket or TCP) with hiredis's reply reader, not
// hiredis's async context: that one allocates a callback record for every command and a new
// output buffer after every write. Here the commands of one loop iteration go into one buffer
// and out in one write once the iteration's I/O callbacks have run (so that Redis takes them in
// one read and one fsync), a large raw message is written from the request itself (a gathered
// write: the request must stay unchanged until its callback runs), replies are built in a
// RedisReplyArena, and the FIFO of waiting callbacks reuses its storage: a warm loop stores a
// message without a heap allocation.
#ifndef POSTDESK_STORAGE_TICKET_STORE_H_
#define POSTDESK_STORAGE_TICKET_STORE_H_

#include <uv.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parser/result.h"
#include "storage/ingest_request.h"
#include "storage/redis_address.h"
#include "storage/redis_reply_arena.h"
#include "storage/redis_sentinel.h"
#include "storage/resp_command.h"

struct redisReader;
struct redisReply;

namespace postdesk {

// `outcomes` is empty unless `status` is ok; both are valid only during the call (the store
// reuses them for the next reply).
using IngestCallback =
    std::function<void(const Status& status, const std::vector<IngestOutcome>& outcomes)>;

class TicketStore {
 public:
  TicketStore(uv_loop_t* loop, RedisAddress address,
              std::chrono::milliseconds reply_timeout = kDefaultReplyTimeout);
  ~TicketStore();
  TicketStore(const TicketStore&) = delete;
  TicketStore& operator=(const TicketStore&) = delete;

  void Start();
  // `request` must stay where it is, unchanged, until `callback` has run: a large raw message
  // or description is written from there. A temporary would not, hence the deleted overload.
  void Ingest(const IngestRequest& request, IngestCallback callback);
  void Ingest(const IngestRequest&& request, IngestCallback callback) = delete;
  void Close(std::function<void()> done);

  bool connected() const { return state_ == State::kConnected; }
  // Called with true once connected, with false when that connection ends.
  void SetStateObserver(std::function<void(bool connected)> observer) {
    observer_ = std::move(observer);
  }

 private:
  // kLookingUp: asking the sentinels or the name server for the node (lookup_), off the loop.
  // kSettingUp: connected, waiting for the answers to AUTH, SELECT, the slot probe and FUNCTION
  // LOAD.
  enum class State {
    kIdle,
    kLookingUp,
    kConnecting,
    kSettingUp,
    kConnected,
    kWaiting,
    kClosing,
    kClosed
  };
  struct Link;  // one connection's handle and requests, freed in its close callback

  // One request's replies, oldest first: an ingest block is answered by `replies` replies, of
  // which only the last (EXEC's) goes to the callback; the setup steps have none.
  struct Pending {
    size_t replies;
    IngestCallback callback;
  };

  static void OnConnected(uv_connect_t* request, int status);
  static void OnAllocate(uv_handle_t* handle, size_t suggested, uv_buf_t* buffer);
  static void OnRead(uv_stream_t* stream, ssize_t n, const uv_buf_t* buffer);
  static void OnWritten(uv_write_t* request, int status);
  static void OnLinkClosed(uv_handle_t* handle);
  static void OnTimer(uv_timer_t* timer);
  static void OnFlush(uv_check_t* check);

  // Connects to address_: at once when it needs no lookup (a unix socket, an IP address),
  // else once lookup_ found its node (OnNodeFound).
  void Connect();
  void OnNodeFound(Result<RedisNode> node);
  void ConnectTo(const RedisNode& node);
  // Queues one request's RESP text, with the values `splices` put in, answered by `replies`
  // replies.
  void Send(std::string_view commands, std::span<const RespSplice> splices, size_t replies,
            IngestCallback callback);
  void StartWrite();
  void OnReply(const redisReply* reply);
  void OnSetupReply(const redisReply* reply);
  // Keeps the node of a MOVED error reply, for the reconnect that follows.
  void NoteRedirect(const redisReply* reply);
  // Ends the connection: every waiting request fails with `why`, then a reconnect (or, when
  // closing, the end of Close).
  void Drop(const std::string& why);
  void ScheduleReconnect(const std::string& why);
  void MaybeFinishClose();
  void ReportState(bool connected);
  void PopPending();
  // While requests wait for replies on a connection, timer_ holds the reply deadline: started
  // when the first is sent, started again by every block answered, stopped when none waits.
  void RestartReplyDeadline();

  uv_loop_t* const loop_;
  const RedisAddress configured_;  // [redis] url, where every reconnect after a failure starts
  const uint64_t reply_timeout_ms_;
  // The node connected to: configured_, the primary its sentinels named, or where MOVED sent us.
  RedisAddress address_;
  std::optional<RedisAddress> redirect_;  // a MOVED reply's node, for the next connect
  int redirects_ = 0;                     // MOVED hops since the last setup that succeeded
  bool readonly_ = false;                 // a READONLY reply: the node is a replica now
  std::string last_primary_;              // the primary the sentinels named last, for the log
  uint64_t sentinel_switches_ = 0;        // SentinelSwitches() when the sentinels were asked
  bool primary_moved_ = false;            // dropped for that: reconnect without a backoff
  State state_ = State::kIdle;
  RedisNodeLookup lookup_;  // the sentinels' primary and the host's address, on the pool
  Link* link_ = nullptr;    // the open connection; owned by its handle until OnLinkClosed
  size_t links_open_ = 0;
  redisReader* reader_ = nullptr;  // the open connection's; built in reply_arena_
  uv_timer_t* timer_;              // owned; freed in its close callback
  uv_check_t* flush_;              // likewise: writes out_ once the loop's I/O callbacks ran
  uint64_t backoff_ms_ = 0;
  std::string out_;                          // commands not yet written
  std::string writing_;                      // the bytes of the write in flight
  std::vector<RespSplice> out_splices_;      // values that belong in out_
  std::vector<RespSplice> writing_splices_;  // and in writing_
  std::vector<uv_buf_t> pieces_;             // the write in flight, piece by piece
  bool write_in_flight_ = false;
  std::unique_ptr<char[]> read_buffer_;
  std::vector<Pending> pending_;  // oldest first, from pending_head_
  size_t pending_head_ = 0;
  IngestCommands block_;                 // reused for every request
  std::string storage_key_;              // likewise
  std::vector<IngestOutcome> outcomes_;  // likewise, for every reply
  // The open connection's setup commands, by name, in the order Redis answers them.
  std::array<const char*, 4> setup_steps_{};
  size_t setup_count_ = 0;
  size_t setup_answered_ = 0;
  bool setup_unanswered_ = false;  // the setup is written: out_ waits for its answers
  // Every connection's replies; it outlives each reader (freeing a reader frees a half-read
  // reply into it, and the destructor runs only once Close() has finished).
  RedisReplyArena reply_arena_;
  std::function<void()> close_done_;
  std::string last_error_;
  std::function<void(bool)> observer_;
  bool reported_connected_ = false;
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_TICKET_STORE_H_
