// Metrics: counters, gauges and histograms for Prometheus (design.md, "Operations"), and their
// text exposition format (version 0.0.4).
//
// A MetricsRegistry owns a fixed block of slots: kShards shards of kMaxSlots relaxed
// std::atomic<uint64_t>, each shard on its own cache lines. A thread picks its shard once (round
// robin), so the event loops, the parsing workers and the outbox thread update their own lines
// without a lock or a shared write; a scrape sums the shards. Handles (Counter, Gauge, Histogram)
// are small values, valid for the registry's lifetime, usable from any thread. Registration and
// rendering take the registry's mutex; updates never do.
//
// Label sets are fixed at registration: a series has at most one label, and its value comes
// from our code, never from a client. Registration does not fail loudly: a bad name, a
// conflicting family or a full registry gives a handle that does nothing and records the first
// such error in status(), which a test checks for the process registry.
//
// Callback series read a value at scrape time (a counter kept by another component, a gauge
// refreshed by a timer); the callback runs under the registry's mutex on the scraping thread and
// must neither block for long nor touch the registry.
#ifndef POSTDESK_GATEWAY_METRICS_H_
#define POSTDESK_GATEWAY_METRICS_H_

#include <array>
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "parser/result.h"

namespace postdesk {

enum class MetricType { kCounter, kGauge, kHistogram };

class MetricsRegistry {
 public:
  static constexpr size_t kShards = 16;
  static constexpr size_t kMaxSlots = 512;  // per shard; a histogram series takes buckets + 2
  static constexpr size_t kMaxBuckets = 32;

  class Counter {
   public:
    Counter() = default;  // does nothing
    void Add(uint64_t n = 1) const;
    uint64_t Value() const;

   private:
    friend class MetricsRegistry;
    Counter(const MetricsRegistry* registry, uint32_t slot) : registry_(registry), slot_(slot) {}
    const MetricsRegistry* registry_ = nullptr;
    uint32_t slot_ = 0;
  };

  // Goes up and down (open connections): shards hold signed deltas, summed at scrape time.
  class Gauge {
   public:
    Gauge() = default;
    void Add(int64_t delta) const;
    int64_t Value() const;

   private:
    friend class MetricsRegistry;
    Gauge(const MetricsRegistry* registry, uint32_t slot) : registry_(registry), slot_(slot) {}
    const MetricsRegistry* registry_ = nullptr;
    uint32_t slot_ = 0;
  };

  struct HistogramSnapshot {
    std::vector<double> bounds;        // upper bounds in seconds, ascending, without +Inf
    std::vector<uint64_t> cumulative;  // observations <= each bound, then the +Inf count
    uint64_t count = 0;
    double sum = 0;  // seconds
  };

  // Fixed buckets; the sum is kept in nanoseconds, so no floating point on the hot path.
  class Histogram {
   public:
    Histogram() = default;
    void Observe(std::chrono::nanoseconds duration) const;
    HistogramSnapshot Snapshot() const;

   private:
    friend class MetricsRegistry;
    Histogram(const MetricsRegistry* registry, uint32_t slot,
              const std::vector<uint64_t>* bounds_ns)
        : registry_(registry), slot_(slot), bounds_ns_(bounds_ns) {}
    const MetricsRegistry* registry_ = nullptr;
    uint32_t slot_ = 0;  // bucket counters (bounds + the +Inf bucket), then the sum
    const std::vector<uint64_t>* bounds_ns_ = nullptr;
  };

  // Removes its callback series when destroyed (so the callback may capture what it reads).
  class Registration {
   public:
    Registration() = default;
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    ~Registration();

   private:
    friend class MetricsRegistry;
    Registration(MetricsRegistry* registry, uint64_t id) : registry_(registry), id_(id) {}
    MetricsRegistry* registry_ = nullptr;
    uint64_t id_ = 0;
  };

