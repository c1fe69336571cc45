// TriggerWorkers: the pool of trigger worker threads (design.md, "Triggers" and "Scale").
//
// Each thread has its own TriggerQueue (a blocking Redis connection) in the consumer group
// "triggers" on {pd}:events: it reads new entries, runs the trigger cycle on each, and writes the
// result back atomically; once a second it also claims entries another worker left pending past
// `claim_idle` (a crashed process) and releases delayed actions that are due. Workers in other
// `postdesk workers` processes join the same group, so the work spreads across machines.
//
// Owns its threads; Start/Stop/SetTriggers/SetTokenSecret are called from one controlling
// thread (the main thread). SetTriggers swaps the set atomically: an event runs wholly on the
// old set or wholly on the new; a batch of entries runs on one set and one token secret. Redis
// failures are logged and retried with backoff; an entry whose result cannot be written stays
// pending and is retried, never dropped.
#ifndef POSTDESK_STORAGE_TRIGGER_WORKERS_H_
#define POSTDESK_STORAGE_TRIGGER_WORKERS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "parser/ticket_token.h"
#include "rules/trigger.h"
#include "storage/redis_address.h"

namespace postdesk {

struct TriggerWorkerOptions {
  RedisAddress redis;
  size_t threads = 2;
  // An entry pending this long in another consumer is taken over (its worker is presumed dead).
  std::chrono::milliseconds claim_idle{std::chrono::seconds(30)};
  std::string token_secret;  // for {{ticket.encoded_id}}
  std::set<std::string> agents;  // lower-case addresses whose comments are sender_type "agent"
  std::string consumer_prefix;  // default: host name and pid
};

struct TriggerWorkerCounters {
  std::atomic<uint64_t> events{0};      // entries processed
  std::atomic<uint64_t> applied{0};     // results written
  std::atomic<uint64_t> duplicates{0};  // entries already applied by another worker
  std::atomic<uint64_t> conflicts{0};   // writes refused because the ticket changed meanwhile
  std::atomic<uint64_t> claimed{0};     // entries taken over from a dead worker
  std::atomic<uint64_t> errors{0};      // Redis failures
};

class TriggerWorkers {
 public:
  TriggerWorkers(TriggerWorkerOptions options, std::shared_ptr<const TriggerSet> triggers);
  ~TriggerWorkers();  // Stop()
  TriggerWorkers(const TriggerWorkers&) = delete;
  TriggerWorkers& operator=(const TriggerWorkers&) = delete;

  void Start();
  // Finishes the entries in hand and joins the threads (within about a second).
  void Stop();
  void SetTriggers(std::shared_ptr<const TriggerSet> triggers);
  // A reloaded [classification] token_secret, for {{ticket.encoded_id}} from the next batch on;
  // empty: no encoded ids.
  void SetTokenSecret(const std::string& secret);
  // The agents' addresses (lower case), whose comments have sender_type "agent"; from the next
  // batch on.
  void SetAgents(std::set<std::string> agents);
  // A reloaded [triggers] claim_timeout, from the next takeover round on (thread-safe).
  void SetClaimIdle(std::chrono::milliseconds claim_idle) {
    claim_idle_ms_.store(claim_idle.count(), std::memory_order_relaxed);
  }
  const TriggerWorkerCounters& counters() const { return counters_; }

 private:
  void Run(size_t index);

  TriggerWorkerOptions options_;
  std::atomic<int64_t> claim_idle_ms_;  // options_.claim_idle, or a reload's
  mutable std::mutex rules_mutex_;      // guards triggers_, tokens_ and agents_
  std::shared_ptr<const TriggerSet> triggers_;
  std::shared_ptr<const TicketTokens> tokens_;  // null without a token secret
  std::shared_ptr<const std::set<std::string>> agents_;
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
  TriggerWorkerCounters counters_;
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_TRIGGER_WORKERS_H_
