// OpsServer: what `[http] listen` serves (design.md, "Operations"): GET /metrics, the process
// metrics registry in the Prometheus text format, and GET /healthz, 200 "ok" only while Redis
// answers PING, else 503 with the reason (also 503 "draining" once SIGTERM began, so a load
// balancer stops sending mail here).
//
// Owns an HttpServer (its own loop and thread) and a Redis probe thread with its own blocking
// connection: once a second it sends PING (500 ms timeout) and reads the stream lengths and
// consumer-group backlogs (XLEN, XINFO GROUPS), and the endpoints answer from that cache, so
// neither a scrape nor a dead Redis ever blocks an SMTP loop or the HTTP loop. A probe result
// older than three seconds counts as down. Start/SetDraining/Stop are called from the main
// thread; Start fails when the address cannot be bound.
#ifndef POSTDESK_GATEWAY_OPS_SERVER_H_
#define POSTDESK_GATEWAY_OPS_SERVER_H_

#include <atomic>
#include <memory>
#include <vector>

#include "gateway/config.h"
#include "gateway/http_server.h"
#include "gateway/metrics.h"
#include "gateway/outbox_sender.h"
#include "parser/result.h"
#include "storage/redis_address.h"
#include "storage/trigger_workers.h"

namespace postdesk {

class OpsServer {
 public:
  // Serves `registry` (the process registry in `serve`), to which it adds the Redis gauges.
  static Result<std::unique_ptr<OpsServer>> Start(const ListenAddress& listen,
                                                  const RedisAddress& redis,
                                                  MetricsRegistry* registry);
  ~OpsServer();  // Stop()
  OpsServer(const OpsServer&) = delete;
  OpsServer& operator=(const OpsServer&) = delete;

  void SetDraining() { draining_ = true; }
  void Stop();
  uint16_t port() const { return http_->port(); }

 private:
  class Probe;
  OpsServer() = default;
  HttpResponse Health() const;

  std::unique_ptr<Probe> probe_;
  std::vector<MetricsRegistry::Registration> gauges_;
  std::unique_ptr<HttpServer> http_;
  std::atomic<bool> draining_{false};
};

// Counters that the outbox sender and the trigger workers keep themselves, as
// postdesk_notifications_total{outcome}, postdesk_targets_deactivated_total and
// postdesk_trigger_events_total, for as long as the registrations live (keep them shorter-lived
// than the counters). Null `triggers`: the workers run elsewhere (`postdesk workers`), 0 here.
std::vector<MetricsRegistry::Registration> ExportComponentMetrics(
    MetricsRegistry* registry, const OutboxCounters& outbox, const TriggerWorkerCounters* triggers);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_OPS_SERVER_H_
