// The parts of Redis Sentinel support that need no sentinel: its events and an unreachable
// sentinel. tests/integration/redis_sentinel_test.py runs the rest against a real primary,
// replica and sentinel, failovers included.
#include "storage/redis_sentinel.h"

#include <gtest/gtest.h>

#include <string>

namespace postdesk {
namespace {

TEST(SentinelEvents, PromotionAndSwitchOfOurMasterNameTheNewPrimary) {
  std::string primary;
  EXPECT_TRUE(IsSwitchOf("+promoted-slave",
                         "slave 10.0.0.2:6379 10.0.0.2 6379 @ pd-main 10.0.0.1 6379", "pd-main",
                         &primary));
  EXPECT_EQ(primary, "10.0.0.2 6379");
  EXPECT_TRUE(
      IsSwitchOf("+switch-master", "pd-main 10.0.0.1 6379 10.0.0.3 6380", "pd-main", &primary));
  EXPECT_EQ(primary, "10.0.0.3 6380");
}

TEST(SentinelEvents, OtherMastersAndMalformedEventsAreNoSwitch) {
  std::string primary = "unchanged";
  EXPECT_FALSE(
      IsSwitchOf("+switch-master", "other 10.0.0.1 6379 10.0.0.3 6380", "pd-main", &primary));
  EXPECT_FALSE(IsSwitchOf("+promoted-slave",
                          "slave 10.0.0.2:6379 10.0.0.2 6379 @ other 10.0.0.1 6379", "pd-main",
                          &primary));
  EXPECT_FALSE(IsSwitchOf("+switch-master", "pd-main 10.0.0.1 6379", "pd-main", &primary));
  EXPECT_FALSE(IsSwitchOf("+sdown", "master pd-main 10.0.0.1 6379", "pd-main", &primary));
  EXPECT_EQ(primary, "unchanged");
}

TEST(SentinelResolve, UnreachableSentinelsAreEachNamed) {
  Result<RedisAddress> address = ParseRedisUrl("redis-sentinel://127.0.0.1:1,127.0.0.1:2/pd");
  ASSERT_TRUE(address.ok());
  Result<RedisAddress> primary = ResolveSentinelPrimary(address.value());
  ASSERT_FALSE(primary.ok());
  EXPECT_EQ(primary.status().message(),
            "redis redis-sentinel://127.0.0.1:1,127.0.0.1:2/pd: no sentinel named the primary of "
            "pd (127.0.0.1:1: Connection refused; 127.0.0.1:2: Connection refused)");
}

TEST(SentinelReplies, ReadOnlyIsAReplicasAnswer) {
  EXPECT_TRUE(IsReadOnlyError("READONLY You can't write against a read only replica."));
  EXPECT_FALSE(IsReadOnlyError("MOVED 1 10.0.0.1:6379"));
}

}  // namespace
}  // namespace postdesk
