// `postdesk workers`: trigger workers without the SMTP gateway, so that they scale out onto
// other machines (design.md, "Scale"). They join the same Redis consumer group as the workers
// inside `postdesk serve`.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "gateway/commands.h"
#include "gateway/log_format.h"
#include "gateway/signal_watch.h"
#include "gateway/trigger_worker_setup.h"
#include "storage/embedded_redis.h"
#include "storage/redis_sentinel.h"
#include "storage/redis_server_check.h"

namespace postdesk {
namespace {

constexpr char kHelp[] =
    "usage: postdesk workers --config FILE [--threads N] [--log-level LEVEL]\n"
    "\n"
    "Runs trigger workers alone: they read ticket events from Redis, run the triggers of\n"
    "FILE, and write the changes and notifications back. Redis is [redis] url, or the\n"
    "embedded server of a gateway running with the same data_dir. SIGHUP reloads the\n"
    "triggers, claim_timeout and token_secret (a broken file is refused, the old one stays);\n"
    "SIGTERM or SIGINT stops after the events in hand.\n"
    "\n"
    "  --config FILE      the TOML configuration\n"
    "  --threads N        worker threads (default: [triggers] workers, or 2 when that is 0)\n"
    "  --log-level LEVEL  trace, debug, info, warn, error; wins over [log] level (info)\n";

}  // namespace

int WorkersCommand(const Args& args) {
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  if (!config_path) {
    std::fprintf(stderr, "postdesk workers: --config FILE is required\n\n%s", kHelp);
    return 2;
  }
  std::optional<std::string> level_flag = OptionValue(args, "--log-level");
  if (level_flag && !ParseLogLevel(*level_flag).ok()) {
    std::fprintf(stderr, "postdesk workers: --log-level: %s\n\n%s",
                 ParseLogLevel(*level_flag).status().message().c_str(), kHelp);
    return 2;
  }
  SignalWatch signal_watch;  // a signal while starting waits instead of killing

  Result<Config> config = LoadConfigFile(*config_path);
  Status secret = config.ok() ? ResolveTokenSecret(&config.value()) : config.status();
  if (!secret.ok()) {
    std::fprintf(stderr, "postdesk: %s\n", secret.message().c_str());
    return 1;
  }
  ApplyLogConfig(config->log, level_flag);  // [log], as `serve` does at start
  size_t threads = config->triggers.workers > 0 ? config->triggers.workers : 2;
  if (std::optional<std::string> n = OptionValue(args, "--threads")) {
    threads = static_cast<size_t>(std::atoi(n->c_str()));
    if (threads < 1 || threads > 256) {
      std::fprintf(stderr, "postdesk workers: --threads must be 1-256\n");
      return 2;
    }
  }
  RedisAddress redis;
  std::unique_ptr<SentinelWatcher> sentinel_watcher;  // with a redis-sentinel:// url
  if (config->redis_url.empty()) {
    redis.unix_path = EmbeddedRedis::SocketPath(config->data_dir);
  } else {
    Result<RedisAddress> parsed = ExternalRedisAddress(config.value());
    if (!parsed.ok()) {
      std::fprintf(stderr, "postdesk: %s\n", parsed.status().message().c_str());
      return 1;
    }
    redis = parsed.value();
    if (redis.via_sentinel()) sentinel_watcher = std::make_unique<SentinelWatcher>(redis);
    // The workers' writes (a trigger's changes, the notifications) carry the same promise.
    if (Status usable = WarnOfRedisServerProblems(redis); !usable.ok()) {
      std::fprintf(stderr, "postdesk: %s\n", usable.message().c_str());
      return 1;
    }
  }
  std::unique_ptr<TriggerWorkers> workers = StartTriggerWorkers(config.value(), redis, threads);

  signal_watch.Run(
      [](int) {},
      [&config_path, &config, &workers] {
        Result<Config> next = LoadConfigFile(*config_path);
        Status usable =
            next.ok() ? ResolveTokenSecret(&next.value(), &config.value()) : next.status();
        if (!usable.ok()) {
          spdlog::error("SIGHUP: triggers refused, the running ones stay: {}", usable.message());
          return;
        }
        ReloadTriggerWorkers(next.value(), workers.get());
        spdlog::info("SIGHUP: {} triggers loaded", TriggerSetOf(next.value())->triggers().size());
        config = std::move(next);
      });
  workers->Stop();
  spdlog::info("trigger workers stopped");
  return 0;
}

}  // namespace postdesk
