// OutboxQueue against a real redis-server (EmbeddedRedis in a temporary data_dir): a write that
// Redis refuses is an error for the sender, never a notification or record taken for stored.
#include "storage/outbox_queue.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include "tests/storage/embedded_redis_fixture.h"

namespace postdesk {
namespace {

class OutboxQueueTest : public EmbeddedRedisTest {
 protected:
  OutboxQueueTest() : EmbeddedRedisTest("pd-outbox") {}
  void SetUp() override {
    EmbeddedRedisTest::SetUp();
    if (HasFatalFailure()) return;
    Result<std::unique_ptr<OutboxQueue>> queue = OutboxQueue::Connect(redis_->address(), "t/0");
    ASSERT_TRUE(queue.ok()) << queue.status().message();
    queue_ = std::move(queue).value();
  }
  void TearDown() override {
    queue_.reset();
    EmbeddedRedisTest::TearDown();
  }
  // Puts a string where the queue expects a stream, list or hash: Redis answers WRONGTYPE.
  void Occupy(const std::string& key) {
    admin_->CommandArgv({"DEL", key});
    admin_->CommandArgv({"SET", key, "not what the queue expects"});
  }

  std::unique_ptr<OutboxQueue> queue_;
};

TEST_F(OutboxQueueTest, WritesThatRedisAcceptsAreStored) {
  ASSERT_TRUE(queue_->Enqueue({{"recipient", "admin@acme.test"}, {"subject", "alert"}}).ok());
  ASSERT_TRUE(queue_->RecordOnTicket("7", {{"to", "ann@customer.test"}}).ok());
  ASSERT_TRUE(queue_->SetTargetActive("ops", false).ok());
  EXPECT_EQ(admin_->CommandArgv({"XLEN", "{pd}:outbox"})->integer, 1);
  EXPECT_EQ(admin_->CommandArgv({"LLEN", "{pd}:ticket:7:audit"})->integer, 1);
  EXPECT_STREQ(admin_->CommandArgv({"HGET", "{pd}:target:ops", "active"})->str, "0");
}

TEST_F(OutboxQueueTest, RefusedWritesAreErrorsNamingTheCommand) {
  Occupy("{pd}:outbox");
  Status queued = queue_->Enqueue({{"recipient", "admin@acme.test"}});
  ASSERT_FALSE(queued.ok());
  EXPECT_EQ(queued.message().rfind("redis: XADD outbox: WRONGTYPE", 0), 0u) << queued.message();
  Occupy("{pd}:ticket:7:audit");
  Status recorded = queue_->RecordOnTicket("7", {{"to", "ann@customer.test"}});
  ASSERT_FALSE(recorded.ok());
  EXPECT_EQ(recorded.message().rfind("redis: RPUSH audit: WRONGTYPE", 0), 0u);
  Occupy("{pd}:target:ops");
  Status set = queue_->SetTargetActive("ops", true);
  ASSERT_FALSE(set.ok());
  EXPECT_EQ(set.message().rfind("redis: HSET target: WRONGTYPE", 0), 0u);
}

}  // namespace
}  // namespace postdesk
