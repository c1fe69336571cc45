// EmbeddedRedisTest: the gtest fixture of the storage tests that need a real Redis (design.md:
// "a real server in every test that touches storage, never a mock"): a redis-server started
// through EmbeddedRedis on a fresh temporary data_dir (AOF on, appendfsync always, as the
// gateway's), and `admin_`, a blocking connection to it for the test's own reads and writes.
//
// A test class derives from it, names its directory's prefix, and calls
// EmbeddedRedisTest::SetUp() first and EmbeddedRedisTest::TearDown() last from its own; a
// failure to start is a fatal failure of SetUp (check HasFatalFailure() after it). Tests that
// restart the server replace redis_; admin_ then still talks to the one that went.
// Runs on the test's thread.
#ifndef POSTDESK_TESTS_STORAGE_EMBEDDED_REDIS_FIXTURE_H_
#define POSTDESK_TESTS_STORAGE_EMBEDDED_REDIS_FIXTURE_H_

#include <gtest/gtest.h>

#include <filesystem>
#include <memory>
#include <string>

#include "storage/embedded_redis.h"
#include "storage/redis_connection.h"
#include "tests/temp_dir.h"

namespace postdesk {

class EmbeddedRedisTest : public ::testing::Test {
 protected:
  explicit EmbeddedRedisTest(std::string dir_prefix) : dir_prefix_(std::move(dir_prefix)) {}

  void SetUp() override {
    dir_ = MakeTempDir(dir_prefix_);
    Result<std::unique_ptr<EmbeddedRedis>> redis = EmbeddedRedis::Start(dir_);
    ASSERT_TRUE(redis.ok()) << redis.status().message();
    redis_ = std::move(redis).value();
    Result<std::unique_ptr<RedisConnection>> admin = RedisConnection::Connect(redis_->address());
    ASSERT_TRUE(admin.ok()) << admin.status().message();
    admin_ = std::move(admin).value();
  }

  void TearDown() override {
    admin_.reset();
    redis_.reset();
    if (!dir_.empty()) std::filesystem::remove_all(dir_);
  }

  std::string dir_;
  std::unique_ptr<EmbeddedRedis> redis_;
  std::unique_ptr<RedisConnection> admin_;

 private:
  const std::string dir_prefix_;
};

}  // namespace postdesk

#endif  // POSTDESK_TESTS_STORAGE_EMBEDDED_REDIS_FIXTURE_H_
