// `postdesk serve`: the gateway process. Loads the configuration, starts the embedded
// redis-server unless [redis] url is set, runs one event loop per core, and drains on SIGTERM.
#include <spdlog/spdlog.h>
#include <uv.h>

#include <cstdio>

#include "gateway/commands.h"
#include "gateway/server.h"
#include "storage/embedded_redis.h"

namespace postdesk {
namespace {

constexpr char kHelp[] =
    "usage: postdesk serve --config FILE [--log-level LEVEL]\n"
    "\n"
    "Runs the SMTP gateway. Without [redis] url in FILE it starts its own redis-server\n"
    "(unix socket and data under data_dir, appendfsync always) and stops it on exit.\n"
    "SIGTERM or SIGINT: stop accepting, finish the transactions in flight, answer 421 to\n"
    "the rest, stop the embedded Redis, exit 0.\n"
    "\n"
    "  --config FILE      the TOML configuration (see postdesk.example.toml)\n"
    "  --log-level LEVEL  trace, debug, info (default), warn, error\n";

// Waits on the main thread for SIGTERM/SIGINT, then asks the server to drain.
void WaitForSignal(Server* server) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  uv_signal_t term, interrupt;
  for (uv_signal_t* s : {&term, &interrupt}) {
    uv_signal_init(&loop, s);
    s->data = server;
  }
  auto on_signal = [](uv_signal_t* handle, int signum) {
    spdlog::info("{}: draining: no new connections, finishing transactions in flight",
                 signum == SIGTERM ? "SIGTERM" : "SIGINT");
    static_cast<Server*>(handle->data)->Shutdown();
    uv_stop(handle->loop);
  };
  uv_signal_start_oneshot(&term, on_signal, SIGTERM);
  uv_signal_start_oneshot(&interrupt, on_signal, SIGINT);
  uv_run(&loop, UV_RUN_DEFAULT);
  for (uv_signal_t* s : {&term, &interrupt}) uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
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
  std::string level = OptionValue(args, "--log-level").value_or("info");
  spdlog::set_level(spdlog::level::from_str(level));

  Result<Config> config = LoadConfigFile(*config_path);
  if (!config.ok()) {
    std::fprintf(stderr, "postdesk: %s\n", config.status().message().c_str());
    return 1;
  }
  Status secret = ResolveTokenSecret(&config.value());
  if (!secret.ok()) {
    std::fprintf(stderr, "postdesk: %s\n", secret.message().c_str());
    return 1;
  }
  std::shared_ptr<const TlsContext> tls;
  if (!config->tls_cert.empty()) {
    Result<std::shared_ptr<const TlsContext>> loaded =
        TlsContext::LoadServer(config->tls_cert, config->tls_key);
    if (!loaded.ok()) {
      std::fprintf(stderr, "postdesk: %s: %s\n", config->source.c_str(),
                   loaded.status().message().c_str());
      return 1;
    }
    tls = loaded.value();
  }
  auto state = std::make_shared<const ServingState>(std::move(config).value(), std::move(tls));

  std::unique_ptr<EmbeddedRedis> embedded;
  RedisAddress redis;
  if (state->config.redis_url.empty()) {
    Result<std::unique_ptr<EmbeddedRedis>> started = EmbeddedRedis::Start(state->config.data_dir);
    if (!started.ok()) {
      std::fprintf(stderr, "postdesk: %s\n", started.status().message().c_str());
      return 1;
    }
    embedded = std::move(started).value();
    redis = embedded->address();
  } else {
    Result<RedisAddress> parsed = ParseRedisUrl(state->config.redis_url);
    if (!parsed.ok()) {
      std::fprintf(stderr, "postdesk: %s: [redis] url: %s\n", state->config.source.c_str(),
                   parsed.status().message().c_str());
      return 1;
    }
    redis = parsed.value();
    if (!RedisAnswers(redis, std::chrono::seconds(2))) {
      spdlog::warn("redis {} does not answer yet: mail gets 451 until it does", redis.ToString());
    }
  }

  Result<std::unique_ptr<Server>> server = Server::Start(state, redis);
  if (!server.ok()) {
    std::fprintf(stderr, "postdesk: %s\n", server.status().message().c_str());
    return 1;
  }
  WaitForSignal(server.value().get());
  server.value()->Wait();
  spdlog::info("all loops drained");
  server.value().reset();
  if (embedded) {
    Status stopped = embedded->Stop();
    if (!stopped.ok()) spdlog::error("{}", stopped.message());
  }
  spdlog::info("stopped");
  return 0;
}

}  // namespace postdesk
