#include "gateway/connection_limits.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace postdesk {
namespace {

using Verdict = ConnectionLimits::Verdict;

TEST(ConnectionLimits, PerClientLimitLeavesOtherClientsAlone) {
  ConnectionLimits limits(10, 2, 10);
  EXPECT_EQ(limits.Acquire("192.0.2.1"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("192.0.2.1"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("192.0.2.1"), Verdict::kClientFull);
  EXPECT_EQ(limits.Acquire("192.0.2.2"), Verdict::kAccepted);
  limits.Release("192.0.2.1");
  EXPECT_EQ(limits.Acquire("192.0.2.1"), Verdict::kAccepted);
  EXPECT_EQ(limits.total(), 3u);
}

TEST(ConnectionLimits, TotalLimitRefusesEveryone) {
  ConnectionLimits limits(2, 5, 2);
  EXPECT_EQ(limits.Acquire("a"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("b"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("c"), Verdict::kServerFull);
  limits.Release("a");
  EXPECT_EQ(limits.Acquire("c"), Verdict::kAccepted);
}

// Stress begins at stress_at connections and ends below it; the observer hears each change once.
TEST(ConnectionLimits, StressBeginsAtItsThresholdAndEndsBelowIt) {
  ConnectionLimits limits(10, 10, 3);
  std::vector<bool> heard;
  limits.SetStressObserver([&](bool stressed) { heard.push_back(stressed); });
  EXPECT_EQ(limits.Acquire("a"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("a"), Verdict::kAccepted);
  EXPECT_FALSE(limits.under_stress());
  EXPECT_EQ(limits.Acquire("b"), Verdict::kAccepted);
  EXPECT_TRUE(limits.under_stress());
  EXPECT_EQ(limits.Acquire("b"), Verdict::kAccepted);
  limits.Release("b");
  EXPECT_TRUE(limits.under_stress());
  limits.Release("b");
  EXPECT_FALSE(limits.under_stress());
  limits.Release("a");
  EXPECT_EQ(heard, (std::vector<bool>{true, false}));
  // A refused connection is not counted, so it cannot start the stress.
  ConnectionLimits full(1, 1, 1);
  EXPECT_EQ(full.Acquire("a"), Verdict::kAccepted);
  full.Release("a");
  EXPECT_EQ(full.Acquire("b"), Verdict::kAccepted);
  EXPECT_EQ(full.Acquire("c"), Verdict::kServerFull);
  full.Release("b");
  EXPECT_FALSE(full.under_stress());
}

TEST(ConnectionLimits, CountsStayExactUnderConcurrentLoops) {
  ConnectionLimits limits(100000, 100000, 100000);
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&limits, t] {
      std::string client = "10.0.0." + std::to_string(t % 2);
      for (int i = 0; i < 10000; ++i) {
        ASSERT_EQ(limits.Acquire(client), Verdict::kAccepted);
        limits.Release(client);
      }
      ASSERT_EQ(limits.Acquire(client), Verdict::kAccepted);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(limits.total(), 4u);
}

}  // namespace
}  // namespace postdesk
