#include "gateway/metrics.h"

#include <charconv>
#include <cmath>

#include "parser/classifier.h"

namespace postdesk {
namespace {

// Prometheus data model: metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names
// [a-zA-Z_][a-zA-Z0-9_]* (names starting with "__" are reserved).
bool IsMetricName(std::string_view name, bool label) {
  if (name.empty()) return false;
  if (label && name.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool alpha =
        (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (!label && c == ':');
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Shortest text that reads back as the same double, without an exponent in the usual range
// ("0.0005", not "5e-04"); Prometheus spells the infinities +Inf and -Inf.
std::string FormatDouble(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  char buffer[64];
  double magnitude = std::fabs(value);
  auto format = (magnitude == 0 || (magnitude >= 1e-6 && magnitude < 1e15))
                    ? std::chars_format::fixed
                    : std::chars_format::general;
  auto [end, ec] = std::to_chars(buffer, buffer + sizeof(buffer), value, format);
  if (ec != std::errc()) return "NaN";
  return std::string(buffer, end);
}

// A thread's shard, chosen once: threads spread round robin, so two loops rarely share lines.
size_t ThisThreadShard() {
  static std::atomic<size_t> next{0};
  thread_local const size_t shard =
      next.fetch_add(1, std::memory_order_relaxed) % MetricsRegistry::kShards;
  return shard;
}

}  // namespace

struct MetricsRegistry::Series {
  std::string label_value;
  uint32_t slot = 0;         // sharded series
  uint64_t callback_id = 0;  // callback series
  std::function<double()> read;
};

struct MetricsRegistry::Family {
  std::string name;
  std::string help;
  std::string label;
  MetricType type = MetricType::kCounter;
  bool callback = false;
  std::vector<double> bounds;
  std::vector<uint64_t> bounds_ns;
  std::vector<Series> series;
};

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

MetricsRegistry::MetricsRegistry() : shards_(new Shard[kShards]) {}
MetricsRegistry::~MetricsRegistry() = default;

void MetricsRegistry::IncrementSlot(uint32_t slot, uint64_t n) const {
  shards_[ThisThreadShard()].slots[slot].fetch_add(n, std::memory_order_relaxed);
}

uint64_t MetricsRegistry::SumSlot(uint32_t slot) const {
  uint64_t sum = 0;  // wraps: gauges store signed deltas as two's complement
  for (size_t s = 0; s < kShards; ++s)
    sum += shards_[s].slots[slot].load(std::memory_order_relaxed);
  return sum;
}

void MetricsRegistry::Counter::Add(uint64_t n) const {
  if (registry_) registry_->IncrementSlot(slot_, n);
}

uint64_t MetricsRegistry::Counter::Value() const {
  return registry_ ? registry_->SumSlot(slot_) : 0;
}

void MetricsRegistry::Gauge::Add(int64_t delta) const {
  if (registry_) registry_->IncrementSlot(slot_, static_cast<uint64_t>(delta));
}

int64_t MetricsRegistry::Gauge::Value() const {
  return registry_ ? static_cast<int64_t>(registry_->SumSlot(slot_)) : 0;
}

void MetricsRegistry::Histogram::Observe(std::chrono::nanoseconds duration) const {
  if (!registry_) return;
  uint64_t ns = duration.count() > 0 ? static_cast<uint64_t>(duration.count()) : 0;
  size_t bucket = 0;
  while (bucket < bounds_ns_->size() && ns > (*bounds_ns_)[bucket]) ++bucket;
  registry_->IncrementSlot(slot_ + static_cast<uint32_t>(bucket), 1);
  registry_->IncrementSlot(slot_ + static_cast<uint32_t>(bounds_ns_->size() + 1), ns);
}

MetricsRegistry::HistogramSnapshot MetricsRegistry::Histogram::Snapshot() const {
  HistogramSnapshot snapshot;
  if (!registry_) return snapshot;
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_ns_->size(); ++i) {
    running += registry_->SumSlot(slot_ + static_cast<uint32_t>(i));
    snapshot.cumulative.push_back(running);
    if (i < bounds_ns_->size())
      snapshot.bounds.push_back(static_cast<double>((*bounds_ns_)[i]) / 1e9);
  }
  snapshot.count = running;
  snapshot.sum = static_cast<double>(
                     registry_->SumSlot(slot_ + static_cast<uint32_t>(bounds_ns_->size() + 1))) /
                 1e9;
  return snapshot;
}

MetricsRegistry::Registration::Registration(Registration&& other) noexcept
    : registry_(other.registry_), id_(other.id_) {
  other.registry_ = nullptr;
}

MetricsRegistry::Registration& MetricsRegistry::Registration::operator=(
    Registration&& other) noexcept {
  if (this != &other) {
    if (registry_) registry_->Remove(id_);
    registry_ = other.registry_;
    id_ = other.id_;
    other.registry_ = nullptr;
  }
  return *this;
}

MetricsRegistry::Registration::~Registration() {
  if (registry_) registry_->Remove(id_);
}

void MetricsRegistry::Fail(std::string message) {
  if (status_.ok()) status_ = Status::Error(std::move(message));
}

MetricsRegistry::Series* MetricsRegistry::AddSeries(std::string_view name, std::string_view help,
                                                    MetricType type, std::string_view label,
                                                    std::string_view label_value, size_t slots,
                                                    const std::vector<double>* bounds,
                                                    Family** out) {
  std::string what = "metric " + std::string(name);
  if (!IsMetricName(name, false)) return Fail(what + ": invalid name"), nullptr;
  if (!label.empty() &&
      (!IsMetricName(label, true) || (type == MetricType::kHistogram && label == "le"))) {
    return Fail(what + ": invalid label name \"" + std::string(label) + "\""), nullptr;
  }
  bool callback = slots == 0;
  Family* family = nullptr;
  for (auto& f : families_) {
    if (f->name == name) family = f.get();
  }
  if (family) {
    if (family->type != type || family->label != label || family->callback != callback ||
        (bounds && *bounds != family->bounds)) {
      return Fail(what + ": registered again with another type, label or buckets"), nullptr;
    }
    for (const Series& s : family->series) {
      if (label.empty() || s.label_value == label_value) {
        return Fail(what + ": series registered twice"), nullptr;
      }
    }
  }
  if (used_slots_ + slots > kMaxSlots) return Fail(what + ": the registry is full"), nullptr;
  if (!family) {
    auto created = std::make_unique<Family>();
    created->name = std::string(name);
    created->help = std::string(help);
    created->label = std::string(label);
    created->type = type;
    created->callback = callback;
    if (bounds) {
      created->bounds = *bounds;
      for (double b : *bounds)
        created->bounds_ns.push_back(static_cast<uint64_t>(std::llround(b * 1e9)));
    }
    family = created.get();
    families_.push_back(std::move(created));
  }
  Series series;
  series.label_value = label.empty() ? "" : std::string(label_value);
  series.slot = static_cast<uint32_t>(used_slots_);
  used_slots_ += slots;
  family->series.push_back(std::move(series));
  *out = family;
  return &family->series.back();
}

MetricsRegistry::Counter MetricsRegistry::AddCounter(std::string_view name, std::string_view help,
                                                     std::string_view label,
                                                     std::string_view label_value) {
  std::lock_guard<std::mutex> lock(mu_);
  Family* family = nullptr;
  Series* s = AddSeries(name, help, MetricType::kCounter, label, label_value, 1, nullptr, &family);
  return s ? Counter(this, s->slot) : Counter();
}

MetricsRegistry::Gauge MetricsRegistry::AddGauge(std::string_view name, std::string_view help,
                                                 std::string_view label,
                                                 std::string_view label_value) {
  std::lock_guard<std::mutex> lock(mu_);
  Family* family = nullptr;
  Series* s = AddSeries(name, help, MetricType::kGauge, label, label_value, 1, nullptr, &family);
  return s ? Gauge(this, s->slot) : Gauge();
}

MetricsRegistry::Histogram MetricsRegistry::AddHistogram(std::string_view name,
                                                         std::string_view help,
                                                         const std::vector<double>& bounds,
                                                         std::string_view label,
                                                         std::string_view label_value) {
  std::lock_guard<std::mutex> lock(mu_);
  bool ascending = !bounds.empty() && bounds.size() <= kMaxBuckets && bounds.front() > 0;
  for (size_t i = 1; i < bounds.size(); ++i) ascending = ascending && bounds[i] > bounds[i - 1];
  if (!ascending || !std::isfinite(bounds.back())) {
    Fail("metric " + std::string(name) + ": buckets must be 1 to 32 finite ascending bounds > 0");
    return Histogram();
  }
  Family* family = nullptr;
  Series* s = AddSeries(name, help, MetricType::kHistogram, label, label_value, bounds.size() + 2,
                        &bounds, &family);
  return s ? Histogram(this, s->slot, &family->bounds_ns) : Histogram();
}

MetricsRegistry::Registration MetricsRegistry::AddCallback(std::string_view name,
                                                           std::string_view help, MetricType type,
                                                           std::function<double()> read,
                                                           std::string_view label,
                                                           std::string_view label_value) {
  std::lock_guard<std::mutex> lock(mu_);
  if (type == MetricType::kHistogram || !read) {
    Fail("metric " + std::string(name) + ": a callback reads a counter or a gauge");
    return Registration();
  }
  Family* family = nullptr;
  Series* s = AddSeries(name, help, type, label, label_value, 0, nullptr, &family);
  if (!s) return Registration();
  s->callback_id = next_registration_++;
  s->read = std::move(read);
  return Registration(this, s->callback_id);
}

void MetricsRegistry::Remove(uint64_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  for (auto& family : families_) {
    auto& series = family->series;
    for (auto it = series.begin(); it != series.end(); ++it) {
      if (it->callback_id == id) {
        series.erase(it);
        return;
      }
    }
  }
}

Status MetricsRegistry::status() const {
  std::lock_guard<std::mutex> lock(mu_);
  return status_;
}

std::string MetricsRegistry::RenderPrometheus() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  for (const auto& family : families_) {
    if (family->series.empty()) continue;
    const std::string& name = family->name;
    out += "# HELP " + name + " " + EscapeHelp(family->help) + "\n";
    out += "# TYPE " + name + " " + TypeName(family->type) + "\n";
    for (const Series& s : family->series) {
      std::string label = family->label.empty()
                              ? std::string()
                              : family->label + "=\"" + EscapeLabelValue(s.label_value) + "\"";
      auto braces = [](const std::string& labels) {
        return labels.empty() ? labels : "{" + labels + "}";
      };
      if (family->callback) {
        out += name + braces(label) + " " + FormatDouble(s.read()) + "\n";
      } else if (family->type == MetricType::kCounter) {
        out += name + braces(label) + " " + std::to_string(SumSlot(s.slot)) + "\n";
      } else if (family->type == MetricType::kGauge) {
        out += name + braces(label) + " " + std::to_string(static_cast<int64_t>(SumSlot(s.slot))) +
               "\n";
      } else {
        Histogram histogram(this, s.slot, &family->bounds_ns);
        HistogramSnapshot snapshot = histogram.Snapshot();
        std::string prefix = label.empty() ? "" : label + ",";
        for (size_t i = 0; i < snapshot.cumulative.size(); ++i) {
          std::string le = i < family->bounds.size() ? FormatDouble(family->bounds[i]) : "+Inf";
          out += name + "_bucket{" + prefix + "le=\"" + le + "\"} " +
                 std::to_string(snapshot.cumulative[i]) + "\n";
        }
        out += name + "_sum" + braces(label) + " " + FormatDouble(snapshot.sum) + "\n";
        out += name + "_count" + braces(label) + " " + std::to_string(snapshot.count) + "\n";
      }
    }
  }
  return out;
}

std::string_view TransactionVerdictName(TransactionVerdict verdict) {
  switch (verdict) {
    case TransactionVerdict::kTicket:
      return "ticket";
    case TransactionVerdict::kComment:
      return "comment";
    case TransactionVerdict::kSuspended:
      return "suspended";
    case TransactionVerdict::kDuplicate:
      return "duplicate";
    case TransactionVerdict::kRefused:
      return "refused";
    case TransactionVerdict::kTempfail:
      return "tempfail";
  }
  return "?";
}

void GatewayMetrics::CountSuspended(std::string_view cause) const {
  for (const auto& [name, counter] : suspended) {
    if (name == cause) return counter.Add();
  }
  suspended.back().second.Add();  // "other"
}

namespace {

GatewayMetrics* BuildGatewayMetrics() {
  auto* m = new GatewayMetrics;
  MetricsRegistry& r = m->registry;
  m->connections = r.AddCounter("postdesk_connections_total", "SMTP connections accepted.");
  m->connections_open =
      r.AddGauge("postdesk_connections_open", "SMTP connections open now, refused ones included.");
  const char* refused = "Connections answered 421 4.7.0 for a connection limit.";
  m->refused_server_full =
      r.AddCounter("postdesk_connections_refused_total", refused, "reason", "server_full");
  m->refused_client_full =
      r.AddCounter("postdesk_connections_refused_total", refused, "reason", "client_full");
  m->proxy_header_errors = r.AddCounter(
      "postdesk_proxy_header_errors_total",
      "Connections from a proxy_protocol_from balancer closed for a missing or malformed PROXY "
      "header.");
  m->under_stress = r.AddGauge(
      "postdesk_under_stress",
      "1 while [limits] stress_connections or more connections are open (shorter timeouts).");
  m->stress_episodes =
      r.AddCounter("postdesk_stress_episodes_total", "Times the gateway came under stress.");
  for (size_t i = 0; i < kTransactionVerdicts; ++i) {
    m->transactions[i] = r.AddCounter(
        "postdesk_transactions_total",
        "Transactions that reached the end of DATA, by the reply to the final dot (several brands: "
        "the first brand's outcome).",
        "verdict", TransactionVerdictName(static_cast<TransactionVerdict>(i)));
  }
  std::vector<std::string> causes;
  for (int c = static_cast<int>(SuspensionCause::kLoop);
       c <= static_cast<int>(SuspensionCause::kAutoMailer); ++c) {
    causes.emplace_back(SuspensionCauseName(static_cast<SuspensionCause>(c)));
  }
  causes.emplace_back("other");
  for (const std::string& cause : causes) {
    m->suspended.emplace_back(
        cause, r.AddCounter("postdesk_suspended_total", "Messages suspended, by cause (per brand).",
                            "cause", cause));
  }
  const char* recipients = "RCPT TO commands with a valid address, by result.";
  m->recipients_accepted =
      r.AddCounter("postdesk_recipients_total", recipients, "result", "accepted");
  m->recipients_unknown =
      r.AddCounter("postdesk_recipients_total", recipients, "result", "unknown");
  m->recipients_over_limit =
      r.AddCounter("postdesk_recipients_total", recipients, "result", "over_limit");
  m->received_bytes =
      r.AddCounter("postdesk_received_bytes_total", "Message bytes received in DATA.");
  m->final_dot = r.AddHistogram(
      "postdesk_final_dot_seconds",
      "Time from the final dot to its reply, for messages handed to delivery.",
      {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10});
  m->redis_errors = r.AddCounter(
      "postdesk_redis_errors_total",
      "Messages Redis did not store: unavailable, connection lost, or an error reply (451 4.3.0).");
  m->redis_command = r.AddHistogram(
      "postdesk_redis_command_seconds", "Time from sending a message to Redis to its reply.",
      {0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5});
  m->redis_connections =
      r.AddGauge("postdesk_redis_connections", "Event loops whose Redis connection is up.");
  return m;
}

}  // namespace

GatewayMetrics& Metrics() {
  static GatewayMetrics* const metrics = BuildGatewayMetrics();
  return *metrics;
}

}  // namespace postdesk
