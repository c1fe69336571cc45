// RedisConnection: a blocking hiredis connection for the command-line tools and tests (never on
// a serving loop). Owns its redisContext. One thread at a time. Failures come back as a Status
// naming the server and the cause.
#ifndef POSTDESK_STORAGE_REDIS_CONNECTION_H_
#define POSTDESK_STORAGE_REDIS_CONNECTION_H_

#include <chrono>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "parser/result.h"
#include "storage/redis_address.h"
#include "storage/redis_functions.h"

struct redisContext;
struct redisReply;

namespace postdesk {

struct RedisReplyDeleter {
  void operator()(redisReply* reply) const;
};
using RedisReplyPtr = std::unique_ptr<redisReply, RedisReplyDeleter>;

class RedisConnection {
 public:
  // Connects, then sends AUTH when the address has a password and SELECT when its database is
  // not 0; a refusal of either fails the connect, with Redis's reason. On Redis Cluster it
  // follows MOVED to the node that serves the schema's slot: address() is then that node. For a
  // redis-sentinel:// address it connects to the primary the sentinels name, and fails when that
  // server says it is no primary (ROLE).
  static Result<std::unique_ptr<RedisConnection>> Connect(
      const RedisAddress& address, std::chrono::milliseconds timeout = std::chrono::seconds(5));
  ~RedisConnection();
  RedisConnection(const RedisConnection&) = delete;
  RedisConnection& operator=(const RedisConnection&) = delete;

  // redisCommand with printf-style arguments; null on a connection error.
  RedisReplyPtr Command(const char* format, ...);
  // A command from binary-safe arguments; null on a connection error.
  RedisReplyPtr CommandArgv(std::initializer_list<std::string_view> args);
  // Sends the commands pipelined (one write, then the replies in order) and returns every
  // reply, error replies included; fails on a connection error.
  Result<std::vector<RedisReplyPtr>> Pipeline(const std::vector<RedisArgv>& commands);
  // The same for commands already in RESP (storage/resp_command.h).
  Result<std::vector<RedisReplyPtr>> PipelineFormatted(const std::vector<std::string>& commands);
  // The connection's error text after a null reply.
  std::string LastError() const;
  // HGETALL as a map; an empty map when the key does not exist.
  Result<std::map<std::string, std::string>> HashGetAll(const std::string& key);
  // FUNCTION LOAD REPLACE of the Functions library (storage/redis_functions.h).
  Status LoadFunctions();
  redisContext* context() { return context_; }
  const RedisAddress& address() const { return address_; }
  // Connected through sentinels, which have moved the primary since (SentinelWatcher): writes
  // here may be lost, so the owner connects again.
  bool primary_moved() const;

 private:
  static Result<std::unique_ptr<RedisConnection>> ConnectTo(const RedisAddress& address,
                                                            std::chrono::milliseconds timeout);
  Result<std::vector<RedisReplyPtr>> ReadReplies(size_t count);
  RedisConnection(redisContext* context, RedisAddress address)
      : context_(context), address_(std::move(address)) {}
  redisContext* context_;
  RedisAddress address_;
  bool via_sentinel_ = false;
  uint64_t sentinel_switches_ = 0;  // SentinelSwitches() before the sentinels were asked
};

// A decimal integer stored as a Redis string; 0 when it is not one.
int64_t ParseStoredInt(const std::string& text);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_CONNECTION_H_
