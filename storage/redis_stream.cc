#include "storage/redis_stream.h"

#include <hiredis/hiredis.h>

namespace postdesk {
namespace {

// [[id, [field, value, ...]], ...] as XREADGROUP and XAUTOCLAIM return entries.
std::vector<StreamEntry> Entries(const redisReply* list) {
  std::vector<StreamEntry> entries;
  if (!list || list->type != REDIS_REPLY_ARRAY) return entries;
  for (size_t i = 0; i < list->elements; ++i) {
    const redisReply* item = list->element[i];
    if (item->type != REDIS_REPLY_ARRAY || item->elements != 2) continue;
    StreamEntry entry{ReplyText(item->element[0]), {}};
    const redisReply* fields = item->element[1];
    if (fields->type == REDIS_REPLY_ARRAY) {
      for (size_t f = 0; f + 1 < fields->elements; f += 2) {
        entry.fields[ReplyText(fields->element[f])] = ReplyText(fields->element[f + 1]);
      }
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

const std::string& StreamEntry::Field(const std::string& name) const {
  static const std::string kEmpty;
  auto it = fields.find(name);
  return it == fields.end() ? kEmpty : it->second;
}

std::string ReplyText(const redisReply* r) {
  return r && (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS ||
               r->type == REDIS_REPLY_ERROR)
             ? std::string(r->str, r->len)
             : std::string();
}

Status CreateStreamGroup(RedisConnection& redis, std::string_view stream, std::string_view group) {
  RedisReplyPtr r = redis.CommandArgv({"XGROUP", "CREATE", stream, group, "0", "MKSTREAM"});
  if (!r) return Status::Error(redis.LastError());
  if (r->type == REDIS_REPLY_ERROR && ReplyText(r.get()).rfind("BUSYGROUP", 0) != 0) {
    return Status::Error("redis: XGROUP CREATE " + std::string(stream) + ": " +
                         ReplyText(r.get()));
  }
  return Status::Ok();
}

Result<std::vector<StreamEntry>> ReadStreamGroup(RedisConnection& redis, std::string_view stream,
                                                 std::string_view group,
                                                 std::string_view consumer, size_t count,
                                                 int block_ms, std::string_view from) {
  std::string n = std::to_string(count), block = std::to_string(block_ms);
  RedisReplyPtr r = block_ms >= 0
                        ? redis.CommandArgv({"XREADGROUP", "GROUP", group, consumer, "COUNT", n,
                                             "BLOCK", block, "STREAMS", stream, from})
                        : redis.CommandArgv({"XREADGROUP", "GROUP", group, consumer, "COUNT", n,
                                             "STREAMS", stream, from});
  if (!r) return Status::Error(redis.LastError());
  if (r->type == REDIS_REPLY_NIL) return std::vector<StreamEntry>();
  if (r->type != REDIS_REPLY_ARRAY || r->elements == 0) {
    return Status::Error("redis: XREADGROUP: " + ReplyText(r.get()));
  }
  const redisReply* s = r->element[0];
  if (s->type != REDIS_REPLY_ARRAY || s->elements != 2) {
    return Status::Error("redis: unexpected XREADGROUP reply");
  }
  return Entries(s->element[1]);
}

Result<std::vector<StreamEntry>> ClaimStreamEntries(RedisConnection& redis,
                                                    std::string_view stream,
                                                    std::string_view group,
                                                    std::string_view consumer,
                                                    int64_t min_idle_ms, size_t count) {
  std::string idle = std::to_string(min_idle_ms), n = std::to_string(count);
  RedisReplyPtr r =
      redis.CommandArgv({"XAUTOCLAIM", stream, group, consumer, idle, "0-0", "COUNT", n});
  if (!r) return Status::Error(redis.LastError());
  if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
    return Status::Error("redis: XAUTOCLAIM: " + ReplyText(r.get()));
  }
  return Entries(r->element[1]);
}

Status AcknowledgeStreamEntry(RedisConnection& redis, std::string_view stream,
                              std::string_view group, std::string_view id) {
  return AcknowledgeStreamEntries(redis, stream, group, {std::string(id)});
}

Status AcknowledgeStreamEntries(RedisConnection& redis, std::string_view stream,
                                std::string_view group, const std::vector<std::string>& ids) {
  if (ids.empty()) return Status::Ok();
  RedisArgv xack;
  for (std::string_view arg : {std::string_view("XACK"), stream, group}) xack.Add(arg);
  for (const std::string& id : ids) xack.Add(id);
  Result<std::vector<RedisReplyPtr>> replies = redis.Pipeline({xack});
  if (!replies.ok()) return replies.status();
  const redisReply* r = replies.value()[0].get();
  if (!r) return Status::Error(redis.LastError());
  if (r->type == REDIS_REPLY_ERROR) return Status::Error("redis: XACK: " + ReplyText(r));
  return Status::Ok();
}

}  // namespace postdesk
