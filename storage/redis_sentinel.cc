#include "storage/redis_sentinel.h"

#include <hiredis/hiredis.h>
#include <netdb.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "storage/redis_functions.h"

namespace postdesk {
namespace {

struct ContextFree {
  void operator()(redisContext* c) const { redisFree(c); }
};
struct ReplyFree {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

std::atomic<uint64_t> sentinel_switches{0};

void CountSwitch() { sentinel_switches.fetch_add(1, std::memory_order_release); }

std::vector<std::string_view> Words(std::string_view text) {
  std::vector<std::string_view> words;
  while (!text.empty()) {
    size_t space = text.find(' ');
    if (space != 0) words.push_back(text.substr(0, space));
    if (space == std::string_view::npos) break;
    text.remove_prefix(space + 1);
  }
  return words;
}

// AUTH to a sentinel that has a requirepass (Redis 6.2+ sentinels take one of their own). A
// sentinel without one would refuse the AUTH: none is sent when no password is set.
Status Authenticate(redisContext* c, const std::string& password) {
  if (password.empty()) return Status::Ok();
  const RedisArgv auth = AuthCommand("", password);
  std::unique_ptr<redisReply, ReplyFree> r(
      static_cast<redisReply*>(redisCommandArgv(c, auth.count(), auth.args(), auth.lens.data())));
  if (!r) return Status::Error(std::string("AUTH: ") + (c->err ? c->errstr : "no reply"));
  if (r->type == REDIS_REPLY_ERROR) {
    return Status::Error("AUTH: " + std::string(r->str, r->len));
  }
  return Status::Ok();
}

timeval Timeval(std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  return tv;
}

// One sentinel's answer within the address's sentinel_timeout: the primary's host and port,
// or why there is none.
Result<RedisEndpoint> AskOne(const RedisEndpoint& sentinel, const RedisAddress& address) {
  const std::string& master = address.sentinel_master;
  const timeval tv = Timeval(address.sentinel_timeout);
  std::unique_ptr<redisContext, ContextFree> c(
      redisConnectWithTimeout(sentinel.host.c_str(), sentinel.port, tv));
  if (!c) return Status::Error("out of memory");
  if (c->err) return Status::Error(c->errstr);
  redisSetTimeout(c.get(), tv);
  if (Status auth = Authenticate(c.get(), address.sentinel_password); !auth.ok()) return auth;
  const char* argv[] = {"SENTINEL", "get-master-addr-by-name", master.c_str()};
  const size_t lens[] = {8, 23, master.size()};
  std::unique_ptr<redisReply, ReplyFree> r(
      static_cast<redisReply*>(redisCommandArgv(c.get(), 3, argv, lens)));
  if (!r) return Status::Error(c->err ? c->errstr : "no reply");
  if (r->type == REDIS_REPLY_ERROR) return Status::Error(std::string(r->str, r->len));
  if (r->type == REDIS_REPLY_NIL) return Status::Error("no master named " + master);
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
      r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING) {
    return Status::Error("an unexpected answer to SENTINEL get-master-addr-by-name");
  }
  RedisEndpoint primary;
  primary.host.assign(r->element[0]->str, r->element[0]->len);
  std::string_view port(r->element[1]->str, r->element[1]->len);
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), primary.port);
  if (ec != std::errc() || end != port.data() + port.size() || primary.port == 0 ||
      primary.host.empty()) {
    return Status::Error("an address that is no host and port");
  }
  return primary;
}

}  // namespace

Result<RedisAddress> ResolveSentinelPrimary(const RedisAddress& address) {
  std::string errors;
  for (const RedisEndpoint& sentinel : address.sentinels) {
    Result<RedisEndpoint> primary = AskOne(sentinel, address);
    if (primary.ok()) {
      RedisAddress resolved = address;
      resolved.sentinels.clear();
      resolved.sentinel_master.clear();
      resolved.host = primary->host;
      resolved.port = primary->port;
      return resolved;
    }
    errors +=
        (errors.empty() ? "" : "; ") + sentinel.ToString() + ": " + primary.status().message();
  }
  return Status::Error("redis " + address.ToString() + ": no sentinel named the primary of " +
                       address.sentinel_master + " (" + errors + ")");
}

namespace {

// `host`'s first address for `port`, into `ip`: 0, or getaddrinfo's error. With `numeric_only`
// a name is not looked up (EAI_NONAME): that never blocks.
int ResolveHost(const std::string& host, uint16_t port, bool numeric_only, sockaddr_storage* ip) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV | (numeric_only ? AI_NUMERICHOST : 0);
  addrinfo* found = nullptr;
  const std::string service = std::to_string(port);
  if (int rc = getaddrinfo(host.c_str(), service.c_str(), &hints, &found); rc != 0) return rc;
  std::memcpy(ip, found->ai_addr, std::min<size_t>(found->ai_addrlen, sizeof(*ip)));
  freeaddrinfo(found);
  return 0;
}

}  // namespace

