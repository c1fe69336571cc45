// The Redis key schema and the Redis 7 Functions library that writes it.
//
// Every key starts with the hash tag "{pd}", so that one function call touches one cluster slot
// and the same code runs on Redis Cluster (design.md, "Storage"):
//   {pd}:ticket:next_id            INCR counter of ticket ids
//   {pd}:ticket:<id>               hash: id subject description requester_email requester_name
//                                  received_at brand status priority type tags(JSON) via
//                                  created_at_ms updated_at_ms message truncated transaction
//   {pd}:ticket:<id>:comments      list of JSON comments, oldest first
//   {pd}:comment:next_id           INCR counter of comment ids
//   {pd}:message:next_id           INCR counter of raw messages
//   {pd}:message:<n>               the raw message, with our Received: header
//   {pd}:requester:<email>:tickets sorted set of ticket ids by creation time (ms)
//   {pd}:events                    stream read by the trigger workers (ticket.created ...)
// Constants only; no I/O.
#ifndef POSTDESK_STORAGE_REDIS_FUNCTIONS_H_
#define POSTDESK_STORAGE_REDIS_FUNCTIONS_H_

#include <string_view>

namespace postdesk {

inline constexpr std::string_view kKeyPrefix = "{pd}:";
inline constexpr std::string_view kEventStreamKey = "{pd}:events";

// FUNCTION LOAD REPLACE takes this source; FCALL postdesk_ingest then stores one message.
//   FCALL postdesk_ingest 3 {pd}:ticket:next_id {pd}:message:next_id {pd}:events META RAW
// META is JSON: {subject, description, truncated, requester_email, requester_name, transaction,
// tickets: [{brand, received_at}]}. Returns the new ticket ids, one per entry of `tickets`.
// All of it happens in one atomic step: either every key is written or none.
extern const std::string_view kFunctionsLibrary;

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_FUNCTIONS_H_
