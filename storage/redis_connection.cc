#include "storage/redis_connection.h"

#include <hiredis/hiredis.h>

#include <algorithm>
#include <charconv>
#include <cstdarg>

#include "storage/redis_functions.h"
#include "storage/redis_sentinel.h"

namespace postdesk {

void RedisReplyDeleter::operator()(redisReply* reply) const { freeReplyObject(reply); }

Result<std::unique_ptr<RedisConnection>> RedisConnection::Connect(
    const RedisAddress& address, std::chrono::milliseconds timeout) {
  RedisAddress node = address;
  const uint64_t switches = SentinelSwitches();
  if (address.via_sentinel()) {
    RedisAddress asked = address;  // a sentinel gets no more than the whole connection
    asked.sentinel_timeout = std::min(timeout, address.sentinel_timeout);
    Result<RedisAddress> primary = ResolveSentinelPrimary(asked);
    if (!primary.ok()) return primary.status();
    node = std::move(primary).value();
  }
  for (int hop = 0;; ++hop) {
    Result<std::unique_ptr<RedisConnection>> connection = ConnectTo(node, timeout);
    if (!connection.ok()) return connection;
    if (address.via_sentinel()) {
      // A sentinel may still name the old primary for a moment after a failover (Sentinel's
      // client guidelines: check ROLE).
      RedisReplyPtr role = connection.value()->CommandArgv({"ROLE"});
      if (!role) return Status::Error(connection.value()->LastError());
      if (role->type != REDIS_REPLY_ARRAY || role->elements == 0 ||
          role->element[0]->type != REDIS_REPLY_STRING ||
          std::string_view(role->element[0]->str, role->element[0]->len) != "master") {
        return Status::Error("redis " + node.ToString() + ": the sentinels of " +
                             address.ToString() + " name it, but it is no primary (yet)");
      }
      connection.value()->via_sentinel_ = true;
      connection.value()->sentinel_switches_ = switches;
    }
    // On Redis Cluster, the node that serves the schema's slot (redis_functions.h). Another
    // answer than MOVED (a server without cluster support, one still loading) is left to the
    // commands that follow.
    RedisReplyPtr probe = connection.value()->CommandArgv({"EXISTS", kSlotProbeKey});
    if (!probe) return Status::Error(connection.value()->LastError());
    std::optional<RedisAddress> moved;
    if (probe->type == REDIS_REPLY_ERROR) moved = MovedTarget({probe->str, probe->len}, node);
    if (!moved) return connection;
    if (hop == kMaxMovedRedirects) {
      return Status::Error(
          "redis " + address.ToString() + ": more than " + std::to_string(kMaxMovedRedirects) +
          " MOVED redirections (last: " + std::string(probe->str, probe->len) + ")");
    }
    node = std::move(moved).value();
  }
}

Result<std::unique_ptr<RedisConnection>> RedisConnection::ConnectTo(
    const RedisAddress& address, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  redisContext* c = address.unix_path.empty()
                        ? redisConnectWithTimeout(address.host.c_str(), address.port, tv)
                        : redisConnectUnixWithTimeout(address.unix_path.c_str(), tv);
  if (!c) return Status::Error("redis " + address.ToString() + ": out of memory");
  if (c->err) {
    std::string why = c->errstr;
    redisFree(c);
    return Status::Error("redis " + address.ToString() + ": " + why);
  }
  redisSetTimeout(c, tv);
  auto connection = std::unique_ptr<RedisConnection>(new RedisConnection(c, address));
  if (!address.password.empty()) {
    const RedisArgv auth = AuthCommand(address);
    RedisReplyPtr r(
        static_cast<redisReply*>(redisCommandArgv(c, auth.count(), auth.args(), auth.lens.data())));
    if (!r) return Status::Error(connection->LastError());
    if (r->type == REDIS_REPLY_ERROR) {
      return Status::Error("redis " + address.ToString() +
                           ": AUTH: " + std::string(r->str, r->len));
    }
  }
  if (address.db != 0) {
    RedisReplyPtr r = connection->Command("SELECT %d", address.db);
    if (!r) return Status::Error(connection->LastError());
    if (r->type == REDIS_REPLY_ERROR) {
      // Redis's reason: a database past `databases`, or Redis Cluster, which has only 0.
      return Status::Error("redis " + address.ToString() +
                           ": SELECT: " + std::string(r->str, r->len));
    }
  }
  return connection;
}

RedisConnection::~RedisConnection() { redisFree(context_); }

bool RedisConnection::primary_moved() const {
  return via_sentinel_ && sentinel_switches_ != SentinelSwitches();
}

RedisReplyPtr RedisConnection::Command(const char* format, ...) {
  va_list args;
  va_start(args, format);
  void* reply = redisvCommand(context_, format, args);
  va_end(args);
  return RedisReplyPtr(static_cast<redisReply*>(reply));
}

RedisReplyPtr RedisConnection::CommandArgv(std::initializer_list<std::string_view> args) {
  // On the stack: the outbox sender polls with these on a timer, whatever the traffic.
  constexpr size_t kMaxArgs = 16;
  const char* argv[kMaxArgs];
  size_t lens[kMaxArgs];
  if (args.size() > kMaxArgs) {
    RedisArgv command;
    for (std::string_view arg : args) command.Add(arg);
    return RedisReplyPtr(static_cast<redisReply*>(
        redisCommandArgv(context_, command.count(), command.args(), command.lens.data())));
  }
  size_t n = 0;
  for (std::string_view arg : args) {
    argv[n] = arg.data();
    lens[n++] = arg.size();
  }
  return RedisReplyPtr(
      static_cast<redisReply*>(redisCommandArgv(context_, static_cast<int>(n), argv, lens)));
}

Result<std::vector<RedisReplyPtr>> RedisConnection::Pipeline(
    const std::vector<RedisArgv>& commands) {
  for (const RedisArgv& c : commands) {
    if (redisAppendCommandArgv(context_, c.count(), c.args(), c.lens.data()) != REDIS_OK) {
      return Status::Error(LastError());
    }
  }
  return ReadReplies(commands.size());
}

Result<std::vector<RedisReplyPtr>> RedisConnection::PipelineFormatted(
    const std::vector<std::string>& commands) {
  for (const std::string& c : commands) {
    if (redisAppendFormattedCommand(context_, c.data(), c.size()) != REDIS_OK) {
      return Status::Error(LastError());
    }
  }
  return ReadReplies(commands.size());
}

Result<std::vector<RedisReplyPtr>> RedisConnection::ReadReplies(size_t count) {
  std::vector<RedisReplyPtr> replies;
  replies.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    void* reply = nullptr;
    if (redisGetReply(context_, &reply) != REDIS_OK) return Status::Error(LastError());
    replies.emplace_back(static_cast<redisReply*>(reply));
  }
  return replies;
}