std::optional<RedisNode> NodeWithoutLookup(const RedisAddress& address) {
  if (address.via_sentinel()) return std::nullopt;
  RedisNode node{address, {}};
  if (!address.unix_path.empty() || ResolveHost(address.host, address.port, true, &node.ip) == 0) {
    return node;
  }
  return std::nullopt;
}

Result<RedisNode> LookUpNode(const RedisAddress& address) {
  RedisNode node{address, {}};
  if (address.via_sentinel()) {
    Result<RedisAddress> primary = ResolveSentinelPrimary(address);
    if (!primary.ok()) return primary.status();
    node.address = std::move(primary).value();
  }
  if (!node.address.unix_path.empty()) return node;
  if (int rc = ResolveHost(node.address.host, node.address.port, false, &node.ip); rc != 0) {
    return Status::Error("cannot resolve " + node.address.host + ": " + gai_strerror(rc));
  }
  return node;
}

struct RedisNodeLookup::Request {
  uv_work_t work;
  // Cleared (on the loop) when its lookup cancels it: the answer is then dropped, and this is
  // never followed to a lookup that is gone. The pool thread never reads it.
  RedisNodeLookup* owner;
  RedisAddress address;                                 // the question
  Result<RedisNode> node = Status::Error("no answer");  // the pool's answer
  bool out_of_memory = false;  // the pool thread's LookUpNode threw (it allocates, nothing else)
};

void RedisNodeLookup::Start(const RedisAddress& address, Done done) {
  Cancel();
  auto request = std::make_unique<Request>();
  request->work.data = request.get();
  request->owner = this;
  request->address = address;
  done_ = std::move(done);
  // Refused only for a null callback, which these are not; asserted rather than answered from
  // inside Start, where the caller does not expect `done`.
  [[maybe_unused]] int rc = uv_queue_work(loop_, &request->work, &RedisNodeLookup::LookUpOnPool,
                                          &RedisNodeLookup::AnswerOnLoop);
  assert(rc == 0);
  request_ = request.release();  // owned by its work request until AnswerOnLoop
}

void RedisNodeLookup::Cancel() {
  if (request_ == nullptr) return;
  request_->owner = nullptr;
  // Not begun yet: it never will be (AnswerOnLoop still runs, with UV_ECANCELED, and frees it).
  // Begun: it runs to its end, and AnswerOnLoop drops its answer.
  uv_cancel(reinterpret_cast<uv_req_t*>(&request_->work));
  request_ = nullptr;
  done_ = nullptr;
}

void RedisNodeLookup::LookUpOnPool(uv_work_t* work) {
  auto* request = static_cast<Request*>(work->data);
  // No exception may leave a callback of libuv's.
  try {
    request->node = LookUpNode(request->address);
  } catch (...) {
    request->out_of_memory = true;
  }
}

void RedisNodeLookup::AnswerOnLoop(uv_work_t* work, int status) {
  std::unique_ptr<Request> request(static_cast<Request*>(work->data));
  RedisNodeLookup* self = request->owner;
  if (self == nullptr) return;  // cancelled: nobody waits for this answer
  self->request_ = nullptr;
  // Moved out first: `done` may start the next lookup, or destroy this one.
  Done done = std::move(self->done_);
  try {
    if (status != 0 || request->out_of_memory) {
      done(Status::Error("redis " + request->address.ToString() + ": lookup failed: " +
                         (status != 0 ? uv_strerror(status) : "out of memory")));
    } else {
      done(std::move(request->node));
    }
  } catch (const std::exception& e) {
    spdlog::error("redis {}: after the lookup: {}", request->address.ToString(), e.what());
  } catch (...) {
    spdlog::error("redis {}: after the lookup: an exception", request->address.ToString());
  }
}

bool IsReadOnlyError(std::string_view error) { return error.substr(0, 9) == "READONLY "; }

bool IsSwitchOf(std::string_view channel, std::string_view message, std::string_view master,
                std::string* new_primary) {
  std::vector<std::string_view> w = Words(message);
  if (channel == "+switch-master") {
    // "<master> <old ip> <old port> <new ip> <new port>"
    if (w.size() != 5 || w[0] != master) return false;
    *new_primary = std::string(w[3]) + " " + std::string(w[4]);
    return true;
  }
  if (channel == "+promoted-slave") {
    // "slave <ip:port> <ip> <port> @ <master> <master ip> <master port>"
    if (w.size() != 8 || w[0] != "slave" || w[4] != "@" || w[5] != master) return false;
    *new_primary = std::string(w[2]) + " " + std::string(w[3]);
    return true;
  }
  return false;
}

