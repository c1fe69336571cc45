// TicketReader: reads tickets back, over a blocking RedisConnection, as the JSON that operators
// see (`postdesk tickets get`) and tests check.
//
// Borrows the connection; one thread at a time, never on a serving loop. Errors (connection,
// missing ticket, unexpected data) come back as a Status naming the cause.
#ifndef POSTDESK_STORAGE_TICKET_READER_H_
#define POSTDESK_STORAGE_TICKET_READER_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "parser/result.h"
#include "storage/redis_connection.h"

namespace postdesk {

class TicketReader {
 public:
  explicit TicketReader(RedisConnection* connection) : connection_(connection) {}

  // {id, subject, description, truncated, requester: {email, name}, received_at, brand, status,
  //  priority, type, group, assignee, tags, via, auto_notifications_suppressed,
  //  followup_source_id, comments: [{id, author: {email, name}, body, public, via, attachments:
  //  [{filename, content_type, size, content_id}], created_at}], created_at, updated_at, events};
  //  times in RFC 3339 UTC. "no ticket N" when absent.
  Result<nlohmann::json> GetTicket(int64_t id);

  // The raw message stored for a ticket (with our Received: header).
  Result<std::string> GetRawMessage(int64_t ticket_id);

 private:
  RedisConnection* connection_;
};

// A ticket hash as HGETALL gave it, with the members of its `core` JSON (the fields that never
// change, storage/redis_functions.h) as fields of their own, so that readers see one flat map.
void ExpandTicketCore(std::map<std::string, std::string>* hash);

// The comment texts stored under the given storage keys ({pd}:body:<key>), in order, with one
// MGET; "" for a key that holds none.
Result<std::vector<std::string>> ReadBodies(RedisConnection& connection,
                                            const std::vector<std::string>& storage_keys);

// Milliseconds since the epoch to "2026-11-21T23:59:01.123Z".
std::string FormatTimestamp(int64_t unix_ms);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_TICKET_READER_H_
