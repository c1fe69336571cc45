#include "gateway/ops_server.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <limits>
#include <mutex>
#include <string>
#include <thread>

#include "gateway/log_text.h"
#include "storage/outbox_queue.h"
#include "storage/redis_connection.h"
#include "storage/redis_functions.h"
#include "storage/trigger_queue.h"

namespace postdesk {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr auto kProbeInterval = std::chrono::seconds(1);
constexpr auto kProbeTimeout = milliseconds(500);
constexpr auto kStale = std::chrono::seconds(3);
constexpr double kUnknown = std::numeric_limits<double>::quiet_NaN();

// pending + lag of `group` in an XINFO GROUPS reply (RESP2: a flat list of names and values per
// group); NaN when Redis cannot tell (lag is nil after deletions); the stream's length when the
// group does not exist yet (nobody has read anything).
double Backlog(const redisReply* groups, const char* group, double length) {
  if (!groups || groups->type != REDIS_REPLY_ARRAY) return length;
  for (size_t g = 0; g < groups->elements; ++g) {
    const redisReply* info = groups->element[g];
    if (info->type != REDIS_REPLY_ARRAY) continue;
    std::string name;
    double pending = kUnknown, lag = kUnknown;
    for (size_t i = 0; i + 1 < info->elements; i += 2) {
      const redisReply* key = info->element[i];
      const redisReply* value = info->element[i + 1];
      if (key->type != REDIS_REPLY_STRING) continue;
      std::string_view k(key->str, key->len);
      if (k == "name" && value->type == REDIS_REPLY_STRING) name.assign(value->str, value->len);
      if (k == "pending" && value->type == REDIS_REPLY_INTEGER) {
        pending = static_cast<double>(value->integer);
      }
      if (k == "lag" && value->type == REDIS_REPLY_INTEGER)
        lag = static_cast<double>(value->integer);
    }
    if (name == group) return pending + lag;  // NaN if either is unknown
  }
  return length;
}

}  // namespace

// The Redis probe: one thread, one blocking connection, one round a second.
class OpsServer::Probe {
 public:
  explicit Probe(RedisAddress address) : address_(std::move(address)) {}
  ~Probe() { Stop(); }

  void Start() {
    thread_ = std::thread([this] { Run(); });
  }
  void Stop() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  struct Snapshot {
    bool up = false;
    std::string reason;  // when down
    double events_length = kUnknown;
    double outbox_length = kUnknown;
    double events_backlog = kUnknown;
    double outbox_backlog = kUnknown;
  };

  // The last round's result; down (and unknown lengths) once it is older than kStale.
  Snapshot Get() const {
    std::lock_guard<std::mutex> lock(mu_);
    Snapshot s = last_;
    if (!answered_) {
      s.reason = "no answer from redis yet";
    } else if (up_ && Clock::now() - last_answer_ > kStale) {
      s = Snapshot();
      s.reason = "no answer from redis for 3 s";
    }
    return s;
  }

 private:
  void Run() {
    std::unique_ptr<RedisConnection> connection;
    while (true) {
      Round(&connection);
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock, kProbeInterval, [this] { return stopping_; })) return;
    }
  }

  void Round(std::unique_ptr<RedisConnection>* connection) {
    if (!*connection) {
      Result<std::unique_ptr<RedisConnection>> connected =
          RedisConnection::Connect(address_, kProbeTimeout);
      if (!connected.ok()) return Down(connected.status().message());
      *connection = std::move(connected).value();
    }
    RedisConnection& redis = **connection;
    RedisReplyPtr pong = redis.Command("PING");
    if (!pong) {
      Down(redis.LastError());
      connection->reset();  // a blocking hiredis context is unusable after an error
      return;
    }
    if (pong->type != REDIS_REPLY_STATUS || std::string_view(pong->str, pong->len) != "PONG") {
      // LOADING, MISCONF...: Redis is there but cannot serve.
      return Down("redis " + address_.ToString() + ": PING: " +
                  EscapeForLog(std::string_view(pong->str ? pong->str : "", pong->len), 200));
    }
    double lengths[2] = {kUnknown, kUnknown};
    double backlogs[2] = {kUnknown, kUnknown};
    const char* streams[2] = {kEventsStream, kOutboxStream};
    const char* groups[2] = {kTriggerGroup, kOutboxGroup};
    for (int i = 0; i < 2; ++i) {
      RedisReplyPtr length = redis.Command("XLEN %s", streams[i]);
      RedisReplyPtr info = length ? redis.Command("XINFO GROUPS %s", streams[i]) : nullptr;
      if (!length || !info) {
        Down(redis.LastError());
        connection->reset();
        return;
      }
      if (length->type == REDIS_REPLY_INTEGER) lengths[i] = static_cast<double>(length->integer);
      backlogs[i] = Backlog(info.get(), groups[i], lengths[i]);
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (answered_ && !up_) spdlog::info("health: redis {} answers again", address_.ToString());
    answered_ = up_ = true;
    last_answer_ = Clock::now();
    last_ = Snapshot{true, "", lengths[0], lengths[1], backlogs[0], backlogs[1]};
  }

  void Down(const std::string& reason) {
    std::lock_guard<std::mutex> lock(mu_);
    if (up_) spdlog::warn("health: {}", reason);
    answered_ = true;
    up_ = false;
    last_ = Snapshot();
    last_.reason = reason;
  }

  const RedisAddress address_;
  mutable std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool answered_ = false;  // a round has finished
  bool up_ = false;
  Clock::time_point last_answer_;
  Snapshot last_;
  std::thread thread_;
};

