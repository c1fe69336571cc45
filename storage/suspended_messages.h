// SuspendedMessages: the operator's view of suspended mail (design.md, "Classification":
// suspended messages are listed, and can be recovered into a ticket or deleted), over a blocking
// RedisConnection for `postdesk suspended`.
//
// Borrows the connection; one thread at a time, never on a serving loop. Recover() re-parses
// the stored raw message and creates the ticket in one atomic call that also removes the
// suspended record, so a message is never both recovered and still suspended. Errors name the
// cause ("no suspended message 7").
#ifndef POSTDESK_STORAGE_SUSPENDED_MESSAGES_H_
#define POSTDESK_STORAGE_SUSPENDED_MESSAGES_H_

#include <cstdint>
#include <nlohmann/json.hpp>

#include "parser/result.h"
#include "storage/ingest_request.h"
#include "storage/redis_connection.h"

namespace postdesk {

class SuspendedMessages {
 public:
  explicit SuspendedMessages(RedisConnection* connection) : connection_(connection) {}

  // Newest first: [{id, cause, reason, brand, received_at, sender: {email, name}, subject,
  // created_at, expires_in_s}]. Expired entries are pruned from the index on the way.
  Result<nlohmann::json> List(size_t limit);
  // One entry as in List(), with "raw": the stored message.
  Result<nlohmann::json> Show(int64_t id);
  // Turns the message into a ticket as if it had been clean; returns the outcome.
  Result<IngestOutcome> Recover(int64_t id, const StoragePolicy& policy);
  Status Delete(int64_t id);

 private:
  Result<nlohmann::json> Entry(int64_t id);  // "no suspended message N" when absent

  RedisConnection* connection_;
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_SUSPENDED_MESSAGES_H_
