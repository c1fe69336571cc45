// LatencyHistogram: the distribution of postdesk-blast's latencies (final dot to reply), in
// nanoseconds, as an HDR-style log-linear histogram: values below 128 are counted exactly, and
// every power of two above is split into 128 equal buckets, so a reported percentile is at most
// 1/128 (0.8%) above the true sample while memory stays bounded (at most 7,424 counters, 58 KiB,
// however many samples: ten million messages cost no more than ten).
//
// Owns its counters; no I/O, no allocation after the first sample of each new magnitude. Not
// thread-safe: each load loop records into its own histogram, and the histograms are merged
// (Merge) on the main thread once the loops have stopped. Nothing here fails or throws past
// std::bad_alloc.
#ifndef POSTDESK_TOOLS_BLAST_LATENCY_HISTOGRAM_H_
#define POSTDESK_TOOLS_BLAST_LATENCY_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace postdesk::blast {

class LatencyHistogram {
 public:
  // 2^kSubBucketBits buckets per power of two: the relative error bound is 2^-kSubBucketBits.
  static constexpr int kSubBucketBits = 7;
  static constexpr uint64_t kSubBuckets = uint64_t{1} << kSubBucketBits;

  void Record(uint64_t value);
  // Adds every sample of `other` (another loop's histogram) to this one.
  void Merge(const LatencyHistogram& other);

  uint64_t count() const { return count_; }
  // 0 when there is no sample.
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double Mean() const;

  // The nearest-rank percentile: the smallest recorded value such that at least `percentile`
  // percent of the samples are at or below it, reported as the highest value of its bucket
  // (so never below the true sample) and clamped to [min, max]. `percentile` is in (0, 100];
  // 0 or less gives min(), 100 or more gives max(). 0 when there is no sample.
  uint64_t Percentile(double percentile) const;

  // The bucket that counts `value`, and the highest value that bucket counts. Public for tests.
  static size_t BucketOf(uint64_t value);
  static uint64_t BucketHighest(size_t bucket);

 private:
  std::vector<uint64_t> counts_;  // grown to the highest bucket recorded so far
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // A double, not a uint64_t: ten million samples of an hour each (3.6e19 ns) overflow 64 bits,
  // and a mean needs no more than a double's 53-bit mantissa.
  double sum_ = 0;
};

}  // namespace postdesk::blast

#endif  // POSTDESK_TOOLS_BLAST_LATENCY_HISTOGRAM_H_
