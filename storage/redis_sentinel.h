// Redis Sentinel: which server is the primary now, for a redis-sentinel:// address
// (storage/redis_address.h).
//
// Sentinel's client protocol (https://redis.io/docs/reference/sentinel-clients/): ask the
// sentinels in turn (after AUTH when they have a password of their own) for the master name's
// address, connect to it, and check that it is a primary; after a failover, the old primary
// answers writes with READONLY or goes away, and the client asks again. RedisConnection::Connect
// and TicketStore both ask at every connection (so each reconnection finds the primary of the
// moment) and check the server they reach.
//
// ResolveSentinelPrimary and LookUpNode block, with the address's sentinel_timeout per sentinel
// for the connect and for its reply: a sentinel that is down or stuck costs each lookup that
// much. They run on any
// thread that may wait (the tools', the workers'), never on a serving loop: a loop's store finds
// its node with a RedisNodeLookup, which runs them on libuv's thread pool. They fail with a
// message that names every sentinel asked and what it answered; never the password.
#ifndef POSTDESK_STORAGE_REDIS_SENTINEL_H_
#define POSTDESK_STORAGE_REDIS_SENTINEL_H_

#include <sys/socket.h>
#include <uv.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <thread>

#include "parser/result.h"
#include "storage/redis_address.h"

namespace postdesk {

// The primary's address: `address` with the host and port a sentinel names, its credentials
// and database kept, its sentinels cleared. `address` must be via_sentinel(). Each sentinel is
// given address.sentinel_timeout to connect and to answer, in turn.
Result<RedisAddress> ResolveSentinelPrimary(const RedisAddress& address);

// Where a connection to a server goes: the server's address (for a redis-sentinel:// one, the
// primary its sentinels named) and, unless it is a unix socket, the IP address of its host.
struct RedisNode {
  RedisAddress address;
  sockaddr_storage ip{};
};

// The node of an address that needs neither a sentinel nor a name server (a unix socket, or a
// host that is an IP address), found without blocking; nullopt for any other address.
std::optional<RedisNode> NodeWithoutLookup(const RedisAddress& address);

// The node of any address: the sentinels' primary (ResolveSentinelPrimary), then its host's
// first address (getaddrinfo). Blocking; fails with the sentinels' answers, or with "cannot
// resolve HOST: why".
Result<RedisNode> LookUpNode(const RedisAddress& address);

// RedisNodeLookup: LookUpNode off a libuv loop, for a client that lives on the loop (one
// TicketStore per loop). Start() queues it on libuv's thread pool (the process's 4 threads, or
// UV_THREADPOOL_SIZE's number, which also parse large messages: a stuck sentinel holds one of
// them for the lookup's timeouts, never the loop) and returns at once; `done` runs later on the
// loop with the node or the failure, exactly once unless Cancel() (or the destructor) comes first,
// after which it never runs. One lookup at a time: Start() cancels the one in flight. A cancelled
// lookup that has begun runs to its end on the pool, its request owned by libuv, and is dropped:
// the loop keeps running until then (uv_run does not return while the request is out), for at most
// the lookup's timeouts. An exception out of `done` is logged, never let through libuv. Every
// method runs on the loop's thread.
class RedisNodeLookup {
 public:
  using Done = std::function<void(Result<RedisNode> node)>;

  explicit RedisNodeLookup(uv_loop_t* loop) : loop_(loop) {}
  ~RedisNodeLookup() { Cancel(); }
  RedisNodeLookup(const RedisNodeLookup&) = delete;
  RedisNodeLookup& operator=(const RedisNodeLookup&) = delete;

  void Start(const RedisAddress& address, Done done);
  void Cancel();
  bool in_flight() const { return request_ != nullptr; }

 private:
  struct Request;  // one lookup's question and answer, owned by its work request
  static void LookUpOnPool(uv_work_t* work);
  static void AnswerOnLoop(uv_work_t* work, int status);

  uv_loop_t* const loop_;
  Request* request_ = nullptr;  // the lookup in flight, if any; libuv owns it
  Done done_;
};

// True for Redis's answer to a write on a replica ("READONLY You can't write against a read
// only replica."): the server is no primary (any more), and the client should connect again.
bool IsReadOnlyError(std::string_view error);

// True when a sentinel's event on `channel` (+promoted-slave or +switch-master) says that
// `master` has a new primary, whose "ip port" goes to `new_primary`.
bool IsSwitchOf(std::string_view channel, std::string_view message, std::string_view master,
                std::string* new_primary);

// How many times in this process a SentinelWatcher heard that the primary moved (or lost sight
// of its sentinels, when it may have missed a move). A connection made through the sentinels
// keeps the count it saw; another count means it may be talking to a demoted primary, which
// takes writes until the sentinels turn it into a replica (and drops them then): its owner
// connects again before its next write. Any thread.
uint64_t SentinelSwitches();

// SentinelWatcher: a thread subscribed to +promoted-slave and +switch-master on one of the
// address's sentinels at a time (the next one when it fails), counting each new primary of
// sentinel_master in SentinelSwitches() once (at its promotion: the end of the same failover is
// not counted again). One per process that writes through a redis-sentinel:// address (serve,
// `postdesk workers`). Stops and joins in its destructor, within a second. Never fails: a
// sentinel it cannot reach is logged and tried again.
class SentinelWatcher {
 public:
  explicit SentinelWatcher(RedisAddress address);
  ~SentinelWatcher();
  SentinelWatcher(const SentinelWatcher&) = delete;
  SentinelWatcher& operator=(const SentinelWatcher&) = delete;

 private:
  void Run();
  // Subscribed to `sentinel`, until it fails or the watcher stops; false when it never
  // subscribed.
  bool Watch(const RedisEndpoint& sentinel, bool count_the_subscription);
  // How often a quiet subscription looks at stopping_: the destructor's bound.
  static constexpr std::chrono::milliseconds kWatcherPollInterval{500};

  const RedisAddress address_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_SENTINEL_H_
