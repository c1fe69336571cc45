// `postdesk serve`: the gateway process. Loads the configuration, starts the embedded
// redis-server unless [redis] url is set, runs one event loop per core, and drains on SIGTERM.
#include <spdlog/spdlog.h>

#include <cstdio>

#include "gateway/commands.h"
#include "gateway/log_format.h"
#include "gateway/metrics.h"
#include "gateway/ops_server.h"
#include "gateway/outbox_sender.h"
#include "gateway/server.h"
#include "gateway/signal_watch.h"
#include "gateway/trigger_worker_setup.h"
#include "storage/embedded_redis.h"
#include "storage/redis_sentinel.h"
#include "storage/redis_server_check.h"
#include "storage/trigger_workers.h"

namespace postdesk {
namespace {

constexpr char kHelp[] =
    "usage: postdesk serve --config FILE [--log-level LEVEL]\n"
    "\n"
    "Runs the SMTP gateway. Without [redis] url in FILE it starts its own redis-server\n"
    "(unix socket and data under data_dir, appendfsync always) and stops it on exit.\n"
    "SIGTERM or SIGINT: stop accepting, finish the transactions in flight, answer 421 to\n"
    "the rest, stop the embedded Redis, exit 0. SIGHUP: reload FILE for new sessions (brands,\n"
    "addresses, classification, TLS certificates, triggers); a bad file is refused, the old\n"
    "one stays. With [triggers] workers > 0 (default 2) the trigger workers run in this\n"
    "process too; `postdesk workers` runs more of them elsewhere.\n"
    "\n"
    "  --config FILE      the TOML configuration (see postdesk.example.toml)\n"
    "  --log-level LEVEL  trace, debug, info, warn, error; wins over [log] level (info)\n";

// Everything `serve` needs from a configuration file, checked: the configuration, the token
// secret, and the TLS certificate. Used at start and on SIGHUP, where `running` is the state in
// use (ResolveTokenSecret keeps its secret when the file still names none).
Result<std::shared_ptr<const ServingState>> LoadServingState(
    const std::string& path, const ServingState* running = nullptr) {
  Result<Config> config = LoadConfigFile(path);
  if (!config.ok()) return config.status();
  Status secret = ResolveTokenSecret(&config.value(), running ? &running->config : nullptr);
  if (!secret.ok()) return secret;
  std::shared_ptr<const TlsContext> tls;
  if (!config->tls_cert.empty()) {
    Result<std::shared_ptr<const TlsContext>> loaded =
        TlsContext::LoadServer(config->tls_cert, config->tls_key);
    if (!loaded.ok()) return Status::Error(path + ": " + loaded.status().message());
    tls = loaded.value();
  }
  return std::make_shared<const ServingState>(std::move(config).value(), std::move(tls));
}

struct SignalContext {
  Server* server;
  TriggerWorkers* workers;  // null without worker threads
  OutboxSender* outbox;
  OpsServer* ops;  // null without [http] listen
  std::string config_path;
  std::optional<std::string> level_flag;
  std::shared_ptr<const ServingState> current;
};

// SIGHUP: a new configuration (brands and addresses, classification, limits of new sessions,
// TLS certificates) for new sessions, atomically; a bad one is refused and the old one stays.
void Reload(SignalContext* context) {
  Result<std::shared_ptr<const ServingState>> next =
      LoadServingState(context->config_path, context->current.get());
  if (!next.ok()) {
    spdlog::error("SIGHUP: configuration refused, the running one stays: {}",
                  next.status().message());
    return;
  }
  const Config& old_config = context->current->config;
  const Config& new_config = next.value()->config;
  auto same_listen = [](const std::vector<ListenAddress>& a, const std::vector<ListenAddress>& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].host != b[i].host || a[i].port != b[i].port) return false;
    }
    return true;
  };
  if (!same_listen(old_config.listen, new_config.listen) ||
      !same_listen(old_config.listen_tls, new_config.listen_tls) ||
      old_config.loops != new_config.loops || old_config.data_dir != new_config.data_dir ||
      old_config.redis_url != new_config.redis_url ||
      old_config.redis_password_file != new_config.redis_password_file ||
      old_config.redis_sentinel_password_file != new_config.redis_sentinel_password_file ||
      old_config.redis_sentinel_timeout != new_config.redis_sentinel_timeout ||
      old_config.redis_reply_timeout != new_config.redis_reply_timeout ||
      old_config.redis_fsync != new_config.redis_fsync ||
      old_config.http_listen.has_value() != new_config.http_listen.has_value() ||
      (old_config.http_listen && (old_config.http_listen->host != new_config.http_listen->host ||
                                  old_config.http_listen->port != new_config.http_listen->port)) ||
      old_config.limits.max_connections != new_config.limits.max_connections ||
      old_config.limits.max_connections_per_ip != new_config.limits.max_connections_per_ip ||
      old_config.limits.stress_connections != new_config.limits.stress_connections) {
    spdlog::warn(
        "SIGHUP: listen addresses, loops, data_dir, [redis], [http] and connection "
        "limits change only with a restart; the running values stay");
  }
  ApplyLogConfig(new_config.log, context->level_flag);
  context->current = next.value();
  context->server->UpdateState(context->current);
  if (context->workers) ReloadTriggerWorkers(new_config, context->workers);
  context->outbox->UpdateConfig(new_config);
  spdlog::info("SIGHUP: configuration reloaded: {} brands, {} addresses, {} triggers; TLS {}",
               new_config.brands.size(), context->current->addresses.size(),
               TriggerSetOf(new_config)->triggers().size(), context->current->tls ? "on" : "off");
}

}  // namespace

