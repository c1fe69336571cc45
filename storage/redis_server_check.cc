#include "storage/redis_server_check.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <charconv>
#include <map>

namespace postdesk {
namespace {

std::string ReplyString(const redisReply* r) {
  return r && r->str ? std::string(r->str, r->len) : std::string();
}

// The value of `key:` in INFO's text, up to the line's end; "" when absent.
std::string_view InfoField(std::string_view info, std::string_view key) {
  size_t at = 0;
  while ((at = info.find(key, at)) != std::string_view::npos) {
    bool line_start = at == 0 || info[at - 1] == '\n';
    size_t colon = at + key.size();
    if (line_start && colon < info.size() && info[colon] == ':') {
      size_t end = info.find_first_of("\r\n", colon + 1);
      return info.substr(colon + 1, end == std::string_view::npos ? end : end - colon - 1);
    }
    at = colon;
  }
  return {};
}

}  // namespace

int RedisMajorVersion(std::string_view info) {
  std::string_view version = InfoField(info, "redis_version");
  int major = 0;
  auto [ptr, ec] = std::from_chars(version.data(), version.data() + version.size(), major);
  return ec == std::errc() && ptr != version.data() ? major : 0;
}

Result<std::vector<std::string>> CheckRedisServer(RedisConnection& redis) {
  RedisReplyPtr info = redis.CommandArgv({"INFO", "server"});
  if (!info || info->type == REDIS_REPLY_ERROR) {
    return std::vector<std::string>{"its version could not be checked (INFO: " +
                                    (info ? ReplyString(info.get()) : redis.LastError()) + ")"};
  }
  const std::string server = "redis " + redis.address().ToString();
  std::string text = ReplyString(info.get());
  if (int major = RedisMajorVersion(text); major < 7) {
    std::string version(InfoField(text, "redis_version"));
    return Status::Error(server + " is Redis " +
                         (version.empty() ? "of no known version" : version) +
                         ": Postdesk needs Redis 7 or later (it loads a Functions library)");
  }

  std::vector<std::string> problems;
  RedisReplyPtr config = redis.CommandArgv(
      {"CONFIG", "GET", "appendonly", "appendfsync", "maxmemory", "maxmemory-policy"});
  if (!config || config->type != REDIS_REPLY_ARRAY) {
    problems.push_back("its durability settings could not be checked (CONFIG GET: " +
                       (config ? ReplyString(config.get()) : redis.LastError()) +
                       "): it needs appendonly yes, appendfsync always and maxmemory-policy "
                       "noeviction to keep every acknowledged message");
    return problems;
  }
  // Name, value, name, value: RESP2's flat array.
  std::map<std::string, std::string> settings;
  for (size_t i = 0; i + 1 < config->elements; i += 2) {
    settings[ReplyString(config->element[i])] = ReplyString(config->element[i + 1]);
  }
  if (settings["appendonly"] != "yes") {
    problems.push_back("appendonly is " + settings["appendonly"] +
                       ": a restart of Redis loses acknowledged mail (set appendonly yes)");
  } else if (const std::string& fsync = settings["appendfsync"]; fsync != "always") {
    problems.push_back("appendfsync is " + fsync +
                       ": a crash of its host can lose mail already acknowledged with 250 (set "
                       "appendfsync always)");
  }
  const std::string& policy = settings["maxmemory-policy"];
  if (settings["maxmemory"] != "0" && policy != "noeviction") {
    problems.push_back("maxmemory-policy is " + policy + " with maxmemory " +
                       settings["maxmemory"] +
                       " bytes: Redis may delete tickets and messages to make room (set "
                       "maxmemory-policy noeviction)");
  }
  return problems;
}

Status WarnOfRedisServerProblems(const RedisAddress& address) {
  Result<std::unique_ptr<RedisConnection>> connection =
      RedisConnection::Connect(address, std::chrono::seconds(2));
  if (!connection.ok()) return Status::Ok();
  Result<std::vector<std::string>> problems = CheckRedisServer(*connection.value());
  if (!problems.ok()) return problems.status();
  for (const std::string& problem : problems.value()) {
    spdlog::warn("redis {}: {}", address.ToString(), problem);
  }
  return Status::Ok();
}

}  // namespace postdesk
