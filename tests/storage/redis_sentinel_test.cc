// The parts of Redis Sentinel support that need no real sentinel: its events, an unreachable
// sentinel, and one that takes connections and never answers, which a loop's store asks off its
// loop (RedisNodeLookup). tests/integration/redis_sentinel_test.py runs the rest against a real
// primary, replica and sentinel, failovers included.
#include "storage/redis_sentinel.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "storage/ticket_store.h"
#include "tests/storage/run_loop_until.h"

namespace postdesk {
namespace {

using std::chrono::seconds;

// A TCP listener on 127.0.0.1 that answers nobody: the kernel completes each handshake, and a
// client's question waits unread until the client gives up. Connections it took are held open
// on our side until the end of the test, so that one the client has not closed is a question
// still waiting for its answer.
class SilentServer {
 public:
  SilentServer() {
    listener_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(addr);
    // Port 0, kept bound: the kernel's port is ours for the whole test.
    if (bind(listener_, reinterpret_cast<sockaddr*>(&addr), len) != 0 ||
        listen(listener_, 16) != 0 ||
        getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      ADD_FAILURE() << "no listener";
    }
    port_ = ntohs(addr.sin_port);
  }
  ~SilentServer() {
    for (int fd : taken_) close(fd);
    close(listener_);
  }

  std::string endpoint() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

  // A connection that came, or -1 when none is waiting; never blocks.
  int Take() {
    pollfd p{listener_, POLLIN, 0};
    if (poll(&p, 1, 0) != 1) return -1;
    int fd = accept4(listener_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd >= 0) taken_.push_back(fd);
    return fd;
  }

  static bool ClosedByClient(int fd) {
    pollfd p{fd, POLLRDHUP, 0};
    return poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
  }

 private:
  int listener_ = -1;
  uint16_t port_ = 0;
  std::vector<int> taken_;
};

// A sentinel that names `primary` to whoever asks (any question gets that answer).
class AnsweringSentinel : public SilentServer {
 public:
  explicit AnsweringSentinel(const SilentServer& primary) : primary_port_(primary.port()) {}
  // Answers a question that came; call it while the loop and the pool wait.
  void Serve() {
    if (int fd = Take(); fd >= 0) {
      char question[512];
      if (read(fd, question, sizeof(question)) <= 0) return;
      const std::string port = std::to_string(primary_port_);
      const std::string answer =
          "*2\r\n$9\r\n127.0.0.1\r\n$" + std::to_string(port.size()) + "\r\n" + port + "\r\n";
      EXPECT_EQ(write(fd, answer.data(), answer.size()), static_cast<ssize_t>(answer.size()));
    }
  }

 private:
  uint16_t primary_port_;
};

RedisAddress SentinelUrl(const std::vector<std::string>& sentinels) {
  std::string url = "redis-sentinel://";
  for (const std::string& s : sentinels) url += (url.back() == '/' ? "" : ",") + s;
  Result<RedisAddress> address = ParseRedisUrl(url + "/pd");
  EXPECT_TRUE(address.ok()) << address.status().message();
  return address.ok() ? address.value() : RedisAddress{};
}

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

TEST(NodeWithoutLookup, UnixSocketsAndIpAddressesNeedNoLookup) {
  EXPECT_TRUE(NodeWithoutLookup(ParseRedisUrl("unix:///run/redis.sock").value()));
  EXPECT_TRUE(NodeWithoutLookup(ParseRedisUrl("redis://10.0.0.1:6379").value()));
  EXPECT_TRUE(NodeWithoutLookup(ParseRedisUrl("redis://[::1]:6379").value()));
  EXPECT_FALSE(NodeWithoutLookup(ParseRedisUrl("redis://redis.internal:6379").value()));
  EXPECT_FALSE(NodeWithoutLookup(ParseRedisUrl("redis-sentinel://10.0.0.1/pd").value()));
}

// A sentinel that never answers holds every lookup until the lookup's own timeout: the loop
// goes on meanwhile, and whatever gives up on the lookup (Close, destruction) is not held.
class StuckSentinelTest : public ::testing::Test {
 protected:
  StuckSentinelTest() { uv_loop_init(&loop_); }
  ~StuckSentinelTest() override {
    // Returns once the pool has handed back every lookup, answered or dropped.
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0);
  }

  // The connection of the lookup that asks `server`, once it came.
  int QuestionTo(SilentServer& server) {
    int fd = -1;
    EXPECT_TRUE(RunUntil(
        &loop_, [&] { return (fd = server.Take()) >= 0; }, seconds(10)));
    return fd;
  }

