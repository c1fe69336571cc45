#include "tools/blast/latency_histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace postdesk::blast {

// Bucket layout: values 0..127 have a bucket each. A value v >= 128 with its highest set bit at
// position m (m >= 7) is in group g = m - 6: its top 8 bits (128..255) pick one of the group's
// 128 buckets, each 2^(g-1) values wide. Group 1 (128..255) is therefore still exact, and the
// index formula below is continuous with the exact range.
size_t LatencyHistogram::BucketOf(uint64_t value) {
  if (value < kSubBuckets) return static_cast<size_t>(value);
  int highest_bit = 63 - std::countl_zero(value);
  int shift = highest_bit - kSubBucketBits;
  uint64_t top = value >> shift;  // in [kSubBuckets, 2 * kSubBuckets)
  return static_cast<size_t>((static_cast<uint64_t>(shift) + 1) * kSubBuckets +
                             (top - kSubBuckets));
}

uint64_t LatencyHistogram::BucketHighest(size_t bucket) {
  if (bucket < kSubBuckets) return bucket;
  uint64_t group = bucket / kSubBuckets;
  uint64_t sub = bucket % kSubBuckets;
  int shift = static_cast<int>(group) - 1;
  uint64_t lowest = (sub + kSubBuckets) << shift;
  return lowest + ((uint64_t{1} << shift) - 1);
}

void LatencyHistogram::Record(uint64_t value) {
  size_t bucket = BucketOf(value);
  if (bucket >= counts_.size()) counts_.resize(bucket + 1, 0);
  ++counts_[bucket];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += static_cast<double>(value);
}

void LatencyHistogram::Merge(const LatencyHistogram& other) {
  if (other.count_ == 0) return;
  if (other.counts_.size() > counts_.size()) counts_.resize(other.counts_.size(), 0);
  for (size_t i = 0; i < other.counts_.size(); ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

double LatencyHistogram::Mean() const {
  return count_ == 0 ? 0.0 : sum_ / static_cast<double>(count_);
}

uint64_t LatencyHistogram::Percentile(double percentile) const {
  if (count_ == 0) return 0;
  if (percentile <= 0) return min_;
  if (percentile >= 100) return max_;
  // Nearest rank: the ceil(p/100 * n)-th smallest sample (1-based). The small epsilon keeps
  // p99 of exactly 100 samples at rank 99 although 0.99 * 100 is 98.99999... in binary.
  double exact = percentile / 100.0 * static_cast<double>(count_);
  auto rank = static_cast<uint64_t>(std::ceil(exact - 1e-9));
  rank = std::clamp<uint64_t>(rank, 1, count_);
  uint64_t seen = 0;
  for (size_t i = 0; i < counts_.size(); ++i) {
    seen += counts_[i];
    if (seen >= rank) return std::clamp(BucketHighest(i), min_, max_);
  }
  return max_;  // unreachable: the counts add up to count_
}

}  // namespace postdesk::blast