Result<std::unique_ptr<OpsServer>> OpsServer::Start(const ListenAddress& listen,
                                                    const RedisAddress& redis,
                                                    MetricsRegistry* registry) {
  auto ops = std::unique_ptr<OpsServer>(new OpsServer);
  ops->probe_ = std::make_unique<Probe>(redis);
  Probe* probe = ops->probe_.get();
  OpsServer* self = ops.get();
  ops->gauges_.push_back(registry->AddCallback(
      "postdesk_redis_up", "1 while Redis answers the health probe's PING, else 0.",
      MetricType::kGauge, [probe] { return probe->Get().up ? 1.0 : 0.0; }));
  ops->gauges_.push_back(registry->AddCallback(
      "postdesk_events_stream_length",
      "Entries in the {pd}:events stream (XLEN: processed ones included, capped near 1,000,000).",
      MetricType::kGauge, [probe] { return probe->Get().events_length; }));
  ops->gauges_.push_back(registry->AddCallback(
      "postdesk_outbox_length",
      "Entries in the {pd}:outbox notification stream (XLEN: sent ones included).",
      MetricType::kGauge, [probe] { return probe->Get().outbox_length; }));
  const char* backlog =
      "Stream entries not yet done by their consumer group: pending plus not yet read.";
  ops->gauges_.push_back(registry->AddCallback(
      "postdesk_stream_backlog", backlog, MetricType::kGauge,
      [probe] { return probe->Get().events_backlog; }, "stream", "events"));
  ops->gauges_.push_back(registry->AddCallback(
      "postdesk_stream_backlog", backlog, MetricType::kGauge,
      [probe] { return probe->Get().outbox_backlog; }, "stream", "outbox"));

  HttpServer::Options options;
  options.listen = listen;
  std::map<std::string, HttpServer::Handler> routes;
  routes["/metrics"] = [registry](const HttpRequest&) {
    return HttpResponse{200, "text/plain; version=0.0.4; charset=utf-8",
                        registry->RenderPrometheus()};
  };
  routes["/healthz"] = [self](const HttpRequest&) { return self->Health(); };
  probe->Start();  // before the first request: /healthz says "no answer yet" until it answers
  Result<std::unique_ptr<HttpServer>> http = HttpServer::Start(options, std::move(routes));
  if (!http.ok()) return http.status();  // ~OpsServer stops the probe
  ops->http_ = std::move(http).value();
  spdlog::info("http: metrics and health on http://{}:{}/ (/metrics, /healthz)",
               listen.host.find(':') == std::string::npos ? listen.host : "[" + listen.host + "]",
               ops->http_->port());
  return ops;
}

OpsServer::~OpsServer() { Stop(); }

void OpsServer::Stop() {
  if (http_) http_->Stop();  // no handler runs after this
  gauges_.clear();           // before the probe they read goes
  if (probe_) probe_->Stop();
}

HttpResponse OpsServer::Health() const {
  if (draining_) return {503, "text/plain; charset=utf-8", "draining\n"};
  Probe::Snapshot redis = probe_->Get();
  if (!redis.up) return {503, "text/plain; charset=utf-8", redis.reason + "\n"};
  return {200, "text/plain; charset=utf-8", "ok\n"};
}

std::vector<MetricsRegistry::Registration> ExportComponentMetrics(
    MetricsRegistry* registry, const OutboxCounters& outbox,
    const TriggerWorkerCounters* triggers) {
  std::vector<MetricsRegistry::Registration> out;
  const char* help =
      "Notifications: sent (relay 250 or file written), retried (temporary failure), failed "
      "(permanent, recorded on the ticket), dropped (recipient suppressed or nothing to send).";
  struct Outcome {
    const char* name;
    const std::atomic<uint64_t>* counter;
  };
  for (Outcome o : {Outcome{"sent", &outbox.delivered}, Outcome{"retried", &outbox.deferred},
                    Outcome{"failed", &outbox.failed}, Outcome{"dropped", &outbox.suppressed}}) {
    const std::atomic<uint64_t>* counter = o.counter;
    out.push_back(registry->AddCallback(
        "postdesk_notifications_total", help, MetricType::kCounter,
        [counter] { return static_cast<double>(counter->load(std::memory_order_relaxed)); },
        "outcome", o.name));
  }
  const std::atomic<uint64_t>* alerts = &outbox.alerts;
  out.push_back(registry->AddCallback(
      "postdesk_targets_deactivated_total",
      "Email targets deactivated after target_failure_limit consecutive failures.",
      MetricType::kCounter,
      [alerts] { return static_cast<double>(alerts->load(std::memory_order_relaxed)); }));
  const std::atomic<uint64_t>* events = triggers ? &triggers->events : nullptr;
  out.push_back(registry->AddCallback(
      "postdesk_trigger_events_total",
      "Ticket events the trigger workers of this process processed.", MetricType::kCounter,
      [events] {
        return events ? static_cast<double>(events->load(std::memory_order_relaxed)) : 0.0;
      }));
  return out;
}

}  // namespace postdesk
