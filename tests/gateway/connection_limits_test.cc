#include "gateway/connection_limits.h"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace postdesk {
namespace {

using Verdict = ConnectionLimits::Verdict;

TEST(ConnectionLimits, PerClientLimitLeavesOtherClientsAlone) {
  ConnectionLimits limits(10, 2);
  EXPECT_EQ(limits.Acquire("192.0.2.1"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("192.0.2.1"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("192.0.2.1"), Verdict::kClientFull);
  EXPECT_EQ(limits.Acquire("192.0.2.2"), Verdict::kAccepted);
  limits.Release("192.0.2.1");
  EXPECT_EQ(limits.Acquire("192.0.2.1"), Verdict::kAccepted);
  EXPECT_EQ(limits.total(), 3u);
}

TEST(ConnectionLimits, TotalLimitRefusesEveryone) {
  ConnectionLimits limits(2, 5);
  EXPECT_EQ(limits.Acquire("a"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("b"), Verdict::kAccepted);
  EXPECT_EQ(limits.Acquire("c"), Verdict::kServerFull);
  limits.Release("a");
  EXPECT_EQ(limits.Acquire("c"), Verdict::kAccepted);
}

TEST(ConnectionLimits, CountsStayExactUnderConcurrentLoops) {
  ConnectionLimits limits(100000, 100000);
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
