#include "gateway/server.h"

#include <spdlog/spdlog.h>

#include "gateway/metrics.h"

namespace postdesk {

Result<std::unique_ptr<Server>> Server::Start(std::shared_ptr<const ServingState> state,
                                              const RedisAddress& redis) {
  size_t count = state->config.loops;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  auto server = std::unique_ptr<Server>(new Server);
  const LimitsConfig& limits = state->config.limits;
  server->limits_ = std::make_unique<ConnectionLimits>(
      limits.max_connections, limits.max_connections_per_ip, limits.stress_connections);
  for (size_t i = 0; i < count; ++i) {
    auto loop = std::make_unique<ServerLoop>(static_cast<uint16_t>(i), state, redis,
                                             server->limits_.get());
    Status s = loop->Listen(state->config.listen);
    if (s.ok()) s = loop->Listen(state->config.listen_tls, /*implicit_tls=*/true);
    if (!s.ok()) {
      // Nothing runs yet: the loops' handles are abandoned with the process, which exits now.
      for (auto& l : server->loops_) l.release();
      server->loops_.clear();
      loop.release();
      return s;
    }
    server->loops_.push_back(std::move(loop));
  }
  // The loops and the server outlive the limits' use: the threads are joined before they go.
  server->limits_->SetStressObserver([raw = server.get(), at = limits.stress_connections,
                                      timeout = limits.stress_command_timeout](bool stressed) {
    Metrics().under_stress.Add(stressed ? 1 : -1);
    if (!stressed) {
      spdlog::info("stress over: fewer than {} connections open", at);
      return;
    }
    Metrics().stress_episodes.Add();
    spdlog::warn(
        "under stress: {} connections open ([limits] stress_connections); sessions "
        "waiting for a command now wait at most {} ms",
        at, timeout.count());
    for (auto& loop : raw->loops_) loop->StressBegan();
  });
  for (auto& loop : server->loops_) {
    ServerLoop* raw = loop.get();
    server->threads_.emplace_back([raw] { raw->Run(); });
  }
  std::string where;
  for (const ListenAddress& a : state->config.listen) {
    where += (where.empty() ? "" : ", ") + a.host + ":" + std::to_string(a.port);
  }
  spdlog::info("listening on {} with {} loops; hostname {}; {} brands, {} addresses", where,
               count, state->config.hostname, state->config.brands.size(), state->addresses.size());
  return server;
}

void Server::Shutdown() {
  for (auto& loop : loops_) loop->Shutdown();
}

void Server::UpdateState(const std::shared_ptr<const ServingState>& state) {
  for (auto& loop : loops_) loop->UpdateState(state);
}

void Server::Wait() {
  for (std::thread& t : threads_) {
    if (t.joinable()) t.join();
  }
}

Server::~Server() {
  Shutdown();  // a no-op for loops that have drained already
  Wait();
}

}  // namespace postdesk
