#include "gateway/trigger_worker_setup.h"

#include <spdlog/spdlog.h>

namespace postdesk {

std::shared_ptr<const TriggerSet> TriggerSetOf(const Config& config) {
  if (config.triggers.set) return config.triggers.set;
  static const auto kEmpty = std::make_shared<const TriggerSet>(std::vector<Trigger>());
  return kEmpty;
}

std::set<std::string> AgentAddresses(const Config& config) {
  std::set<std::string> agents(config.notify.agents.begin(), config.notify.agents.end());
  for (const GroupConfig& group : config.groups) {
    agents.insert(group.members.begin(), group.members.end());
  }
  return agents;
}

std::unique_ptr<TriggerWorkers> StartTriggerWorkers(const Config& config,
                                                    const RedisAddress& redis, size_t threads) {
  TriggerWorkerOptions options;
  options.redis = redis;
  options.threads = threads;
  options.claim_idle = config.triggers.claim_timeout;
  options.token_secret = config.classification.token_secret;
  options.agents = AgentAddresses(config);
  std::shared_ptr<const TriggerSet> set = TriggerSetOf(config);
  auto workers = std::make_unique<TriggerWorkers>(options, set);
  workers->Start();
  spdlog::info("trigger workers: {} threads, {} active triggers ({} inactive), redis {}", threads,
               set->triggers().size(), set->inactive_count(), redis.ToString());
  return workers;
}

void ReloadTriggerWorkers(const Config& config, TriggerWorkers* workers) {
  workers->SetTriggers(TriggerSetOf(config));
  workers->SetClaimIdle(config.triggers.claim_timeout);
  workers->SetTokenSecret(config.classification.token_secret);
  workers->SetAgents(AgentAddresses(config));
}

}  // namespace postdesk
