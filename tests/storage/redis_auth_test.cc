// Redis AUTH from the [redis] url's credentials, against a real redis-server that requires a
// password (the embedded one, given requirepass and an ACL user once it runs): the blocking
// connection of the tools and workers, and the loops' TicketStore.
#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include <chrono>
#include <optional>
#include <string_view>

#include "storage/ticket_store.h"
#include "tests/storage/embedded_redis_fixture.h"
#include "tests/storage/run_loop_until.h"

namespace postdesk {
namespace {

constexpr const char* kPassword = "correct horse:battery@staple";
constexpr const char* kUser = "postdesk";
constexpr const char* kUserPassword = "acl-secret";

IngestRequest Request() {
  IngestRequest r;
  r.subject = "Printer on fire";
  r.description = "Hello";
  r.requester_email = "ann@customer.test";
  r.transaction = "1.1";
  NewTicketTarget target;
  target.brand = "acme";
  target.received_at = "support@acme.test";
  r.tickets = {target};
  r.raw = "Subject: Printer on fire\r\n\r\nHello\r\n";
  return r;
}

// admin_ is authenticated before requirepass is set.
class RedisAuthTest : public EmbeddedRedisTest {
 protected:
  RedisAuthTest() : EmbeddedRedisTest("pd-auth") {}
  void SetUp() override {
    uv_loop_init(&loop_);
    EmbeddedRedisTest::SetUp();
    if (HasFatalFailure()) return;
    // Its keys are the schema's only, as an operator who shares the Redis would grant them.
    ASSERT_EQ(
        Status(admin_->CommandArgv({"ACL", "SETUSER", kUser, "on", std::string(">") + kUserPassword,
                                    "~{pd}:*", "&*", "+@all"})),
        "OK");
    ASSERT_EQ(Status(admin_->CommandArgv({"CONFIG", "SET", "requirepass", kPassword})), "OK");
  }

  void TearDown() override {
    if (store_) {
      EXPECT_TRUE(CloseAndWait(&loop_, *store_));
      store_.reset();
    }
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
    EmbeddedRedisTest::TearDown();
  }

  // The reply's text: a status, an error or a bulk string.
  static std::string Status(const RedisReplyPtr& reply) {
    return reply && reply->str ? std::string(reply->str, reply->len) : "(no reply)";
  }

  RedisAddress Address(std::string username, std::string password) const {
    RedisAddress address = redis_->address();
    address.username = std::move(username);
    address.password = std::move(password);
    return address;
  }

  void StartStore(RedisAddress address) {
    store_ = std::make_unique<TicketStore>(&loop_, std::move(address));
    store_->SetStateObserver([this](bool connected) { ever_connected_ |= connected; });
    store_->Start();
  }

  // Ingest's error once the store has tried (and failed) at least once; "" when it stored.
  std::string IngestError() {
    std::optional<std::string> error;
    const IngestRequest request = Request();
    store_->Ingest(request, [&](const postdesk::Status& status, const auto&) {
      error = status.ok() ? "" : status.message();
    });
    EXPECT_TRUE(RunUntil(
        &loop_, [&] { return error.has_value(); }, std::chrono::seconds(5)));
    return error.value_or("timed out");
  }

  // Ingest's error once it names `reason`, that is once the store has tried the server at
  // least once; the last error seen when it never does.
  std::string IngestErrorOnceItNames(std::string_view reason) {
    std::string error;
    RunUntil(
        &loop_,
        [&] {
          error = IngestError();
          return error.find(reason) != std::string::npos;
        },
        std::chrono::seconds(5));
    return error;
  }

