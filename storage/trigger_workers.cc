#include "storage/trigger_workers.h"

#include <spdlog/spdlog.h>
#include <unistd.h>

#include "rules/trigger_engine.h"
#include "rules/trigger_loader.h"
#include "storage/trigger_queue.h"

namespace postdesk {
namespace {

constexpr size_t kBatch = 32;
constexpr int kBlockMs = 250;  // how long a read waits: bounds how late Stop() is noticed
constexpr auto kHousekeeping = std::chrono::seconds(1);
// Conflicting writes mean another update hit the ticket between read and write; past this many
// in a row the entry stays pending and is retried when claimed.
constexpr int kMaxConflicts = 10;

std::string DefaultConsumerPrefix() {
  char host[256] = {};
  gethostname(host, sizeof(host) - 1);
  return std::string(host) + ":" + std::to_string(getpid());
}

// kNothingToDo: done, to be acknowledged with the rest of the batch (a crash before that only
// makes another worker find again that there is nothing to do).
enum class Processed { kDone, kNothingToDo, kRetryLater, kRedisFailed };

// True if the cycle left nothing to write: no trigger fired, so no change, notification, delayed
// action or suspension, and nothing for the audit either.
bool NothingToApply(const TriggerOutcome& outcome) {
  return outcome.fired.empty() && !outcome.changed && outcome.notifications.empty() &&
         outcome.delayed.empty() && !outcome.suspend_sender;
}

Processed ProcessEntry(TriggerQueue& queue, const TriggerSet& triggers, const TicketTokens* tokens,
                       const std::set<std::string>* agents, const TriggerQueueEntry& entry,
                       TriggerWorkerCounters& counters) {
  // With no active trigger a cycle cannot fire: the event is done without reading the ticket.
  // Delayed actions run whatever the set holds now.
  if (triggers.triggers().size() == triggers.inactive_count() &&
      entry.Field("type") != "ticket.delayed") {
    return Processed::kNothingToDo;
  }
  for (int attempt = 0; attempt < kMaxConflicts; ++attempt) {
    Result<LoadedTriggerEvent> loaded = queue.Load(entry, tokens, agents);
    if (!loaded.ok()) {
      spdlog::warn("triggers: {}: {}", entry.id, loaded.status().message());
      return Processed::kRedisFailed;
    }
    if (loaded->ticket_id == 0) {  // the ticket is gone: nothing to run on
      return queue.Acknowledge(entry.id).ok() ? Processed::kDone : Processed::kRedisFailed;
    }
    TriggerOutcome outcome;
    if (loaded->delayed_actions_json) {
      Result<std::vector<TriggerAction>> actions = ParseTriggerActions(*loaded->delayed_actions_json);
      if (!actions.ok()) {
        spdlog::error("triggers: {}: delayed actions of trigger {} dropped: {}", entry.id,
                      loaded->delayed_trigger_id, actions.status().message());
        return queue.Acknowledge(entry.id).ok() ? Processed::kDone : Processed::kRedisFailed;
      }
      outcome = ApplyDelayedActions(actions.value(), loaded->delayed_trigger_id, loaded->event,
                                    &triggers);
    } else {
      outcome = RunTriggerCycle(triggers, loaded->event);
    }
    if (outcome.stopped_by_guard) {
      spdlog::warn("triggers: ticket {}: cycle stopped after {} restarts", loaded->ticket_id,
                   kMaxTriggerRestarts);
    }
    if (NothingToApply(outcome)) return Processed::kNothingToDo;
    Result<ApplyResult> applied = queue.Apply(entry, loaded.value(), outcome);
    if (!applied.ok()) {
      spdlog::warn("triggers: {}: {}", entry.id, applied.status().message());
      return Processed::kRedisFailed;
    }
    switch (applied.value()) {
      case ApplyResult::kApplied:
        counters.applied++;
        spdlog::debug("triggers: ticket {} event {}: {} fired, {} notifications",
                      loaded->ticket_id, entry.id, outcome.fired.size(),
                      outcome.notifications.size());
        return Processed::kDone;
      case ApplyResult::kDuplicate:
        counters.duplicates++;
        return Processed::kDone;
      case ApplyResult::kMissing:
        return Processed::kDone;
      case ApplyResult::kConflict:
        counters.conflicts++;
        break;  // read the ticket again
    }
  }
  spdlog::warn("triggers: {}: ticket kept changing; left pending for a retry", entry.id);
  return Processed::kRetryLater;
}

}  // namespace

TriggerWorkers::TriggerWorkers(TriggerWorkerOptions options,
                               std::shared_ptr<const TriggerSet> triggers)
    : options_(std::move(options)),
      claim_idle_ms_(options_.claim_idle.count()),
      triggers_(std::move(triggers)) {
  if (options_.consumer_prefix.empty()) options_.consumer_prefix = DefaultConsumerPrefix();
  SetTokenSecret(options_.token_secret);
  SetAgents(options_.agents);
}

TriggerWorkers::~TriggerWorkers() { Stop(); }

void TriggerWorkers::Start() {
  stopping_ = false;
  for (size_t i = 0; i < options_.threads; ++i) threads_.emplace_back([this, i] { Run(i); });
}

void TriggerWorkers::Stop() {
  stopping_ = true;
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

void TriggerWorkers::SetTriggers(std::shared_ptr<const TriggerSet> triggers) {
  std::lock_guard<std::mutex> lock(rules_mutex_);
  triggers_ = std::move(triggers);
}

void TriggerWorkers::SetTokenSecret(const std::string& secret) {
  auto tokens = secret.empty() ? nullptr : std::make_shared<const TicketTokens>(secret);
  std::lock_guard<std::mutex> lock(rules_mutex_);
  tokens_ = std::move(tokens);
}

void TriggerWorkers::SetAgents(std::set<std::string> agents) {
  auto shared = std::make_shared<const std::set<std::string>>(std::move(agents));
  std::lock_guard<std::mutex> lock(rules_mutex_);
  agents_ = std::move(shared);
}

void TriggerWorkers::Run(size_t index) {
  std::string consumer = options_.consumer_prefix + "/" + std::to_string(index);
  std::unique_ptr<TriggerQueue> queue;
  auto backoff = std::chrono::milliseconds(100);
  auto next_housekeeping = std::chrono::steady_clock::now();
  while (!stopping_) {
    if (queue && queue->primary_moved()) queue.reset();  // a failover: ask the sentinels again
    if (!queue) {
      Result<std::unique_ptr<TriggerQueue>> connected =
          TriggerQueue::Connect(options_.redis, consumer);
      if (!connected.ok()) {
        counters_.errors++;
        spdlog::warn("triggers: worker {}: {}; retrying in {} ms", index,
                     connected.status().message(), backoff.count());
        std::this_thread::sleep_for(backoff);
        backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
        continue;
      }
      queue = std::move(connected).value();
      backoff = std::chrono::milliseconds(100);
    }
    std::vector<TriggerQueueEntry> entries;
    bool failed = false;
    if (std::chrono::steady_clock::now() >= next_housekeeping) {
      next_housekeeping = std::chrono::steady_clock::now() + kHousekeeping;
      failed = !queue->ReleaseDelayed(100).ok();
      Result<std::vector<TriggerQueueEntry>> stale =
          failed ? Result<std::vector<TriggerQueueEntry>>(Status::Error("redis"))
                 : queue->ClaimStale(claim_idle_ms_.load(std::memory_order_relaxed), kBatch);
      if (stale.ok()) {
        counters_.claimed += stale->size();
        entries = std::move(stale).value();
      } else {
        failed = true;
      }
    }
    if (!failed && entries.empty()) {
      Result<std::vector<TriggerQueueEntry>> fresh = queue->ReadNew(kBatch, kBlockMs);
      // Read from a primary the sentinels moved away from while the read blocked: left
      // unacknowledged there, the entries are claimed again from the new primary.
      if (queue->primary_moved()) continue;
      if (fresh.ok()) {
        entries = std::move(fresh).value();
      } else {
        failed = true;
        spdlog::warn("triggers: worker {}: {}", index, fresh.status().message());
      }
    }
    std::shared_ptr<const TriggerSet> set;
    std::shared_ptr<const TicketTokens> tokens;
    std::shared_ptr<const std::set<std::string>> agents;
    {
      std::lock_guard<std::mutex> lock(rules_mutex_);
      set = triggers_;
      tokens = tokens_;
      agents = agents_;
    }
    std::vector<std::string> nothing_to_do;
    for (const TriggerQueueEntry& entry : entries) {
      if (failed) break;
      counters_.events++;
      Processed processed =
          ProcessEntry(*queue, *set, tokens.get(), agents.get(), entry, counters_);
      failed = processed == Processed::kRedisFailed;
      if (processed == Processed::kNothingToDo) nothing_to_do.push_back(entry.id);
    }
    if (!failed) failed = !queue->Acknowledge(nothing_to_do).ok();
    if (failed) {
      counters_.errors++;
      queue.reset();  // a blocking hiredis context is unusable after an error: reconnect
    }
  }
}

}  // namespace postdesk
