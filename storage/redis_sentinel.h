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
// Blocking, with `timeout` per sentinel (connect and reply): a caller on a libuv loop pays it
// only when it (re)connects, as for its getaddrinfo. Any thread. Fails with a message that
// names every sentinel asked and what it answered; never the password.
#ifndef POSTDESK_STORAGE_REDIS_SENTINEL_H_
#define POSTDESK_STORAGE_REDIS_SENTINEL_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>
#include <thread>

#include "parser/result.h"
#include "storage/redis_address.h"

namespace postdesk {

inline constexpr std::chrono::milliseconds kSentinelTimeout{500};

// The primary's address: `address` with the host and port a sentinel names, its credentials
// and database kept, its sentinels cleared. `address` must be via_sentinel().
Result<RedisAddress> ResolveSentinelPrimary(const RedisAddress& address,
                                            std::chrono::milliseconds timeout = kSentinelTimeout);

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

  const RedisAddress address_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_SENTINEL_H_
