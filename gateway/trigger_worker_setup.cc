#include "gateway/trigger_worker_setup.h"

#include <spdlog/spdlog.h>

namespace postdesk {

std::shared_ptr<const TriggerSet> TriggerSetOf(const Config& config) {
  if (config.triggers.set) return config.triggers.set;
  static const auto kEmpty = std::make_shared<const TriggerSet>(std::vector<Trigger>());
  return kEmpty;
}

std::unique_ptr<TriggerWorkers> StartTriggerWorkers(const Config& config,
                                                    const RedisAddress& redis, size_t threads) {
  TriggerWorkerOptions options;
  options.redis = redis;
  options.threads = threads;
  options.claim_idle = config.triggers.claim_timeout;
  options.token_secret = config.classification.token_secret;
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
}

}  // namespace postdesk
