// RedisAddress: where a Redis server listens, from "[redis] url" or the embedded server's socket.
//
// Forms: "redis://[[user]:password@]host[:port][/db]",
// "unix://[[user]:password@]/absolute/path.sock[?db=N]", and for Redis Sentinel
// "redis-sentinel://[[user]:password@]host[:port][,host[:port]...]/master-name[/db]" (the
// sentinels, 26379 by default, that name the primary of master-name: ResolveSentinelPrimary in
// storage/redis_sentinel.h). The credentials are those of Redis's AUTH
// (a password alone for the default user, or an ACL user and its password); in them '%' escapes a
// byte as in RFC 3986 section 2.1, so that a password may hold ':', '@' or '/'. A user alone
// ("user@") parses with an empty password, which the caller must supply (gateway/config.h:
// [redis] password_file) or refuse: without one no AUTH is sent. Pure parsing; the error names
// what is wrong with the URL, never the password.
#ifndef POSTDESK_STORAGE_REDIS_ADDRESS_H_
#define POSTDESK_STORAGE_REDIS_ADDRESS_H_

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parser/result.h"

namespace postdesk {

struct RedisEndpoint {
  std::string host;
  uint16_t port = 0;
  std::string ToString() const;  // "host:port", "[v6]:port"
};

// [redis] sentinel_timeout's default: how long one sentinel may take to connect and answer.
inline constexpr std::chrono::milliseconds kDefaultSentinelTimeout{500};
// [redis] reply_timeout's default: how long a loop's requests may wait on a connection that
// gives no reply at all before it is given up (storage/ticket_store.h).
inline constexpr std::chrono::milliseconds kDefaultReplyTimeout{30000};

struct RedisAddress {
  std::string unix_path;  // set for a unix socket; then host/port are unused
  std::string host;
  uint16_t port = 6379;
  int db = 0;
  std::string username;  // empty: Redis's default user
  std::string password;  // empty: no AUTH to the server (the primary, with Sentinel)
  // Set for a redis-sentinel:// url: the server is whichever primary these name for
  // sentinel_master, found again at every connection; host and port are then unused.
  std::vector<RedisEndpoint> sentinels;
  std::string sentinel_master;
  // The sentinels' own password (their requirepass), from [redis] sentinel_password_file: the
  // url's credentials are the primary's. Empty: the sentinels are asked without AUTH.
  std::string sentinel_password;
  // How long one sentinel may take to connect and answer before the next is asked ([redis]
  // sentinel_timeout): a dead sentinel costs each (re)connection this much.
  std::chrono::milliseconds sentinel_timeout = kDefaultSentinelTimeout;
  bool via_sentinel() const { return !sentinels.empty(); }

  // The URL for logs and errors: the password shows as "***".
  std::string ToString() const;
};

Result<RedisAddress> ParseRedisUrl(std::string_view url);

// Where a Redis Cluster "MOVED <slot> <host>:<port>" error sends a client: `from` with that
// host and port (Redis writes an empty host for a node without an announced address: then
// from's host). Nullopt when `error` is no MOVED, or names no usable node. The credentials and
// database carry over: the nodes of a cluster share their users, and have database 0 only.
std::optional<RedisAddress> MovedTarget(std::string_view error, const RedisAddress& from);
// A connection follows at most this many MOVED in a row: more is a cluster in the middle of
// changing (RedisConnection then fails; TicketStore waits with its backoff).
inline constexpr int kMaxMovedRedirects = 3;

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_ADDRESS_H_
