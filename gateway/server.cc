#include "gateway/server.h"

#include <spdlog/spdlog.h>

namespace postdesk {

Result<std::unique_ptr<Server>> Server::Start(std::shared_ptr<const ServingState> state,
                                              const RedisAddress& redis) {
  size_t count = state->config.loops;
  if (count == 0) count = std::max(1u, std::thread::hardware_concurrency());
  auto server = std::unique_ptr<Server>(new Server);
  server->limits_ = std::make_unique<ConnectionLimits>(state->config.limits.max_connections,
                                                       state->config.limits.max_connections_per_ip);
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