  uv_loop_t loop_;
  SilentServer stuck_;
};

TEST_F(StuckSentinelTest, LookupWaitsOnThePoolAndAnswersOnTheLoop) {
  RedisNodeLookup lookup(&loop_);
  std::optional<Result<RedisNode>> answer;
  lookup.Start(SentinelUrl({stuck_.endpoint(), "127.0.0.1:1"}),
               [&](Result<RedisNode> node) { answer.emplace(std::move(node)); });
  // The loop runs while the stuck sentinel holds the question.
  int question = QuestionTo(stuck_);
  ASSERT_GE(question, 0);
  EXPECT_FALSE(answer.has_value());
  EXPECT_FALSE(SilentServer::ClosedByClient(question));
  EXPECT_TRUE(lookup.in_flight());
  ASSERT_TRUE(RunUntil(
      &loop_, [&] { return answer.has_value(); }, seconds(10)));
  ASSERT_FALSE(answer->ok());
  EXPECT_NE(answer->status().message().find(stuck_.endpoint() + ": "), std::string::npos);
  EXPECT_NE(answer->status().message().find("127.0.0.1:1: Connection refused"), std::string::npos)
      << answer->status().message();
  EXPECT_TRUE(SilentServer::ClosedByClient(question));
  EXPECT_FALSE(lookup.in_flight());
}

TEST_F(StuckSentinelTest, CancelledOrDestroyedLookupNeverAnswers) {
  bool answered = false;
  RedisNodeLookup cancelled(&loop_);
  auto destroyed = std::make_unique<RedisNodeLookup>(&loop_);
  cancelled.Start(SentinelUrl({stuck_.endpoint()}), [&](Result<RedisNode>) { answered = true; });
  destroyed->Start(SentinelUrl({stuck_.endpoint()}), [&](Result<RedisNode>) { answered = true; });
  ASSERT_GE(QuestionTo(stuck_), 0);
  ASSERT_GE(QuestionTo(stuck_), 0);
  cancelled.Cancel();
  destroyed.reset();
  EXPECT_FALSE(cancelled.in_flight());
  uv_run(&loop_, UV_RUN_DEFAULT);  // until the pool hands both back
  EXPECT_FALSE(answered);
}

TEST_F(StuckSentinelTest, StoreServesItsLoopWhileAskingThenConnectsToTheNodeNamed) {
  SilentServer primary;
  AnsweringSentinel live(primary);
  TicketStore store(&loop_, SentinelUrl({stuck_.endpoint(), live.endpoint()}));
  store.Start();
  // Start returned before the stuck sentinel gave up; a message meanwhile hears at once that
  // Redis is unavailable.
  int question = QuestionTo(stuck_);
  ASSERT_GE(question, 0);
  std::optional<Status> stored;
  IngestRequest request;
  store.Ingest(request, [&](const Status& status, const auto&) { stored = status; });
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(stored->message(), "redis unavailable");
  EXPECT_FALSE(SilentServer::ClosedByClient(question));
  // Then the live sentinel names the primary, and the store connects there, on the loop.
  int connection = -1;
  ASSERT_TRUE(RunUntil(
      &loop_,
      [&] {
        live.Serve();
        return (connection = primary.Take()) >= 0;
      },
      seconds(10)));
  EXPECT_TRUE(SilentServer::ClosedByClient(question));
  close(connection);  // the store hears the connection end, and asks the sentinels again
  EXPECT_TRUE(CloseAndWait(&loop_, store));
}

TEST_F(StuckSentinelTest, StoreClosedOrDestroyedWhileAskingDropsTheAnswer) {
  TicketStore closed(&loop_, SentinelUrl({stuck_.endpoint()}));
  auto destroyed = std::make_unique<TicketStore>(&loop_, SentinelUrl({stuck_.endpoint()}));
  closed.Start();
  destroyed->Start();
  int first = QuestionTo(stuck_);
  int second = QuestionTo(stuck_);
  ASSERT_GE(second, 0);
  // Close finishes without waiting for the lookup: the stuck sentinel still holds it.
  EXPECT_TRUE(CloseAndWait(&loop_, closed));
  destroyed.reset();  // never connected: no Close needed
  EXPECT_FALSE(SilentServer::ClosedByClient(first));
  EXPECT_FALSE(SilentServer::ClosedByClient(second));
  // The fixture runs the loop until the pool hands both lookups back, and closes it.
}

}  // namespace
}  // namespace postdesk