  uv_loop_t loop_;
  std::unique_ptr<TicketStore> store_;
  bool ever_connected_ = false;
};

TEST_F(RedisAuthTest, BlockingConnectSendsThePasswordOrFailsNamingRedisReason) {
  Result<std::unique_ptr<RedisConnection>> right = RedisConnection::Connect(Address("", kPassword));
  ASSERT_TRUE(right.ok()) << right.status().message();
  EXPECT_EQ(Status(right.value()->CommandArgv({"PING"})), "PONG");

  Result<std::unique_ptr<RedisConnection>> wrong =
      RedisConnection::Connect(Address("", "guessed-wrong"));
  ASSERT_FALSE(wrong.ok());
  const std::string& why = wrong.status().message();
  EXPECT_NE(why.find("AUTH: WRONGPASS"), std::string::npos) << why;
  EXPECT_NE(why.find("unix://:***@/"), std::string::npos) << why;
  EXPECT_EQ(why.find("guessed-wrong"), std::string::npos) << why;

  Result<std::unique_ptr<RedisConnection>> none = RedisConnection::Connect(redis_->address());
  ASSERT_TRUE(none.ok());  // nothing asked yet; the first command is refused
  EXPECT_EQ(Status(none.value()->CommandArgv({"PING"})).rfind("NOAUTH", 0), 0u);
}

TEST_F(RedisAuthTest, AclUserAuthenticatesAsItself) {
  Result<std::unique_ptr<RedisConnection>> c =
      RedisConnection::Connect(Address(kUser, kUserPassword));
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(Status(c.value()->CommandArgv({"ACL", "WHOAMI"})), kUser);
}

TEST_F(RedisAuthTest, TicketStoreWithTheRightCredentialsStoresATicket) {
  StartStore(Address(kUser, kUserPassword));
  ASSERT_TRUE(RunUntil(
      &loop_, [&] { return store_->connected(); }, std::chrono::seconds(5)));
  EXPECT_EQ(IngestError(), "");
  EXPECT_EQ(Status(admin_->CommandArgv({"HGET", "{pd}:ticket:1", "status"})), "new");
}

TEST_F(RedisAuthTest, TicketStoreWithAWrongPasswordNeverCountsAsConnectedAndSaysWhy) {
  StartStore(Address("", "guessed-wrong"));
  std::string error = IngestErrorOnceItNames("WRONGPASS");
  EXPECT_EQ(error.rfind("redis unavailable: AUTH: WRONGPASS", 0), 0u) << error;
  EXPECT_FALSE(ever_connected_);
  EXPECT_FALSE(store_->connected());
  EXPECT_EQ(admin_->CommandArgv({"EXISTS", "{pd}:ticket:1"})->integer, 0);

  // Once Redis takes that password (the operator fixed one side), the store connects by itself.
  ASSERT_EQ(Status(admin_->CommandArgv({"CONFIG", "SET", "requirepass", "guessed-wrong"})), "OK");
  ASSERT_TRUE(RunUntil(
      &loop_, [&] { return store_->connected(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(ever_connected_);
  EXPECT_EQ(IngestError(), "");
}

TEST_F(RedisAuthTest, MessageQueuedBehindARefusedPasswordHearsTheReason) {
  // Paused, Redis holds the store's AUTH unanswered while the message queues behind it.
  ASSERT_EQ(Status(admin_->CommandArgv({"CLIENT", "PAUSE", "1000", "ALL"})), "OK");
  StartStore(Address("", "guessed-wrong"));
  // Long enough for the unix socket's connect, far shorter than the pause.
  RunUntil(
      &loop_, [] { return false; }, std::chrono::milliseconds(200));
  ASSERT_FALSE(store_->connected());
  EXPECT_EQ(IngestError().rfind("redis unavailable: AUTH: WRONGPASS", 0), 0u);
  EXPECT_FALSE(ever_connected_);
  EXPECT_EQ(admin_->CommandArgv({"EXISTS", "{pd}:ticket:1"})->integer, 0);
}

TEST_F(RedisAuthTest, TicketStoreWithoutAPasswordNamesTheRefusedStep) {
  StartStore(redis_->address());
  std::string error = IngestErrorOnceItNames("NOAUTH");
  // The first step after AUTH, where a server that wants a password refuses all.
  EXPECT_EQ(error.rfind("redis unavailable: EXISTS: NOAUTH", 0), 0u) << error;
  EXPECT_FALSE(ever_connected_);
}

}  // namespace
}  // namespace postdesk
