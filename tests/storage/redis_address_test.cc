#include "storage/redis_address.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

TEST(RedisAddress, TcpUrlWithPortAndDatabase) {
  Result<RedisAddress> a = ParseRedisUrl("redis://10.0.0.5:6380/3");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->host, "10.0.0.5");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 3);
  EXPECT_EQ(a->ToString(), "redis://10.0.0.5:6380/3");
}

TEST(RedisAddress, DefaultsAndIpv6) {
  Result<RedisAddress> a = ParseRedisUrl("redis://cache.internal");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->port, 6379);
  EXPECT_EQ(a->db, 0);
  Result<RedisAddress> v6 = ParseRedisUrl("redis://[::1]:7000");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 7000);
}

TEST(RedisAddress, UnixSocket) {
  Result<RedisAddress> a = ParseRedisUrl("unix:///run/redis/redis.sock?db=2");
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(a->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(a->db, 2);
}

TEST(RedisAddress, BadUrlsSayWhy) {
  EXPECT_EQ(ParseRedisUrl("http://x").status().message(),
            "redis url: must start with redis://, unix:// or redis-sentinel://");
  EXPECT_EQ(ParseRedisUrl("redis://x:0").status().message(), "redis url: port must be 1-65535");
  EXPECT_EQ(ParseRedisUrl("redis://x/99").status().message(), "redis url: database must be 0-15");
  EXPECT_EQ(ParseRedisUrl("unix://relative.sock").status().message(),
            "redis url: unix:// needs an absolute socket path");
  EXPECT_FALSE(ParseRedisUrl("redis://").ok());
}

TEST(RedisAddress, SentinelUrlNamesItsSentinelsMasterAndDatabase) {
  Result<RedisAddress> a =
      ParseRedisUrl("redis-sentinel://:s%40cret@10.0.0.1,10.0.0.2:26380,[fd00::3]/pd-main/2");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_TRUE(a->via_sentinel());
  ASSERT_EQ(a->sentinels.size(), 3u);
  EXPECT_EQ(a->sentinels[0].host, "10.0.0.1");
  EXPECT_EQ(a->sentinels[0].port, 26379);  // Sentinel's port when none is given
  EXPECT_EQ(a->sentinels[1].port, 26380);
  EXPECT_EQ(a->sentinels[2].host, "fd00::3");
  EXPECT_EQ(a->sentinel_master, "pd-main");
  EXPECT_EQ(a->db, 2);
  EXPECT_EQ(a->password, "s@cret");  // the primary's, not the sentinels'
  EXPECT_EQ(a->ToString(),
            "redis-sentinel://:***@10.0.0.1:26379,10.0.0.2:26380,[fd00::3]:26379/pd-main/2");
  EXPECT_FALSE(ParseRedisUrl("redis://10.0.0.1")->via_sentinel());
}

TEST(RedisAddress, BadSentinelUrlsSayWhy) {
  EXPECT_EQ(ParseRedisUrl("redis-sentinel://10.0.0.1").status().message(),
            "redis url: redis-sentinel:// needs /master-name after the sentinels");
  EXPECT_EQ(ParseRedisUrl("redis-sentinel://10.0.0.1/").status().message(),
            "redis url: the master name must be 1-128 letters, digits, '-', '_', '.'");
  EXPECT_EQ(ParseRedisUrl("redis-sentinel://10.0.0.1/a b").status().message(),
            "redis url: the master name must be 1-128 letters, digits, '-', '_', '.'");
  EXPECT_EQ(ParseRedisUrl("redis-sentinel://10.0.0.1,/pd").status().message(),
            "redis url: missing host");
  EXPECT_EQ(ParseRedisUrl("redis-sentinel://10.0.0.1:0/pd").status().message(),
            "redis url: port must be 1-65535");
  EXPECT_EQ(ParseRedisUrl("redis-sentinel://10.0.0.1/pd/16").status().message(),
            "redis url: database must be 0-15");
}

TEST(RedisAddress, PasswordAloneIsForTheDefaultUserAndNeverPrinted) {
  Result<RedisAddress> a = ParseRedisUrl("redis://:s3cret@cache.internal:6380/2");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->username, "");
  EXPECT_EQ(a->password, "s3cret");
  EXPECT_EQ(a->host, "cache.internal");
  EXPECT_EQ(a->port, 6380);
  EXPECT_EQ(a->db, 2);
  EXPECT_EQ(a->ToString(), "redis://:***@cache.internal:6380/2");
}

