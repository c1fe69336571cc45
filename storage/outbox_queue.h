// OutboxQueue: the notification outbox in Redis (design.md, "Targets and notifications"): the
// stream {pd}:outbox that trigger workers fill, read through the consumer group "outbox"; the
// per-recipient caps; the email targets' health; and the records a notification leaves on its
// ticket's audit list.
//
// A notification stays pending in the group until it is acknowledged, which the sender does only
// after the relay's 250 (or a permanent failure, recorded on the ticket). A sender that restarts
// on the same host under the same consumer name reads its own pending entries first; a dead
// sender's are claimed by another after a timeout. Nothing is lost when a process stops or
// crashes.
//
// Owns one blocking RedisConnection; one thread at a time. Failures come back as a Status;
// after a connection failure the queue is dead and the caller connects a new one.
#ifndef POSTDESK_STORAGE_OUTBOX_QUEUE_H_
#define POSTDESK_STORAGE_OUTBOX_QUEUE_H_

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "parser/result.h"
#include "storage/redis_connection.h"
#include "storage/redis_functions.h"
#include "storage/redis_stream.h"

namespace postdesk {

inline constexpr const char* kOutboxGroup = "outbox";

struct NotificationCaps {
  int64_t ticket_recipient_limit = 10;
  int64_t ticket_recipient_window_ms = 600000;
  int64_t recipient_limit = 60;
  int64_t recipient_window_ms = 36000000;
};

struct TargetHealth {
  bool active = true;
  int64_t failures = 0;  // consecutive
  std::string last_error;
};

class OutboxQueue {
 public:
  static Result<std::unique_ptr<OutboxQueue>> Connect(const RedisAddress& address,
                                                      std::string consumer);

  // This consumer's pending entries (read before a restart and never acknowledged).
  Result<std::vector<StreamEntry>> ReadOwnPending(size_t count);
  // New entries; does not wait.
  Result<std::vector<StreamEntry>> ReadNew(size_t count);
  // Entries another consumer has held longer than `min_idle_ms`.
  Result<std::vector<StreamEntry>> ClaimStale(int64_t min_idle_ms, size_t count);
  Status Acknowledge(const std::string& id);

  // Counts one notification about `ticket` to `recipient`; "ok", "ticket_cap" or
  // "recipient_cap".
  Result<std::string> CountNotification(const std::string& ticket, const std::string& recipient,
                                        const NotificationCaps& caps);

  Result<TargetHealth> GetTarget(const std::string& id);
  // Records a delivery to a target; true if this failure deactivated it.
  Result<bool> RecordTargetResult(const std::string& id, bool delivered, int64_t failure_limit,
                                  const std::string& reason);
  Status SetTargetActive(const std::string& id, bool active);

  // Appends {"at_ms", "notification": record} to {pd}:ticket:<id>:audit.
  Status RecordOnTicket(const std::string& ticket, const nlohmann::json& record);
  // Adds a notification to the outbox (alerts to the administrator).
  Status Enqueue(const std::vector<std::pair<std::string, std::string>>& fields);

  RedisConnection& connection() { return *connection_; }

 private:
  OutboxQueue(std::unique_ptr<RedisConnection> connection, std::string consumer)
      : connection_(std::move(connection)), consumer_(std::move(consumer)) {}
  std::unique_ptr<RedisConnection> connection_;
  std::string consumer_;
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_OUTBOX_QUEUE_H_
