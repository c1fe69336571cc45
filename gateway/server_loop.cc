#include "gateway/server_loop.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "gateway/metrics.h"

namespace postdesk {
namespace {

template <typename Handle>
void CloseAndDelete(Handle* handle) {
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
}

// A listening socket that several loops (and, on purpose, several postdesk processes of the
// same user) can bind together: SO_REUSEPORT lets the kernel balance accepts across them.
Result<int> BindReusePort(const ListenAddress& address) {
  sockaddr_storage addr{};
  socklen_t len = 0;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&addr);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&addr);
  if (inet_pton(AF_INET, address.host.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(address.port);
    len = sizeof(*v4);
  } else if (inet_pton(AF_INET6, address.host.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(address.port);
    len = sizeof(*v6);
  } else {
    return Status::Error("listen " + address.host + ": not an IP address");
  }
  std::string where = address.host + ":" + std::to_string(address.port);
  int fd = socket(addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Error("listen " + where + ": " + std::strerror(errno));
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
  if (addr.ss_family == AF_INET6) setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  // Replies are small and must leave at once (no Nagle delay behind an unacknowledged one).
  // Linux gives an accepted socket its listener's TCP_NODELAY, which saves a system call per
  // connection.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    int err = errno;
    close(fd);
    return Status::Error("listen " + where + ": " + std::strerror(err));
  }
  return fd;
}

}  // namespace

ServerLoop::ServerLoop(uint16_t index, std::shared_ptr<const ServingState> state, RedisAddress redis,
                       ConnectionLimits* limits)
    : index_(index),
      state_(std::move(state)),
      limits_(limits),
      wakeup_async_(new uv_async_t),
      grace_timer_(new uv_timer_t),
      read_buffer_(new char[kReadBufferSize]),
      store_(&loop_, std::move(redis), state_->config.redis_reply_timeout),
      delivery_(&loop_, &store_) {
  uv_async_init(&loop_, wakeup_async_, &ServerLoop::OnWakeup);
  wakeup_async_->data = this;
  uv_timer_init(&loop_, grace_timer_);
  grace_timer_->data = this;
  spare_connections_.reserve(kMaxSpareConnections);
  store_.SetStateObserver(
      [](bool connected) { Metrics().redis_connections.Add(connected ? 1 : -1); });
}

ServerLoop::~ServerLoop() {
  // Run() returned: every handle was closed and freed; only the loop itself remains.
  int rc = uv_loop_close(&loop_);
  assert(rc == 0);
  (void)rc;
}

Status ServerLoop::Listen(const std::vector<ListenAddress>& addresses, bool implicit_tls) {
  for (const ListenAddress& address : addresses) {
    Result<int> fd = BindReusePort(address);
    if (!fd.ok()) return fd.status();
    auto* listener = new Listener;
    listener->implicit_tls = implicit_tls;
    uv_tcp_t* tcp = &listener->tcp;
    uv_tcp_init(&loop_, tcp);
    tcp->data = this;
    listeners_.push_back(listener);
    int rc = uv_tcp_open(tcp, fd.value());
    if (rc == 0) rc = uv_listen(reinterpret_cast<uv_stream_t*>(tcp), 1024, &ServerLoop::OnConnection);
    if (rc != 0) {
      return Status::Error("listen " + address.host + ":" + std::to_string(address.port) + ": " +
                           uv_strerror(rc));
    }
  }
  return Status::Ok();
}

void ServerLoop::Run() {
  store_.Start();
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void ServerLoop::Shutdown() {
  std::lock_guard<std::mutex> lock(async_mu_);
  shutdown_requested_ = true;
  if (async_open_) uv_async_send(wakeup_async_);
}

void ServerLoop::UpdateState(std::shared_ptr<const ServingState> state) {
  std::lock_guard<std::mutex> lock(async_mu_);
  next_state_ = std::move(state);
  if (async_open_) uv_async_send(wakeup_async_);
}

void ServerLoop::StressBegan() {
  std::lock_guard<std::mutex> lock(async_mu_);
  stress_began_ = true;
  if (async_open_) uv_async_send(wakeup_async_);
}

void ServerLoop::OnWakeup(uv_async_t* async) {
  auto* self = static_cast<ServerLoop*>(async->data);
  std::shared_ptr<const ServingState> next;
  bool shutdown;
  bool stress;
  {
    std::lock_guard<std::mutex> lock(self->async_mu_);
    next = std::move(self->next_state_);
    shutdown = self->shutdown_requested_;
    stress = std::exchange(self->stress_began_, false);
  }
  if (next) self->state_ = std::move(next);
  // Unless it is over again by now (the news may be late).
  if (stress && self->limits_->under_stress()) {
    for (auto& [id, connection] : self->connections_) {
      if (connection->session()) connection->session()->OnStress();
    }
  }
  if (shutdown) self->BeginShutdown();
}

void ServerLoop::OnConnection(uv_stream_t* listener, int status) {
  auto* self = static_cast<ServerLoop*>(listener->data);
  if (status < 0 || self->shutting_down_) return;
  // Ids carry the loop's index in the top bits, so they are unique in the process and in logs.
  uint64_t id = (uint64_t{self->index_} << 48) | self->next_connection_++;
  Metrics().connections.Add();
  Metrics().connections_open.Add(1);  // until OnConnectionClosed
  SmtpConnection* connection;
  SmtpSession::Buffers buffers;
  if (!self->spare_connections_.empty()) {
    SpareConnection& spare = self->spare_connections_.back();
    ConnectionMap::node_type node = std::move(spare.node);
    buffers = std::move(spare.buffers);
    self->spare_connections_.pop_back();
    node.key() = id;
    connection = node.mapped().get();
    connection->Reopen(id);
    self->connections_.insert(std::move(node));
  } else {
    auto made = std::make_unique<SmtpConnection>(self, id);
    connection = made.get();
    self->connections_.emplace(id, std::move(made));
  }
  connection->Accept(listener, self->state_, self->limits_,
                     reinterpret_cast<Listener*>(listener)->implicit_tls, std::move(buffers));
}

void ServerLoop::Deliver(SmtpTransaction* transaction) {
  delivery_.Deliver(transaction, [this](uint64_t session_id, const DeliveryOutcome& outcome) {
    // Counted whether or not the session is still there: the message was (or was not) stored.
    Metrics().CountTransaction(outcome.verdict);
    for (const IngestOutcome& stored : outcome.stored) {
      if (stored.kind == IngestOutcome::Kind::kSuspended) Metrics().CountSuspended(stored.cause);
    }
    auto it = connections_.find(session_id);
    if (it == connections_.end()) {
      spdlog::warn("session {:x} gone before its delivery ended: {}", session_id, outcome.detail);
      return;
    }
    it->second->session()->OnDelivered(outcome);
  });
}

void ServerLoop::OnConnectionClosed(uint64_t id, SmtpSession::Buffers buffers) {
  Metrics().connections_open.Add(-1);
  ConnectionMap::node_type node = connections_.extract(id);
  if (node && !shutting_down_ && spare_connections_.size() < kMaxSpareConnections) {
    spare_connections_.push_back({std::move(node), std::move(buffers)});
  }
  if (shutting_down_) MaybeFinish();
}

void ServerLoop::BeginShutdown() {
  if (shutting_down_) return;
  shutting_down_ = true;
  for (Listener* listener : listeners_) {
    uv_close(reinterpret_cast<uv_handle_t*>(&listener->tcp),
             [](uv_handle_t* h) { delete reinterpret_cast<Listener*>(h); });
  }
  listeners_.clear();
  std::vector<SmtpConnection*> open;
  for (auto& [id, connection] : connections_) open.push_back(connection.get());
  for (SmtpConnection* c : open) {
    if (c->session()) {
      c->session()->Shutdown();
    } else {
      c->Abort();  // a balancer's connection still before its PROXY header: nothing said yet
    }
  }
  uint64_t grace = static_cast<uint64_t>(state_->config.limits.shutdown_grace.count());
  uv_timer_start(grace_timer_, [](uv_timer_t* t) {
    auto* self = static_cast<ServerLoop*>(t->data);
    spdlog::warn("loop {}: shutdown grace over, cutting {} connections", self->index_,
                 self->connections_.size());
    std::vector<SmtpConnection*> rest;
    for (auto& [id, connection] : self->connections_) rest.push_back(connection.get());
    for (SmtpConnection* c : rest) c->Abort();
  }, grace, 0);
  MaybeFinish();
}

void ServerLoop::MaybeFinish() {
  if (finished_ || !connections_.empty()) return;
  finished_ = true;
  CloseAndDelete(grace_timer_);
  {
    std::lock_guard<std::mutex> lock(async_mu_);
    async_open_ = false;
  }
  CloseAndDelete(wakeup_async_);
  // Deliveries still on the thread pool keep the loop alive; the store answers them with an
  // error once closed, and their sessions are gone anyway.
  store_.Close([] {});
}

}  // namespace postdesk