uint64_t SentinelSwitches() { return sentinel_switches.load(std::memory_order_acquire); }

SentinelWatcher::SentinelWatcher(RedisAddress address)
    : address_(std::move(address)), thread_([this] { Run(); }) {}

SentinelWatcher::~SentinelWatcher() {
  stopping_ = true;
  thread_.join();
}

void SentinelWatcher::Run() {
  bool subscribed_before = false;
  while (!stopping_) {
    for (const RedisEndpoint& sentinel : address_.sentinels) {
      if (stopping_) return;
      // While no sentinel was listened to, a switch may have gone unheard: a new subscription
      // after the first counts as one, so that every connection checks its primary again.
      subscribed_before |= Watch(sentinel, subscribed_before);
    }
    for (int i = 0; i < 10 && !stopping_; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
}

bool SentinelWatcher::Watch(const RedisEndpoint& sentinel, bool count_the_subscription) {
  const timeval tv = Timeval(address_.sentinel_timeout);
  std::unique_ptr<redisContext, ContextFree> c(
      redisConnectWithTimeout(sentinel.host.c_str(), sentinel.port, tv));
  if (!c || c->err) {
    spdlog::warn("redis {}: sentinel {}: {}", address_.ToString(), sentinel.ToString(),
                 c ? c->errstr : "out of memory");
    return false;
  }
  redisSetTimeout(c.get(), tv);
  if (Status auth = Authenticate(c.get(), address_.sentinel_password); !auth.ok()) {
    spdlog::warn("redis {}: sentinel {}: {}", address_.ToString(), sentinel.ToString(),
                 auth.message());
    return false;
  }
  // +promoted-slave comes when the sentinels start naming the new primary (the replica has
  // taken the role), +switch-master at the end of the failover, when the old primary is told to
  // follow it: in between, the old one still takes writes that it drops when it does.
  std::unique_ptr<redisReply, ReplyFree> subscribed(
      static_cast<redisReply*>(redisCommand(c.get(), "SUBSCRIBE +promoted-slave +switch-master")));
  // The second subscription's confirmation follows the first's.
  void* second = nullptr;
  if (!subscribed || subscribed->type != REDIS_REPLY_ARRAY ||
      redisGetReply(c.get(), &second) != REDIS_OK) {
    spdlog::warn("redis {}: sentinel {}: SUBSCRIBE failed", address_.ToString(),
                 sentinel.ToString());
    return false;
  }
  freeReplyObject(second);
  if (count_the_subscription) CountSwitch();
  spdlog::debug("redis {}: listening to sentinel {} for failovers", address_.ToString(),
                sentinel.ToString());
  // The messages are read here, not with redisGetReply, so that a quiet sentinel is waited for
  // in bounded steps (a blocking read that times out leaves hiredis's context unusable).
  char buffer[4096];
  std::string last_promoted;
  while (!stopping_) {
    pollfd fd{c->fd, POLLIN, 0};
    int ready = poll(&fd, 1, static_cast<int>(kWatcherPollInterval.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;
    ssize_t n = ready > 0 ? recv(c->fd, buffer, sizeof(buffer), 0) : -1;
    if (n <= 0 || redisReaderFeed(c->reader, buffer, static_cast<size_t>(n)) != REDIS_OK) break;
    void* message = nullptr;
    while (redisReaderGetReply(c->reader, &message) == REDIS_OK && message) {
      std::unique_ptr<redisReply, ReplyFree> m(static_cast<redisReply*>(message));
      // ["message", "+switch-master", "<master> <old ip> <old port> <new ip> <new port>"]
      if (m->type != REDIS_REPLY_ARRAY || m->elements != 3 ||
          m->element[1]->type != REDIS_REPLY_STRING || m->element[2]->type != REDIS_REPLY_STRING) {
        continue;
      }
      std::string_view channel(m->element[1]->str, m->element[1]->len);
      std::string_view text(m->element[2]->str, m->element[2]->len);
      std::string promoted;
      if (!IsSwitchOf(channel, text, address_.sentinel_master, &promoted)) continue;
      // The end of a failover whose promotion was heard and counted already.
      if (channel == "+switch-master" && promoted == last_promoted) continue;
      if (channel == "+promoted-slave") last_promoted = promoted;
      CountSwitch();
      spdlog::info("redis {}: the sentinels moved the primary ({} {})", address_.ToString(),
                   channel, text);
    }
  }
  if (!stopping_) {
    spdlog::warn("redis {}: lost sentinel {}", address_.ToString(), sentinel.ToString());
  }
  return true;
}

}  // namespace postdesk