  MetricsRegistry();
  ~MetricsRegistry();
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  // Each call adds one series to the family `name`, created on first use. An empty `label`
  // makes the family's only series. Series of one family share type, help, label name (and
  // buckets).
  Counter AddCounter(std::string_view name, std::string_view help, std::string_view label = {},
                     std::string_view label_value = {});
  Gauge AddGauge(std::string_view name, std::string_view help, std::string_view label = {},
                 std::string_view label_value = {});
  // `bounds` in seconds, ascending, at most kMaxBuckets; +Inf is implicit.
  Histogram AddHistogram(std::string_view name, std::string_view help,
                         const std::vector<double>& bounds, std::string_view label = {},
                         std::string_view label_value = {});
  Registration AddCallback(std::string_view name, std::string_view help, MetricType type,
                           std::function<double()> read, std::string_view label = {},
                           std::string_view label_value = {});

  // The first registration error, if any.
  Status status() const;

  // Every family with at least one series, in registration order, in the Prometheus text
  // format (Content-Type: text/plain; version=0.0.4).
  std::string RenderPrometheus() const;

 private:
  struct Series;
  struct Family;
  struct alignas(64) Shard {
    std::array<std::atomic<uint64_t>, kMaxSlots> slots{};
  };

  // Finds or creates the family and reserves `slots` slots for one more series; null on error.
  Series* AddSeries(std::string_view name, std::string_view help, MetricType type,
                    std::string_view label, std::string_view label_value, size_t slots,
                    const std::vector<double>* bounds, Family** family);
  void Fail(std::string message);  // mutex held
  void Remove(uint64_t id);
  void IncrementSlot(uint32_t slot, uint64_t n) const;
  uint64_t SumSlot(uint32_t slot) const;

  std::unique_ptr<Shard[]> shards_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<Family>> families_;
  size_t used_slots_ = 0;
  uint64_t next_registration_ = 1;
  Status status_;
};

// Prometheus text escaping: label values escape backslash, double quote and newline; help text
// escapes backslash and newline.
std::string EscapeLabelValue(std::string_view value);
std::string EscapeHelp(std::string_view help);

// What happened to a transaction at the end of DATA, for postdesk_transactions_total.
enum class TransactionVerdict { kTicket, kComment, kSuspended, kDuplicate, kRefused, kTempfail };
inline constexpr size_t kTransactionVerdicts = 6;
std::string_view TransactionVerdictName(TransactionVerdict verdict);

// The gateway's own series in the process registry (gateway/metrics.cc lists them with their
// help text). Built on first use; never destroyed, so threads still running at exit may update.
struct GatewayMetrics {
  MetricsRegistry registry;
  MetricsRegistry::Counter connections;
  MetricsRegistry::Gauge connections_open;
  MetricsRegistry::Counter refused_server_full;
  MetricsRegistry::Counter refused_client_full;
  // Connections from a [smtp] proxy_protocol_from balancer closed without a valid header.
  MetricsRegistry::Counter proxy_header_errors;
  MetricsRegistry::Gauge under_stress;  // 1 while at [limits] stress_connections or more
  MetricsRegistry::Counter stress_episodes;
  std::array<MetricsRegistry::Counter, kTransactionVerdicts> transactions;
  // By suspension cause; "other" for a cause this build does not know.
  std::vector<std::pair<std::string, MetricsRegistry::Counter>> suspended;
  MetricsRegistry::Counter recipients_accepted;
  MetricsRegistry::Counter recipients_unknown;
  MetricsRegistry::Counter recipients_over_limit;
  MetricsRegistry::Counter received_bytes;
  MetricsRegistry::Histogram final_dot;
  MetricsRegistry::Counter redis_errors;
  MetricsRegistry::Histogram redis_command;
  MetricsRegistry::Gauge redis_connections;

  void CountTransaction(TransactionVerdict verdict) const {
    transactions[static_cast<size_t>(verdict)].Add();
  }
  void CountSuspended(std::string_view cause) const;
};

GatewayMetrics& Metrics();

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_METRICS_H_
