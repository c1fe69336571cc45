// Starting (and reloading) the trigger workers from a configuration, for `postdesk serve` (threads
// beside the SMTP loops) and `postdesk workers` (workers alone, on any machine that reaches the
// Redis). Main thread only.
#ifndef POSTDESK_GATEWAY_TRIGGER_WORKER_SETUP_H_
#define POSTDESK_GATEWAY_TRIGGER_WORKER_SETUP_H_

#include <memory>
#include <set>
#include <string>

#include "gateway/config.h"
#include "storage/redis_address.h"
#include "storage/trigger_workers.h"

namespace postdesk {

// The configuration's trigger set; an empty set when the configuration has none loaded.
std::shared_ptr<const TriggerSet> TriggerSetOf(const Config& config);

// The agents a trigger's sender_type "agent" names: [notify] agents and every group's members.
std::set<std::string> AgentAddresses(const Config& config);

// Starts `threads` workers on `redis` with the configuration's triggers, agents, token secret
// and claim timeout, and logs what runs.
std::unique_ptr<TriggerWorkers> StartTriggerWorkers(const Config& config,
                                                    const RedisAddress& redis, size_t threads);

// SIGHUP: running workers take a reloaded configuration's triggers, agents, token secret and
// claim timeout (the thread count stays until a restart).
void ReloadTriggerWorkers(const Config& config, TriggerWorkers* workers);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_TRIGGER_WORKER_SETUP_H_