TEST(RedisAddress, AclUserAndAPasswordWithEscapedAndBareSeparators) {
  // %40 = '@', %2F = '/', %3A = ':'; an unescaped ':' after the first and a bare '@' also hold.
  Result<RedisAddress> a = ParseRedisUrl("redis://postdesk:p%40ss%2Fw%3Ard:x@y@[::1]");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->username, "postdesk");
  EXPECT_EQ(a->password, "p@ss/w:rd:x@y");
  EXPECT_EQ(a->host, "::1");
  EXPECT_EQ(a->ToString(), "redis://postdesk:***@::1:6379");
}

TEST(RedisAddress, UnixSocketWithPassword) {
  Result<RedisAddress> a = ParseRedisUrl("unix://:pw@/run/redis/redis.sock?db=1");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->unix_path, "/run/redis/redis.sock");
  EXPECT_EQ(a->password, "pw");
  EXPECT_EQ(a->db, 1);
  EXPECT_EQ(a->ToString(), "unix://:***@/run/redis/redis.sock?db=1");
}

TEST(RedisAddress, UserAloneLeavesThePasswordToTheCaller) {
  Result<RedisAddress> a = ParseRedisUrl("redis://post%40desk@host:6380");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->username, "post@desk");
  EXPECT_EQ(a->password, "");
  EXPECT_EQ(a->port, 6380);
}

TEST(RedisAddress, BadCredentialsSayWhyWithoutThePassword) {
  EXPECT_EQ(ParseRedisUrl("redis://@host").status().message(),
            "redis url: credentials must be user:password@, :password@ or user@");
  EXPECT_EQ(ParseRedisUrl("redis://user:@host").status().message(),
            "redis url: the password is empty");
  std::string bad_escape = ParseRedisUrl("redis://:hunter%2@host").status().message();
  EXPECT_EQ(bad_escape, "redis url: '%' in the credentials must be followed by two hex digits");
  EXPECT_EQ(bad_escape.find("hunter"), std::string::npos);
  EXPECT_FALSE(ParseRedisUrl("redis://:pw%zz@host").ok());
}

// Redis Cluster's redirection (cluster spec, "MOVED Redirection"): the node that serves the slot,
// reached with the same credentials.
TEST(MovedTarget, NamesTheNodeThatServesTheSlotWithTheSameCredentials) {
  RedisAddress from;
  from.host = "10.0.0.5";
  from.port = 7000;
  from.username = "postdesk";
  from.password = "s3cret";
  std::optional<RedisAddress> to = MovedTarget("MOVED 3999 10.0.0.6:7001", from);
  ASSERT_TRUE(to.has_value());
  EXPECT_EQ(to->host, "10.0.0.6");
  EXPECT_EQ(to->port, 7001);
  EXPECT_EQ(to->username, "postdesk");
  EXPECT_EQ(to->password, "s3cret");
  // An IPv6 node, bracketed or not, and a node without an announced address (same host).
  EXPECT_EQ(MovedTarget("MOVED 1 ::1:7002", from)->host, "::1");
  EXPECT_EQ(MovedTarget("MOVED 1 [fd00::2]:7002", from)->host, "fd00::2");
  EXPECT_EQ(MovedTarget("MOVED 1 :7003", from)->host, "10.0.0.5");
  EXPECT_EQ(MovedTarget("MOVED 1 :7003", from)->port, 7003);
  // From a unix socket, to TCP.
  RedisAddress unix_from;
  unix_from.unix_path = "/run/redis.sock";
  to = MovedTarget("MOVED 5 127.0.0.1:7004", unix_from);
  ASSERT_TRUE(to.has_value());
  EXPECT_EQ(to->unix_path, "");
  EXPECT_EQ(to->host, "127.0.0.1");
  EXPECT_FALSE(MovedTarget("MOVED 1 :7003", unix_from).has_value());
}

TEST(MovedTarget, OtherErrorsAndMalformedRedirectionsAreNone) {
  RedisAddress from;
  from.host = "10.0.0.5";
  for (const char* error : {"ERR unknown command", "ASK 3999 10.0.0.6:7001", "MOVED", "MOVED 3999",
                            "MOVED 3999 10.0.0.6", "MOVED 3999 10.0.0.6:0",
                            "MOVED 3999 10.0.0.6:70000", "MOVED 3999 10.0.0.6:7001x",
                            "moved 3999 10.0.0.6:7001", "CLUSTERDOWN The cluster is down"}) {
    EXPECT_FALSE(MovedTarget(error, from).has_value()) << error;
  }
}

}  // namespace
}  // namespace postdesk
