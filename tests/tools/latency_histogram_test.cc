#include "tools/blast/latency_histogram.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <random>
#include <vector>

namespace postdesk::blast {
namespace {

constexpr uint64_t kMs = 1000000;  // nanoseconds

// The exact nearest-rank percentile of `samples`, for comparison.
uint64_t ExactPercentile(std::vector<uint64_t> samples, double percentile) {
  std::sort(samples.begin(), samples.end());
  auto rank = static_cast<size_t>(std::ceil(percentile / 100.0 * samples.size() - 1e-9));
  rank = std::clamp<size_t>(rank, 1, samples.size());
  return samples[rank - 1];
}

// A reported percentile is never below the true one and at most 1/128 above it.
void ExpectClose(uint64_t reported, uint64_t exact) {
  EXPECT_GE(reported, exact);
  EXPECT_LE(static_cast<double>(reported),
            static_cast<double>(exact) * (1.0 + 1.0 / LatencyHistogram::kSubBuckets) + 1)
      << "exact " << exact;
}

TEST(LatencyHistogram, EmptyReportsZeros) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.Percentile(50), 0u);
  EXPECT_EQ(h.Percentile(99.9), 0u);
  EXPECT_EQ(h.min(), 0u);
  EXPECT_EQ(h.max(), 0u);
  EXPECT_EQ(h.Mean(), 0.0);
}

TEST(LatencyHistogram, OneToAThousandMillisecondsGivesTheTextbookPercentiles) {
  LatencyHistogram h;
  std::vector<uint64_t> samples;
  for (uint64_t i = 1; i <= 1000; ++i) {
    h.Record(i * kMs);
    samples.push_back(i * kMs);
  }
  EXPECT_EQ(h.count(), 1000u);
  ExpectClose(h.Percentile(50), 500 * kMs);
  ExpectClose(h.Percentile(99), 990 * kMs);
  ExpectClose(h.Percentile(99.9), 999 * kMs);
  EXPECT_EQ(h.Percentile(100), 1000 * kMs);
  EXPECT_EQ(h.max(), 1000 * kMs);
  EXPECT_EQ(h.min(), 1 * kMs);
  EXPECT_NEAR(h.Mean(), 500.5 * kMs, 1);
}

TEST(LatencyHistogram, TheTailIsNotHiddenByTheBulk) {
  // 9,980 fast answers and 20 slow ones (0.2%): p99.9 must show the slow ones, p99 must not.
  LatencyHistogram h;
  for (int i = 0; i < 9980; ++i) h.Record(2 * kMs);
  for (int i = 0; i < 20; ++i) h.Record(400 * kMs);
  ExpectClose(h.Percentile(50), 2 * kMs);
  ExpectClose(h.Percentile(99), 2 * kMs);
  ExpectClose(h.Percentile(99.9), 400 * kMs);
  EXPECT_EQ(h.max(), 400 * kMs);
}

TEST(LatencyHistogram, RandomLatenciesStayWithinTheErrorBound) {
  std::mt19937_64 random(20260101);
  // Log-normal around 3 ms, like a store with an fsync behind it.
  std::lognormal_distribution<double> latency(std::log(3e6), 0.8);
  LatencyHistogram h;
  std::vector<uint64_t> samples;
  for (int i = 0; i < 100000; ++i) {
    auto v = static_cast<uint64_t>(latency(random));
    h.Record(v);
    samples.push_back(v);
  }
  for (double p : {1.0, 25.0, 50.0, 90.0, 99.0, 99.9, 99.99}) {
    SCOPED_TRACE(p);
    ExpectClose(h.Percentile(p), ExactPercentile(samples, p));
  }
  EXPECT_EQ(h.max(), *std::max_element(samples.begin(), samples.end()));
  EXPECT_EQ(h.min(), *std::min_element(samples.begin(), samples.end()));
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (uint64_t v = 0; v < 256; ++v)
    EXPECT_EQ(LatencyHistogram::BucketHighest(LatencyHistogram::BucketOf(v)), v);
  h.Record(7);
  h.Record(9);
  EXPECT_EQ(h.Percentile(50), 7u);
  EXPECT_EQ(h.Percentile(51), 9u);
}

TEST(LatencyHistogram, BucketsCoverEveryValueContiguously) {
  // Each bucket's range starts right after the previous one's, up to 2^64 - 1.
  size_t last = LatencyHistogram::BucketOf(UINT64_MAX);
  EXPECT_EQ(LatencyHistogram::BucketHighest(last), UINT64_MAX);
  for (size_t b = 1; b <= last; ++b) {
    uint64_t lowest = LatencyHistogram::BucketHighest(b - 1) + 1;
    ASSERT_EQ(LatencyHistogram::BucketOf(lowest), b) << "bucket " << b;
    ASSERT_EQ(LatencyHistogram::BucketOf(LatencyHistogram::BucketHighest(b)), b);
  }
  EXPECT_LT(last, 7424u);  // bounded memory whatever the samples
}

TEST(LatencyHistogram, MergingLoopsEqualsRecordingInOne) {
  LatencyHistogram a, b, all;
  for (uint64_t i = 1; i <= 5000; ++i) {
    uint64_t v = (i * 7919) % 20000 * 1000;
    (i % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(a.min(), all.min());
  EXPECT_EQ(a.max(), all.max());
  for (double p : {50.0, 99.0, 99.9}) EXPECT_EQ(a.Percentile(p), all.Percentile(p));
  LatencyHistogram empty;
  a.Merge(empty);
  EXPECT_EQ(a.count(), all.count());
  empty.Merge(all);
  EXPECT_EQ(empty.Percentile(99), all.Percentile(99));
}

}  // namespace
}  // namespace postdesk::blast
