#include "gateway/metrics.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace postdesk {
namespace {

using std::chrono::microseconds;
using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(Metrics, CountersSumEveryThreadsUpdates) {
  MetricsRegistry registry;
  MetricsRegistry::Counter counter = registry.AddCounter("t_events_total", "Events.");
  std::vector<std::thread> threads;
  for (int t = 0; t < 24; ++t) {  // more threads than shards: some share one
    threads.emplace_back([counter] {
      for (int i = 0; i < 10000; ++i) counter.Add();
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(counter.Value(), 240000u);
  counter.Add(5);
  EXPECT_EQ(counter.Value(), 240005u);
}

TEST(Metrics, GaugesGoUpOnOneThreadAndDownOnAnother) {
  MetricsRegistry registry;
  MetricsRegistry::Gauge open = registry.AddGauge("t_open", "Open.");
  std::thread up([open] {
    for (int i = 0; i < 1000; ++i) open.Add(1);
  });
  up.join();
  std::thread down([open] {
    for (int i = 0; i < 1003; ++i) open.Add(-1);
  });
  down.join();
  EXPECT_EQ(open.Value(), -3);
  EXPECT_NE(registry.RenderPrometheus().find("t_open -3\n"), std::string::npos);
}

TEST(Metrics, ExpositionFormatHasHelpTypeAndEscapedLabels) {
  MetricsRegistry registry;
  MetricsRegistry::Counter a =
      registry.AddCounter("t_requests_total", "Requests, by \\ path\nand more.", "path", "/a");
  MetricsRegistry::Counter b =
      registry.AddCounter("t_requests_total", "ignored", "path", "quote\" back\\ nl\n");
  registry.AddGauge("t_plain", "No labels.");
  a.Add(3);
  b.Add();
  ASSERT_TRUE(registry.status().ok()) << registry.status().message();
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP t_requests_total Requests, by \\\\ path\\nand more.\n"
            "# TYPE t_requests_total counter\n"
            "t_requests_total{path=\"/a\"} 3\n"
            "t_requests_total{path=\"quote\\\" back\\\\ nl\\n\"} 1\n"
            "# HELP t_plain No labels.\n"
            "# TYPE t_plain gauge\n"
            "t_plain 0\n");
}

TEST(Metrics, HistogramBucketsAreCumulativeWithInfSumAndCount) {
  MetricsRegistry registry;
  MetricsRegistry::Histogram h =
      registry.AddHistogram("t_latency_seconds", "Latency.", {0.0005, 0.01, 1}, "op", "store");
  h.Observe(microseconds(300));  // <= 0.0005
  h.Observe(microseconds(500));  // exactly on a bound: le is inclusive
  h.Observe(milliseconds(2));    // <= 0.01
  h.Observe(seconds(20));        // past every bound: +Inf only
  MetricsRegistry::HistogramSnapshot snapshot = h.Snapshot();
  EXPECT_EQ(snapshot.cumulative, (std::vector<uint64_t>{2, 3, 3, 4}));
  EXPECT_EQ(snapshot.count, 4u);
  EXPECT_DOUBLE_EQ(snapshot.sum, 20.0028);
  EXPECT_EQ(registry.RenderPrometheus(),
            "# HELP t_latency_seconds Latency.\n"
            "# TYPE t_latency_seconds histogram\n"
            "t_latency_seconds_bucket{op=\"store\",le=\"0.0005\"} 2\n"
            "t_latency_seconds_bucket{op=\"store\",le=\"0.01\"} 3\n"
            "t_latency_seconds_bucket{op=\"store\",le=\"1\"} 3\n"
            "t_latency_seconds_bucket{op=\"store\",le=\"+Inf\"} 4\n"
            "t_latency_seconds_sum{op=\"store\"} 20.0028\n"
            "t_latency_seconds_count{op=\"store\"} 4\n");
}

TEST(Metrics, UnlabelledHistogramHasOnlyTheLeLabel) {
  MetricsRegistry registry;
  MetricsRegistry::Histogram h = registry.AddHistogram("t_h", "H.", {0.5});
  h.Observe(milliseconds(-5));  // a clock step back counts as zero, not as a huge value
  std::string text = registry.RenderPrometheus();
  EXPECT_NE(text.find("t_h_bucket{le=\"0.5\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_h_bucket{le=\"+Inf\"} 1\n"), std::string::npos) << text;
  EXPECT_NE(text.find("t_h_sum 0\nt_h_count 1\n"), std::string::npos) << text;
}

TEST(Metrics, CallbackSeriesAreReadAtScrapeTimeAndGoWithTheirRegistration) {
  MetricsRegistry registry;
  double value = 7;
  {
    MetricsRegistry::Registration r = registry.AddCallback(
        "t_queue_length", "Queue.", MetricType::kGauge, [&value] { return value; }, "queue", "q");
    EXPECT_NE(registry.RenderPrometheus().find("t_queue_length{queue=\"q\"} 7\n"),
              std::string::npos);
    value = 0.25;
    EXPECT_NE(registry.RenderPrometheus().find("t_queue_length{queue=\"q\"} 0.25\n"),
              std::string::npos);
    MetricsRegistry::Registration moved = std::move(r);
    EXPECT_NE(registry.RenderPrometheus().find("t_queue_length"), std::string::npos);
  }
  // No series left: the family, HELP and TYPE included, is not rendered.
  EXPECT_EQ(registry.RenderPrometheus(), "");
}

TEST(Metrics, BadRegistrationsAreRecordedAndGiveHandlesThatDoNothing) {
  MetricsRegistry registry;
  MetricsRegistry::Counter ok = registry.AddCounter("t_ok_total", "Ok.", "kind", "a");
  EXPECT_TRUE(registry.status().ok());
  MetricsRegistry::Counter bad_name = registry.AddCounter("1st-metric", "Bad.");
  bad_name.Add();
  EXPECT_EQ(bad_name.Value(), 0u);
  EXPECT_NE(registry.status().message().find("1st-metric: invalid name"), std::string::npos);

  MetricsRegistry other;
  other.AddCounter("t_x_total", "X.", "kind", "a");
  other.AddCounter("t_x_total", "X.", "kind", "a");  // the same series twice
  EXPECT_NE(other.status().message().find("series registered twice"), std::string::npos);

  MetricsRegistry conflicting;
  conflicting.AddCounter("t_y", "Y.");
  conflicting.AddGauge("t_y", "Y.");
  EXPECT_FALSE(conflicting.status().ok());

  MetricsRegistry labels;
  labels.AddHistogram("t_z_seconds", "Z.", {1}, "le", "x");  // "le" belongs to the buckets
  EXPECT_FALSE(labels.status().ok());
  MetricsRegistry reserved;
  reserved.AddCounter("t_w_total", "W.", "__name", "x");
  EXPECT_FALSE(reserved.status().ok());
  MetricsRegistry buckets;
  buckets.AddHistogram("t_v_seconds", "V.", {1, 0.5});  // not ascending
  EXPECT_FALSE(buckets.status().ok());
  (void)ok;
}

TEST(Metrics, TheRegistryIsBoundedAndSaysSoWhenFull) {
  MetricsRegistry registry;
  for (size_t i = 0; i < MetricsRegistry::kMaxSlots; ++i) {
    registry.AddCounter("t_many_total", "Many.", "n", std::to_string(i));
  }
  ASSERT_TRUE(registry.status().ok());
  MetricsRegistry::Counter one_more = registry.AddCounter("t_many_total", "Many.", "n", "last");
  one_more.Add();
  EXPECT_NE(registry.status().message().find("the registry is full"), std::string::npos);
  EXPECT_EQ(registry.RenderPrometheus().find("n=\"last\""), std::string::npos);
}

TEST(Metrics, TheProcessRegistryHasEveryGatewaySeries) {
  GatewayMetrics& m = Metrics();
  ASSERT_TRUE(m.registry.status().ok()) << m.registry.status().message();
  uint64_t before = m.transactions[static_cast<size_t>(TransactionVerdict::kSuspended)].Value();
  m.CountTransaction(TransactionVerdict::kSuspended);
  m.CountSuspended("auto_vacation");
  m.CountSuspended("not_a_cause_we_know");
  EXPECT_EQ(m.transactions[static_cast<size_t>(TransactionVerdict::kSuspended)].Value(),
            before + 1);
  std::string text = m.registry.RenderPrometheus();
  for (const char* name : {"# TYPE postdesk_connections_total counter",
                           "# TYPE postdesk_connections_open gauge",
                           "postdesk_connections_refused_total{reason=\"server_full\"}",
                           "postdesk_connections_refused_total{reason=\"client_full\"}",
                           "# TYPE postdesk_under_stress gauge",
                           "# TYPE postdesk_stress_episodes_total counter",
                           "# TYPE postdesk_proxy_header_errors_total counter",
                           "postdesk_transactions_total{verdict=\"ticket\"}",
                           "postdesk_transactions_total{verdict=\"comment\"}",
                           "postdesk_transactions_total{verdict=\"duplicate\"}",
                           "postdesk_transactions_total{verdict=\"refused\"}",
                           "postdesk_transactions_total{verdict=\"tempfail\"}",
                           "postdesk_suspended_total{cause=\"loop\"}",
                           "postdesk_suspended_total{cause=\"blocklisted\"}",
                           "postdesk_suspended_total{cause=\"other\"} ",
                           "postdesk_recipients_total{result=\"unknown\"}",
                           "# TYPE postdesk_received_bytes_total counter",
                           "postdesk_final_dot_seconds_bucket{le=\"0.0005\"}",
                           "postdesk_final_dot_seconds_bucket{le=\"10\"}",
                           "# TYPE postdesk_redis_errors_total counter",
                           "# TYPE postdesk_redis_command_seconds histogram",
                           "# TYPE postdesk_redis_connections gauge"}) {
    EXPECT_NE(text.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace postdesk
