// TriggerQueue: one trigger worker's view of Redis: the events stream read through the consumer
// group "triggers", the ticket facts an event needs, and the atomic write of a cycle's result
// (design.md, "Triggers"; keys in storage/redis_functions.h).
//
// Delivery is at least once: an entry stays pending until the step that writes its result also
// acknowledges it, and entries that a crashed worker left pending are claimed by another after
// an idle timeout. The same entry is never applied twice: the write records the entry id and a
// second write of it only acknowledges. A write against a ticket that changed since it was read
// is refused (kConflict) and the worker reads again.
//
// Owns one blocking RedisConnection; one thread at a time (each worker thread has its own).
// Failures come back as a Status; after a connection failure the queue is dead and the caller
// connects a new one.
#ifndef POSTDESK_STORAGE_TRIGGER_QUEUE_H_
#define POSTDESK_STORAGE_TRIGGER_QUEUE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "parser/result.h"
#include "parser/ticket_token.h"
#include "rules/ticket_state.h"
#include "rules/trigger_engine.h"
#include "storage/redis_connection.h"
#include "storage/redis_stream.h"

namespace postdesk {

inline constexpr const char* kTriggerGroup = "triggers";

using TriggerQueueEntry = StreamEntry;

// An entry turned into what the engine runs on.
struct LoadedTriggerEvent {
  int64_t ticket_id = 0;
  int64_t version = 0;  // the ticket's version when read, for the conflict check
  TriggerEvent event;
  bool auto_notifications_suppressed = false;  // bulk and list senders get no notification
  std::string comment_message_id;  // the Message-ID of the mail this update came from
  // A "ticket.delayed" entry: actions a wait delayed, run without a cycle.
  std::optional<std::string> delayed_actions_json;
  std::string delayed_trigger_id;
};

enum class ApplyResult { kApplied, kDuplicate, kMissing, kConflict };

class TriggerQueue {
 public:
  // Connects and creates the consumer group if it does not exist. `consumer` names this worker
  // in the group (host and thread).
  static Result<std::unique_ptr<TriggerQueue>> Connect(const RedisAddress& address,
                                                       std::string consumer);

  // New entries for this consumer; waits up to `block_ms` when there are none.
  Result<std::vector<TriggerQueueEntry>> ReadNew(size_t count, int block_ms);
  // Entries pending longer than `min_idle_ms` in any consumer (a crashed worker's), now ours.
  Result<std::vector<TriggerQueueEntry>> ClaimStale(int64_t min_idle_ms, size_t count);
  // Moves delayed actions that are due onto the stream; how many moved.
  Result<int64_t> ReleaseDelayed(size_t count);

  // Reads the ticket and comment an entry names. A ticket that no longer exists gives
  // ticket_id 0 (the caller acknowledges the entry). `tokens` fills {{ticket.encoded_id}};
  // a comment written from one of `agents` (lower-case addresses) has sender_type "agent".
  // Both are the caller's, so that a reload applies from the next entry; either may be null.
  Result<LoadedTriggerEvent> Load(const TriggerQueueEntry& entry,
                                  const TicketTokens* tokens = nullptr,
                                  const std::set<std::string>* agents = nullptr);
  // Writes the cycle's result and acknowledges the entry, in one atomic step.
  Result<ApplyResult> Apply(const TriggerQueueEntry& entry, const LoadedTriggerEvent& loaded,
                            const TriggerOutcome& outcome);
  // Acknowledges an entry that has nothing to apply (an unknown type, a vanished ticket, a
  // cycle where nothing fired), or several at once.
  Status Acknowledge(const std::string& entry_id);
  Status Acknowledge(const std::vector<std::string>& entry_ids);

  // The sentinels moved the primary since this queue connected (RedisConnection::primary_moved):
  // connect again before the next write.
  bool primary_moved() const { return connection_->primary_moved(); }

 private:
  TriggerQueue(std::unique_ptr<RedisConnection> connection, std::string consumer)
      : connection_(std::move(connection)), consumer_(std::move(consumer)) {}

  std::unique_ptr<RedisConnection> connection_;
  std::string consumer_;
};

// The fields a cycle changed, as the JSON object postdesk_apply_triggers writes.
std::string TicketChangesJson(const TicketState& before, const TicketState& after);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_TRIGGER_QUEUE_H_
