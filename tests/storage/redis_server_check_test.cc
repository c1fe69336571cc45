// CheckRedisServer against a real redis-server (the embedded one, its settings then changed with
// CONFIG SET as an operator's server might have them), and the INFO version parsing.
#include "storage/redis_server_check.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <filesystem>
#include <string>
#include <vector>

#include "storage/embedded_redis.h"
#include "tests/storage/embedded_redis_fixture.h"
#include "tests/temp_dir.h"

namespace postdesk {
namespace {

class RedisServerCheckTest : public EmbeddedRedisTest {
 protected:
  RedisServerCheckTest() : EmbeddedRedisTest("pd-check") {}

  static std::unique_ptr<RedisConnection> Connect(const RedisAddress& address) {
    Result<std::unique_ptr<RedisConnection>> c = RedisConnection::Connect(address);
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(c).value() : nullptr;
  }

  void Set(const char* name, const char* value) {
    RedisReplyPtr r = admin_->CommandArgv({"CONFIG", "SET", name, value});
    ASSERT_TRUE(r && r->str && std::string(r->str, r->len) == "OK") << name;
  }

  // The problems found, each cut to its first words (up to the ':').
  std::vector<std::string> Problems(RedisConnection& connection) {
    Result<std::vector<std::string>> problems = CheckRedisServer(connection);
    if (!problems.ok()) return {"failed: " + problems.status().message()};
    std::vector<std::string> heads;
    for (const std::string& p : problems.value()) heads.push_back(p.substr(0, p.find(':')));
    return heads;
  }
};

TEST_F(RedisServerCheckTest, EmbeddedServersSettingsKeepEveryAcknowledgedMessage) {
  EXPECT_EQ(Problems(*admin_), std::vector<std::string>{});
}

TEST_F(RedisServerCheckTest, EachSettingThatLosesMailIsNamed) {
  Set("appendfsync", "everysec");
  EXPECT_EQ(Problems(*admin_), std::vector<std::string>{"appendfsync is everysec"});
  Set("appendonly", "no");  // then appendfsync does not matter
  Set("maxmemory", "1gb");
  Set("maxmemory-policy", "allkeys-lru");
  EXPECT_EQ(Problems(*admin_), (std::vector<std::string>{"appendonly is no",
                                                         "maxmemory-policy is allkeys-lru with "
                                                         "maxmemory 1073741824 bytes"}));
  // Without a maxmemory, no policy evicts anything.
  Set("maxmemory", "0");
  EXPECT_EQ(Problems(*admin_), std::vector<std::string>{"appendonly is no"});
}

TEST_F(RedisServerCheckTest, ServerThatRefusesConfigSaysItCouldNotCheck) {
  // An ACL user without CONFIG, as managed Redis services give.
  RedisReplyPtr r = admin_->CommandArgv(
      {"ACL", "SETUSER", "app", "on", ">app-secret", "~*", "&*", "+@all", "-config"});
  ASSERT_TRUE(r && r->type != REDIS_REPLY_ERROR);
  RedisAddress address = redis_->address();
  address.username = "app";
  address.password = "app-secret";
  std::unique_ptr<RedisConnection> app = Connect(address);
  ASSERT_TRUE(app);
  Result<std::vector<std::string>> problems = CheckRedisServer(*app);
  ASSERT_TRUE(problems.ok()) << problems.status().message();
  ASSERT_EQ(problems->size(), 1u);
  EXPECT_EQ(problems->at(0).rfind("its durability settings could not be checked (CONFIG GET: "
                                  "NOPERM",
                                  0),
            0u)
      << problems->at(0);
}

TEST(EmbeddedRedisFsync, EverySecondWhenAskedIsWhatTheCheckFindsToo) {
  const std::string pattern = MakeTempDir("pd-fsync");
  {
    Result<std::unique_ptr<EmbeddedRedis>> redis =
        EmbeddedRedis::Start(pattern, EmbeddedFsync::kEverySecond);
    ASSERT_TRUE(redis.ok()) << redis.status().message();
    Result<std::unique_ptr<RedisConnection>> c = RedisConnection::Connect(redis.value()->address());
    ASSERT_TRUE(c.ok()) << c.status().message();
    RedisReplyPtr r = c.value()->CommandArgv({"CONFIG", "GET", "appendfsync"});
    ASSERT_TRUE(r && r->type == REDIS_REPLY_ARRAY && r->elements == 2);
    EXPECT_EQ(std::string(r->element[1]->str, r->element[1]->len), "everysec");
    Result<std::vector<std::string>> problems = CheckRedisServer(*c.value());
    ASSERT_TRUE(problems.ok());
    ASSERT_EQ(problems->size(), 1u);
    EXPECT_EQ(problems->at(0).rfind("appendfsync is everysec:", 0), 0u) << problems->at(0);
  }
  std::filesystem::remove_all(pattern);
}

TEST(RedisMajorVersion, ReadsTheServerSectionsVersionLine) {
  EXPECT_EQ(RedisMajorVersion("# Server\r\nredis_version:7.0.15\r\nredis_git_sha1:0\r\n"), 7);
  EXPECT_EQ(RedisMajorVersion("# Server\r\nredis_git_sha1:0\r\nredis_version:6.2.6\r\n"), 6);
  EXPECT_EQ(RedisMajorVersion("xredis_version:9.0\r\nredis_version:10.1"), 10);
  EXPECT_EQ(RedisMajorVersion("# Server\r\nredis_mode:standalone\r\n"), 0);
  EXPECT_EQ(RedisMajorVersion("redis_version:\r\n"), 0);
}

}  // namespace
}  // namespace postdesk