std::string RedisConnection::LastError() const {
  return "redis " + address_.ToString() + ": " + (context_->err ? context_->errstr : "no reply");
}

Result<std::map<std::string, std::string>> RedisConnection::HashGetAll(const std::string& key) {
  RedisReplyPtr fields = Command("HGETALL %s", key.c_str());
  if (!fields) return Status::Error("redis " + address_.ToString() + ": " + context_->errstr);
  if (fields->type != REDIS_REPLY_ARRAY) return Status::Error("redis: unexpected reply to HGETALL");
  std::map<std::string, std::string> map;
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    map[std::string(fields->element[i]->str, fields->element[i]->len)] =
        std::string(fields->element[i + 1]->str, fields->element[i + 1]->len);
  }
  return map;
}

int64_t ParseStoredInt(const std::string& text) {
  int64_t v = 0;
  std::from_chars(text.data(), text.data() + text.size(), v);
  return v;
}

Status RedisConnection::LoadFunctions() {
  RedisArgv load = FunctionLoadCommand();
  RedisReplyPtr r(static_cast<redisReply*>(
      redisCommandArgv(context_, load.count(), load.argv.data(), load.lens.data())));
  if (!r) return Status::Error("redis " + address_.ToString() + ": " + context_->errstr);
  if (r->type == REDIS_REPLY_ERROR) {
    return Status::Error("redis " + address_.ToString() + ": FUNCTION LOAD: " + r->str);
  }
  return Status::Ok();
}

}  // namespace postdesk