int ServeCommand(const Args& args) {
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  if (!config_path) {
    std::fprintf(stderr, "postdesk serve: --config FILE is required\n\n%s", kHelp);
    return 2;
  }
  std::optional<std::string> level_flag = OptionValue(args, "--log-level");
  if (level_flag) {
    Result<spdlog::level::level_enum> level = ParseLogLevel(*level_flag);
    if (!level.ok()) {
      std::fprintf(stderr, "postdesk serve: --log-level: %s\n\n%s",
                   level.status().message().c_str(), kHelp);
      return 2;
    }
    spdlog::set_level(level.value());
  }

  SignalWatch signal_watch;  // from here on, a signal waits for the loops instead of killing

  Result<std::shared_ptr<const ServingState>> loaded = LoadServingState(*config_path);
  if (!loaded.ok()) {
    std::fprintf(stderr, "postdesk: %s\n", loaded.status().message().c_str());
    return 1;
  }
  std::shared_ptr<const ServingState> state = loaded.value();
  // Before anything else logs: with format json every line of the run is JSON.
  ApplyLogConfig(state->config.log, level_flag);

  std::unique_ptr<EmbeddedRedis> embedded;
  RedisAddress redis;
  std::unique_ptr<SentinelWatcher> sentinel_watcher;  // with a redis-sentinel:// url
  if (state->config.redis_url.empty()) {
    Result<std::unique_ptr<EmbeddedRedis>> started =
        EmbeddedRedis::Start(state->config.data_dir, state->config.redis_fsync);
    if (!started.ok()) {
      std::fprintf(stderr, "postdesk: %s\n", started.status().message().c_str());
      return 1;
    }
    embedded = std::move(started).value();
    redis = embedded->address();
    if (state->config.redis_fsync == EmbeddedFsync::kEverySecond) {
      spdlog::warn(
          "[redis] appendfsync = \"everysec\": a crash of this machine can lose up to a second "
          "of mail already acknowledged with 250");
    }
  } else {
    Result<RedisAddress> parsed = ExternalRedisAddress(state->config);
    if (!parsed.ok()) {
      std::fprintf(stderr, "postdesk: %s: %s\n", state->config.source.c_str(),
                   parsed.status().message().c_str());
      return 1;
    }
    redis = parsed.value();
    if (redis.via_sentinel()) sentinel_watcher = std::make_unique<SentinelWatcher>(redis);
    if (!RedisAnswers(redis, std::chrono::seconds(2))) {
      spdlog::warn("redis {} does not answer yet: mail gets 451 until it does", redis.ToString());
    } else if (Status usable = WarnOfRedisServerProblems(redis); !usable.ok()) {
      std::fprintf(stderr, "postdesk: %s\n", usable.message().c_str());
      return 1;
    }
  }

  // Bound before the SMTP ports: a monitoring port in use fails the start as an SMTP one does.
  std::unique_ptr<OpsServer> ops;
  if (state->config.http_listen) {
    Result<std::unique_ptr<OpsServer>> started =
        OpsServer::Start(*state->config.http_listen, redis, &Metrics().registry);
    if (!started.ok()) {
      std::fprintf(stderr, "postdesk: %s\n", started.status().message().c_str());
      return 1;
    }
    ops = std::move(started).value();
  }

  Result<std::unique_ptr<Server>> server = Server::Start(state, redis);
  if (!server.ok()) {
    std::fprintf(stderr, "postdesk: %s\n", server.status().message().c_str());
    return 1;
  }
  std::unique_ptr<TriggerWorkers> workers;
  if (state->config.triggers.workers > 0) {
    workers = StartTriggerWorkers(state->config, redis, state->config.triggers.workers);
  }
  OutboxSender outbox(state->config, redis);
  outbox.Start();
  spdlog::info("outbox: {}",
               state->config.notify.relay.empty()
                   ? "notifications are written to " + state->config.data_dir + "/outbox/"
                   : "notifications go to relay " + state->config.notify.relay);
  // Read by /metrics; released before the outbox and the workers they read go.
  std::vector<MetricsRegistry::Registration> component_metrics = ExportComponentMetrics(
      &Metrics().registry, outbox.counters(), workers ? &workers->counters() : nullptr);
  SignalContext signals{server.value().get(), workers.get(), &outbox, ops.get(),
                        *config_path,         level_flag,    state};
  signal_watch.Run(
      [&signals](int signum) {
        spdlog::info("{}: draining: no new connections, finishing transactions in flight",
                     signum == SIGTERM ? "SIGTERM" : "SIGINT");
        if (signals.ops) signals.ops->SetDraining();  // /healthz: 503 "draining"
        signals.server->Shutdown();
      },
      [&signals] { Reload(&signals); });
  server.value()->Wait();
  spdlog::info("all loops drained");
  server.value().reset();
  if (workers) {
    workers->Stop();
    spdlog::info("trigger workers stopped");
  }
  outbox.Stop();
  spdlog::info("outbox stopped");
  if (ops) ops->Stop();
  if (embedded) {
    Status stopped = embedded->Stop();
    if (!stopped.ok()) spdlog::error("{}", stopped.message());
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace postdesk
