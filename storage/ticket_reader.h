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

// Where one comment's (or a description's) text lives (storage/redis_functions.h): under its own
// {pd}:body:<key>, or, when the text was the message's bytes as they stand, inside the raw message
// {pd}:message:<key> at the span "offset,length" that the comment (`body_span`) or the ticket
// core (`description_span`) names. Holds the key and range that Command() points into.
struct StoredText {
  // From the storage keys and the span member ("" when the text has its own key, or when the
  // span does not parse).
  StoredText(std::string_view body, std::string_view message, std::string_view span);

  RedisArgv Command() const;                          // GET or GETRANGE; valid while this lives
  std::string TextOf(const redisReply* reply) const;  // "" for a missing key

 private:
  std::string key_;
  std::string start_, end_;  // GETRANGE's inclusive range; empty for a GET
};

// The texts, in order, in one pipeline.
Result<std::vector<std::string>> ReadStoredTexts(RedisConnection& connection,
                                                 const std::vector<StoredText>& texts);

// Milliseconds since the epoch to "2026-11-21T23:59:01.123Z".
std::string FormatTimestamp(int64_t unix_ms);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_TICKET_READER_H_
