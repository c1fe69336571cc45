// Redis streams read through a consumer group, as the trigger workers (storage/trigger_queue.h)
// and the notification outbox (storage/outbox_queue.h) both do: create the group, read new or
// own pending entries, claim the entries of a dead consumer (XAUTOCLAIM), acknowledge.
//
// Free functions over a borrowed blocking RedisConnection; one thread at a time. Failures come
// back as a Status naming the command; after a connection failure the connection is unusable.
#ifndef POSTDESK_STORAGE_REDIS_STREAM_H_
#define POSTDESK_STORAGE_REDIS_STREAM_H_

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "parser/result.h"
#include "storage/redis_connection.h"

namespace postdesk {

struct StreamEntry {
  std::string id;  // "1732230000000-0"
  std::map<std::string, std::string> fields;

  // The field's value, or "" when absent.
  const std::string& Field(const std::string& name) const;
};

// The text of a string, status or error reply; "" for other types.
std::string ReplyText(const redisReply* reply);

// XGROUP CREATE ... 0 MKSTREAM; an existing group is fine.
Status CreateStreamGroup(RedisConnection& redis, std::string_view stream, std::string_view group);

// XREADGROUP: `from` ">" reads new entries (waiting up to `block_ms` when >= 0), "0" this
// consumer's own pending ones (what it read before a restart and never acknowledged).
Result<std::vector<StreamEntry>> ReadStreamGroup(RedisConnection& redis, std::string_view stream,
                                                 std::string_view group,
                                                 std::string_view consumer, size_t count,
                                                 int block_ms, std::string_view from = ">");

// XAUTOCLAIM: entries pending longer than `min_idle_ms` in any consumer become this one's.
Result<std::vector<StreamEntry>> ClaimStreamEntries(RedisConnection& redis,
                                                    std::string_view stream,
                                                    std::string_view group,
                                                    std::string_view consumer,
                                                    int64_t min_idle_ms, size_t count);

Status AcknowledgeStreamEntry(RedisConnection& redis, std::string_view stream,
                              std::string_view group, std::string_view id);
// One XACK for them all.
Status AcknowledgeStreamEntries(RedisConnection& redis, std::string_view stream,
                                std::string_view group, const std::vector<std::string>& ids);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_STREAM_H_
