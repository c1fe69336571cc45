// `postdesk workers`: trigger workers without the SMTP gateway, so that they scale out onto
// other machines (design.md, "Scale"). They join the same Redis consumer group as the workers
// inside `postdesk serve`.
#include <spdlog/spdlog.h>
#include <uv.h>

#include <cstdio>

#include "gateway/commands.h"
#include "gateway/log_format.h"
#include "gateway/trigger_worker_setup.h"
#include "storage/embedded_redis.h"

namespace postdesk {
namespace {

constexpr char kHelp[] =
    "usage: postdesk workers --config FILE [--threads N] [--log-level LEVEL]\n"
    "\n"
    "Runs trigger workers alone: they read ticket events from Redis, run the triggers of\n"
    "FILE, and write the changes and notifications back. Redis is [redis] url, or the\n"
    "embedded server of a gateway running with the same data_dir. SIGHUP reloads the\n"
    "triggers (a broken set is refused, the old one stays); SIGTERM or SIGINT stops after\n"
    "the events in hand.\n"
    "\n"
    "  --config FILE      the TOML configuration\n"
    "  --threads N        worker threads (default: [triggers] workers, or 2 when that is 0)\n"
    "  --log-level LEVEL  trace, debug, info, warn, error; wins over [log] level (info)\n";

struct Context {
  std::string config_path;
  TriggerWorkers* workers;
};

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
  if (config->redis_url.empty()) {
    redis.unix_path = EmbeddedRedis::SocketPath(config->data_dir);
  } else {
    Result<RedisAddress> parsed = ParseRedisUrl(config->redis_url);
    if (!parsed.ok()) {
      std::fprintf(stderr, "postdesk: [redis] url: %s\n", parsed.status().message().c_str());
      return 1;
    }
    redis = parsed.value();
  }
  std::unique_ptr<TriggerWorkers> workers = StartTriggerWorkers(config.value(), redis, threads);
  Context context{*config_path, workers.get()};

  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_signal_t term, interrupt, hangup;
  for (uv_signal_t* s : {&term, &interrupt, &hangup}) {
    uv_signal_init(&loop, s);
    s->data = &context;
  }
  auto on_stop = [](uv_signal_t* handle, int) { uv_stop(handle->loop); };
  uv_signal_start_oneshot(&term, on_stop, SIGTERM);
  uv_signal_start_oneshot(&interrupt, on_stop, SIGINT);
  uv_signal_start(&hangup, [](uv_signal_t* handle, int) {
    auto* c = static_cast<Context*>(handle->data);
    Result<Config> next = LoadConfigFile(c->config_path);
    if (!next.ok()) {
      spdlog::error("SIGHUP: triggers refused, the running ones stay: {}", next.status().message());
      return;
    }
    c->workers->SetTriggers(TriggerSetOf(next.value()));
    spdlog::info("SIGHUP: {} triggers loaded", TriggerSetOf(next.value())->triggers().size());
  }, SIGHUP);
  uv_run(&loop, UV_RUN_DEFAULT);
  for (uv_signal_t* s : {&term, &interrupt, &hangup}) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  workers->Stop();
  spdlog::info("trigger workers stopped");
  return 0;
}

}  // namespace postdesk
