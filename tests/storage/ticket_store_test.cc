// TicketStore and TicketReader against a real redis-server (started through EmbeddedRedis in a
// temporary data_dir), never a mock.
#include "storage/ticket_store.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <uv.h>

#include <chrono>
#include <filesystem>
#include <thread>

#include "parser/message_parser.h"
#include "storage/embedded_redis.h"
#include "storage/suspended_messages.h"
#include "storage/ticket_reader.h"
#include "tests/storage/embedded_redis_fixture.h"
#include "tests/storage/run_loop_until.h"
#include "tests/temp_dir.h"

namespace postdesk {
namespace {

constexpr const char* kDirPrefix = "pd-store";
std::string TempDir() { return MakeTempDir(kDirPrefix); }

NewTicketTarget Target(std::string brand, std::string received_at, std::string cause = "",
                       int64_t thread_ticket = 0) {
  NewTicketTarget t;
  t.brand = std::move(brand);
  t.received_at = std::move(received_at);
  t.cause = std::move(cause);
  t.reason = t.cause.empty() ? "" : "test";
  t.thread_ticket = thread_ticket;
  return t;
}

std::vector<int64_t> Ids(const std::vector<IngestOutcome>& outcomes) {
  std::vector<int64_t> ids;
  for (const IngestOutcome& o : outcomes) ids.push_back(o.id);
  return ids;
}

class TicketStoreTest : public EmbeddedRedisTest {
 protected:
  TicketStoreTest() : EmbeddedRedisTest(kDirPrefix) {}
  void SetUp() override {
    EmbeddedRedisTest::SetUp();
    if (HasFatalFailure()) return;
    uv_loop_init(&loop_);
    store_ = std::make_unique<TicketStore>(&loop_, redis_->address());
    store_->Start();
    ASSERT_TRUE(RunUntil(&loop_, [&] { return store_->connected(); }, std::chrono::seconds(5)));
  }

  void TearDown() override {
    if (store_) {
      EXPECT_TRUE(CloseAndWait(&loop_, *store_));
      store_.reset();
      uv_run(&loop_, UV_RUN_DEFAULT);
      EXPECT_EQ(uv_loop_close(&loop_), 0);
    }
    EmbeddedRedisTest::TearDown();
  }

  Result<std::vector<IngestOutcome>> IngestAndWait(const IngestRequest& request) {
    std::optional<Result<std::vector<IngestOutcome>>> result;
    store_->Ingest(request, [&](const Status& status, const std::vector<IngestOutcome>& outcomes) {
      if (status.ok()) {
        result.emplace(outcomes);
      } else {
        result.emplace(status);
      }
    });
    EXPECT_TRUE(RunUntil(&loop_, [&] { return result.has_value(); }, std::chrono::seconds(5)));
    if (!result) return Status::Error("timed out");
    return std::move(*result);
  }

  static IngestRequest Request() {
    IngestRequest r;
    r.subject = "Printer on fire";
    r.description = "Hello, my printer is on fire. Ünïcödé ✓";
    r.requester_email = "Ann@Customer.test";
    r.requester_name = "Ann Example";
    r.transaction = "7.1";
    r.tickets = {Target("acme", "support@acme.test")};
    r.raw = "Received: from x\r\nSubject: Printer on fire\r\n\r\nHello\r\n";
    return r;
  }

  // A reader over a connection that lives as long as the test.
  TicketReader Reader() { return TicketReader(admin_.get()); }

  long long Command(const char* command) {
    redisContext* c = redisConnectUnix(redis_->address().unix_path.c_str());
    auto* reply = static_cast<redisReply*>(redisCommand(c, command));
    long long value = reply && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
    if (reply) freeReplyObject(reply);
    redisFree(c);
    return value;
  }

  // Starts `store` while Redis is paused for a second, so that its setup goes unanswered, and
  // ingests a message meanwhile: the message's result.
  Status IngestWhileTheSetupIsHeld(TicketStore& store) {
    Command("CLIENT PAUSE 1000 ALL");
    store.Start();
    // Long enough for the unix socket's connect, far shorter than the pause.
    RunUntil(
        &loop_, [] { return false; }, std::chrono::milliseconds(200));
    EXPECT_FALSE(store.connected());
    std::optional<Status> stored;
    const IngestRequest request = Request();
    store.Ingest(request, [&](const Status& status, const auto&) { stored = status; });
    EXPECT_TRUE(RunUntil(
        &loop_, [&] { return stored.has_value(); }, std::chrono::seconds(10)));
    return stored.value_or(Status::Error("timed out"));
  }

  // How many keys match `pattern` (raw messages and bodies are named by storage keys).
  long long KeyCount(const char* pattern) {
    redisContext* c = redisConnectUnix(redis_->address().unix_path.c_str());
    auto* reply = static_cast<redisReply*>(redisCommand(c, "KEYS %s", pattern));
    long long value = reply && reply->type == REDIS_REPLY_ARRAY ? reply->elements : -1;
    if (reply) freeReplyObject(reply);
    redisFree(c);
    return value;
  }

  // A store of its own with a 300 ms reply timeout, connected; then Redis is stopped (SIGSTOP:
  // the caller continues it) and one message, in_flight_, is sent, its result going to `heard`.
  // Null when the store did not connect.
  std::unique_ptr<TicketStore> StopRedisWithAMessageInFlight(std::optional<Status>* heard) {
    auto store =
        std::make_unique<TicketStore>(&loop_, redis_->address(), std::chrono::milliseconds(300));
    store->Start();
    if (!RunUntil(&loop_, [&] { return store->connected(); }, std::chrono::seconds(5)) ||
        kill(redis_->pid(), SIGSTOP) != 0) {
      return nullptr;
    }
    store->Ingest(in_flight_, [heard](const Status& status, const auto&) { *heard = status; });
    return store;
  }

  uv_loop_t loop_;
  std::unique_ptr<TicketStore> store_;
  const IngestRequest in_flight_ = Request();
};

TEST_F(TicketStoreTest, StoredTicketReadsBackWithEveryField) {
  Result<std::vector<IngestOutcome>> ids = IngestAndWait(Request());
  ASSERT_TRUE(ids.ok()) << ids.status().message();
  ASSERT_EQ(Ids(ids.value()), std::vector<int64_t>{1});

  auto connection = RedisConnection::Connect(redis_->address());
  ASSERT_TRUE(connection.ok()) << connection.status().message();
  TicketReader reader(connection.value().get());
  Result<nlohmann::json> t = reader.GetTicket(1);
  ASSERT_TRUE(t.ok()) << t.status().message();
  const nlohmann::json& ticket = t.value();
  EXPECT_EQ(ticket["id"], 1);
  EXPECT_EQ(ticket["subject"], "Printer on fire");
  EXPECT_EQ(ticket["description"], "Hello, my printer is on fire. Ünïcödé ✓");
  EXPECT_EQ(ticket["requester"]["email"], "Ann@Customer.test");
  EXPECT_EQ(ticket["requester"]["name"], "Ann Example");
  EXPECT_EQ(ticket["received_at"], "support@acme.test");
  EXPECT_EQ(ticket["brand"], "acme");
  EXPECT_EQ(ticket["status"], "new");
  EXPECT_TRUE(ticket["priority"].is_null());
  EXPECT_EQ(ticket["tags"], nlohmann::json::array());
  ASSERT_EQ(ticket["comments"].size(), 1u);
  EXPECT_EQ(ticket["comments"][0]["body"], ticket["description"]);
  EXPECT_EQ(ticket["comments"][0]["via"], "email");
  EXPECT_EQ(ticket["created_at"].get<std::string>().size(), 24u);  // 2026-11-21T23:59:01.123Z

  Result<std::string> raw = reader.GetRawMessage(1);
  ASSERT_TRUE(raw.ok());
  EXPECT_EQ(raw.value(), Request().raw);
}

// Large messages are written from their requests (spliced into the block's text): several in
// one write, each beside small ones, are stored byte for byte and each under its own ticket.
TEST_F(TicketStoreTest, LargeMessagesInOneWriteAreEachStoredWhole) {
  std::vector<IngestRequest> requests(4, Request());
  for (size_t i = 0; i < requests.size(); ++i) {
    IngestRequest& r = requests[i];
    r.message_id = "m" + std::to_string(i) + "@customer.test";
    if (i % 2 == 1) continue;  // small
    r.raw = "Subject: big " + std::to_string(i) + "\r\n\r\n";
    while (r.raw.size() < 3 * kRespSpliceBytes) r.raw += std::to_string(i) + " line\r\n";
    r.description.assign(2 * kRespSpliceBytes, static_cast<char>('a' + i));
  }
  std::vector<std::optional<Status>> stored(requests.size());
  for (size_t i = 0; i < requests.size(); ++i) {
    store_->Ingest(requests[i], [&, i](const Status& status, const auto&) { stored[i] = status; });
  }
  ASSERT_TRUE(RunUntil(
      &loop_, [&] { return stored.back().has_value(); }, std::chrono::seconds(10)));
  TicketReader reader = Reader();
  for (size_t i = 0; i < requests.size(); ++i) {
    ASSERT_TRUE(stored[i].has_value() && stored[i]->ok()) << i;
    EXPECT_EQ(reader.GetRawMessage(static_cast<int64_t>(i + 1)).value(), requests[i].raw) << i;
    EXPECT_EQ(reader.GetTicket(static_cast<int64_t>(i + 1)).value()["description"],
              requests[i].description)
        << i;
  }
}

// 16 MiB does not fit a socket buffer: the write goes out as the socket drains (the adapter
// polls for writability then), and what Redis stores is every byte.
TEST_F(TicketStoreTest, MessageLargerThanTheSocketBufferIsStoredWhole) {
  IngestRequest r = Request();
  r.raw.clear();
  while (r.raw.size() < 16u * 1024 * 1024) r.raw += "line " + std::to_string(r.raw.size()) + "\r\n";
  r.description = r.raw.substr(0, 65000);
  Result<std::vector<IngestOutcome>> stored = IngestAndWait(r);
  ASSERT_TRUE(stored.ok()) << stored.status().message();
  EXPECT_EQ(Reader().GetRawMessage(1).value(), r.raw);
  // The connection goes on as before.
  IngestRequest next = Request();
  next.message_id = "next@customer.test";
  ASSERT_TRUE(IngestAndWait(next).ok());
  EXPECT_EQ(Reader().GetTicket(2).value()["description"], next.description);
}

// The fields that never change are one JSON member of the ticket hash: text that JSON must
// escape comes back as it went in.
TEST_F(TicketStoreTest, TextThatJsonEscapesComesBackAsItWent) {
  IngestRequest r = Request();
  r.subject = "Re: \"quoted\" \\ back\tslash\x01 \xe2\x9c\x93";
  r.requester_name = "O'Brien, \"Ann\"";
  r.truncated = true;
  r.auto_notifications_suppressed = true;
  ASSERT_TRUE(IngestAndWait(r).ok());
  nlohmann::json ticket = Reader().GetTicket(1).value();
  EXPECT_EQ(ticket["subject"], r.subject);
  EXPECT_EQ(ticket["requester"]["name"], r.requester_name);
  EXPECT_EQ(ticket["truncated"], true);
  EXPECT_EQ(ticket["auto_notifications_suppressed"], true);
  EXPECT_EQ(ticket["via"], "email");
  EXPECT_EQ(ticket["comments"][0]["author"]["name"], r.requester_name);
}

TEST_F(TicketStoreTest, EachTicketAddsAnEventAndARequesterIndexEntry) {
  ASSERT_TRUE(IngestAndWait(Request()).ok());
  ASSERT_TRUE(IngestAndWait(Request()).ok());
  EXPECT_EQ(Command("XLEN {pd}:events"), 2);
  EXPECT_EQ(Command("ZCARD {pd}:requester:ann@customer.test:tickets"), 2);
}

TEST_F(TicketStoreTest, OneRequestForTwoBrandsMakesTwoTicketsAndOneRawMessage) {
  IngestRequest r = Request();
  r.tickets = {Target("acme", "support@acme.test"), Target("globex", "help@globex.test")};
  Result<std::vector<IngestOutcome>> ids = IngestAndWait(r);
  ASSERT_TRUE(ids.ok());
  EXPECT_EQ(Ids(ids.value()), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(KeyCount("{pd}:message:*"), 1);
  EXPECT_EQ(KeyCount("{pd}:body:*"), 1);  // both first comments share the one text
  EXPECT_EQ(Reader().GetTicket(2).value()["brand"], "globex");
  EXPECT_EQ(Reader().GetTicket(2).value()["description"], r.description);
}

// A plain-text message's description is its body as it stands (ParsedMessage::description_span):
// only the raw message is stored, and the description, the first comments and a reply are read
// back from raw messages.
TEST_F(TicketStoreTest, TextThatIsASpanOfTheRawMessageIsStoredOnlyThere) {
  IngestRequest r = Request();
  r.raw = "Subject: Printer on fire\r\n\r\n\r\nHello,\r\nit is on fire.  \r\n\r\n";
  ParsedMessage parsed = ParseMessage(r.raw);
  ASSERT_TRUE(parsed.description_span.has_value());
  r.description = parsed.description;
  r.description_span = parsed.description_span;
  r.tickets = {Target("acme", "support@acme.test"), Target("globex", "help@globex.test")};
  ASSERT_TRUE(IngestAndWait(r).ok());
  EXPECT_EQ(KeyCount("{pd}:message:*"), 1);
  EXPECT_EQ(KeyCount("{pd}:body:*"), 0);
  for (int64_t id : {1, 2}) {
    nlohmann::json t = Reader().GetTicket(id).value();
    EXPECT_EQ(t["description"], "Hello,\nit is on fire.");
    EXPECT_EQ(t["comments"][0]["body"], "Hello,\nit is on fire.");
  }

  IngestRequest reply = Request();
  reply.raw = "Subject: Re: Printer on fire\r\n\r\nStill on fire.\r\n";
  parsed = ParseMessage(reply.raw);
  reply.description = parsed.description;
  reply.description_span = parsed.description_span;
  reply.tickets = {Target("acme", "support@acme.test", "", 1)};
  ASSERT_TRUE(IngestAndWait(reply).ok());
  EXPECT_EQ(KeyCount("{pd}:message:*"), 2);
  EXPECT_EQ(KeyCount("{pd}:body:*"), 0);
  nlohmann::json t = Reader().GetTicket(1).value();
  ASSERT_EQ(t["comments"].size(), 2u);
  EXPECT_EQ(t["comments"][1]["body"], "Still on fire.");
  EXPECT_EQ(t["description"], "Hello,\nit is on fire.");
}

TEST_F(TicketStoreTest, MissingTicketIsAClearError) {
  Result<nlohmann::json> t = Reader().GetTicket(42);
  ASSERT_FALSE(t.ok());
  EXPECT_EQ(t.status().message(), "no ticket 42");
}

TEST_F(TicketStoreTest, RedisDownFailsFastThenReconnectsByItself) {
  ASSERT_TRUE(IngestAndWait(Request()).ok());
  ASSERT_TRUE(redis_->Stop().ok());
  // The disconnect is noticed on the loop.
  ASSERT_TRUE(RunUntil(&loop_, [&] { return !store_->connected(); }, std::chrono::seconds(5)));
  Result<std::vector<IngestOutcome>> down = IngestAndWait(Request());
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().message().rfind("redis unavailable", 0), 0u);

  Result<std::unique_ptr<EmbeddedRedis>> again = EmbeddedRedis::Start(dir_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  redis_ = std::move(again).value();
  ASSERT_TRUE(RunUntil(&loop_, [&] { return store_->connected(); }, std::chrono::seconds(10)));
  Result<std::vector<IngestOutcome>> up = IngestAndWait(Request());
  ASSERT_TRUE(up.ok()) << up.status().message();
  // The AOF kept the counter across the restart: no id is reused.
  EXPECT_EQ(Ids(up.value()), std::vector<int64_t>{2});
}

TEST_F(TicketStoreTest, MessageThatComesWhileTheConnectionIsSetUpWaitsForIt) {
  // Redis holds its answers to a new connection's setup (FUNCTION LOAD) for a while: a message
  // that comes meanwhile, as right after a start, is stored once they come, not refused.
  TicketStore late(&loop_, redis_->address());
  Status stored = IngestWhileTheSetupIsHeld(late);
  EXPECT_TRUE(stored.ok()) << stored.message();
  EXPECT_TRUE(late.connected());
  ASSERT_TRUE(CloseAndWait(&loop_, late));
}

TEST_F(TicketStoreTest, MessageBehindARefusedSelectIsStoredInNoDatabase) {
  // SELECT of a database the server lacks fails, and Redis would run what follows in database
  // 0: the message must not have gone out behind it.
  RedisAddress address = redis_->address();
  address.db = 99;
  TicketStore store(&loop_, address);
  Status stored = IngestWhileTheSetupIsHeld(store);
  EXPECT_EQ(stored.message().rfind("redis unavailable: SELECT: ERR", 0), 0u) << stored.message();
  EXPECT_EQ(KeyCount("*"), 0);
  ASSERT_TRUE(CloseAndWait(&loop_, store));
}

TEST_F(TicketStoreTest, RequestsInFlightWhenRedisDiesEachHearOnceThatTheReplyWasLost) {
  ASSERT_TRUE(IngestAndWait(Request()).ok());
  // Paused, Redis holds the writes unanswered: three requests are in flight when it dies.
  Command("CLIENT PAUSE 10000 WRITE");
  std::vector<std::string> heard(3);
  std::vector<int> calls(3, 0);
  const IngestRequest request = Request();
  for (size_t i = 0; i < 3; ++i) {
    store_->Ingest(request,
                   [&, i](const Status& status, const std::vector<IngestOutcome>& outcomes) {
                     ++calls[i];
                     heard[i] = status.ok() ? "ok" : status.message();
                     EXPECT_TRUE(outcomes.empty());
                   });
  }
  for (int i = 0; i < 50; ++i) uv_run(&loop_, UV_RUN_NOWAIT);  // the commands go out
  EXPECT_EQ(calls, (std::vector<int>{0, 0, 0}));
  ASSERT_EQ(kill(redis_->pid(), SIGKILL), 0);
  ASSERT_TRUE(RunUntil(
      &loop_, [&] { return calls[2] > 0; }, std::chrono::seconds(5)));
  EXPECT_FALSE(store_->connected());
  for (int i = 0; i < 50; ++i) uv_run(&loop_, UV_RUN_NOWAIT);
  EXPECT_EQ(calls, (std::vector<int>{1, 1, 1}));
  for (const std::string& h : heard) EXPECT_EQ(h, "redis: connection lost before the reply");

  redis_.reset();  // reaps the killed server
  Result<std::unique_ptr<EmbeddedRedis>> again = EmbeddedRedis::Start(dir_);
  ASSERT_TRUE(again.ok()) << again.status().message();
  redis_ = std::move(again).value();
  ASSERT_TRUE(RunUntil(
      &loop_, [&] { return store_->connected(); }, std::chrono::seconds(10)));
  EXPECT_TRUE(IngestAndWait(Request()).ok());
}

// A Redis that keeps the connection and answers nothing (stopped here; stuck behind its disk in
// life): the waiting messages are given up after the reply timeout, as if the connection had
// dropped, and the store connects again once Redis answers.
TEST_F(TicketStoreTest, RedisThatAnswersNothingIsGivenUpAfterTheReplyTimeout) {
  std::optional<Status> heard;
  std::unique_ptr<TicketStore> stuck = StopRedisWithAMessageInFlight(&heard);
  ASSERT_TRUE(stuck);
  TicketStore& store = *stuck;
  const bool answered =
      RunUntil(&loop_, [&] { return heard.has_value(); }, std::chrono::seconds(10));
  const bool connected_meanwhile = store.connected();
  ASSERT_EQ(kill(redis_->pid(), SIGCONT), 0);
  ASSERT_TRUE(answered);
  EXPECT_EQ(heard->message(), "redis: connection lost before the reply");
  EXPECT_FALSE(connected_meanwhile);
  ASSERT_TRUE(RunUntil(&loop_, [&] { return store.connected(); }, std::chrono::seconds(10)));
  std::optional<Status> stored;
  store.Ingest(in_flight_, [&](const Status& status, const auto&) { stored = status; });
  ASSERT_TRUE(RunUntil(&loop_, [&] { return stored.has_value(); }, std::chrono::seconds(5)));
  EXPECT_TRUE(stored->ok()) << stored->message();
  EXPECT_TRUE(CloseAndWait(&loop_, store));
}

// A drain closes the store: replies that never come hold it no longer than the reply timeout.
TEST_F(TicketStoreTest, CloseGivesUpOnRepliesThatNeverComeAfterTheReplyTimeout) {
  std::optional<Status> heard;
  std::unique_ptr<TicketStore> stuck = StopRedisWithAMessageInFlight(&heard);
  ASSERT_TRUE(stuck);
  const bool closed = CloseAndWait(&loop_, *stuck, std::chrono::seconds(10));
  ASSERT_EQ(kill(redis_->pid(), SIGCONT), 0);
  EXPECT_TRUE(closed);
  ASSERT_TRUE(heard.has_value());
  EXPECT_FALSE(heard->ok());
}

TEST_F(TicketStoreTest, CloseWaitsForTheRepliesInFlight) {
  ASSERT_TRUE(IngestAndWait(Request()).ok());
  Command("CLIENT PAUSE 300 WRITE");
  std::vector<std::string> events;
  const IngestRequest request = Request();
  for (int i = 0; i < 3; ++i) {
    store_->Ingest(request, [&](const Status& status, const std::vector<IngestOutcome>& o) {
      events.push_back(status.ok() ? "ticket " + std::to_string(o.at(0).id) : status.message());
    });
  }
  bool closed = false;
  store_->Close([&] {
    events.push_back("closed");
    closed = true;
  });
  // A request after Close() is refused at once; the three before it are answered first.
  store_->Ingest(request, [&](const Status& status, const std::vector<IngestOutcome>&) {
    events.push_back(status.ok() ? "ok" : "refused");
  });
  ASSERT_TRUE(RunUntil(
      &loop_, [&] { return closed; }, std::chrono::seconds(5)));
  EXPECT_EQ(events,
            (std::vector<std::string>{"refused", "ticket 2", "ticket 3", "ticket 4", "closed"}));
  // Closing a closed store answers at once (TearDown does).
  bool again = false;
  store_->Close([&] { again = true; });
  EXPECT_TRUE(again);
}

TEST_F(TicketStoreTest, SuspendedMessageIsKeptWithItsCauseAndMakesNoTicket) {
  IngestRequest r = Request();
  r.tickets = {Target("acme", "support@acme.test", "auto_vacation")};
  auto outcome = IngestAndWait(r);
  ASSERT_TRUE(outcome.ok()) << outcome.status().message();
  ASSERT_EQ(outcome.value().size(), 1u);
  EXPECT_EQ(outcome.value()[0].kind, IngestOutcome::Kind::kSuspended);
  EXPECT_EQ(outcome.value()[0].cause, "auto_vacation");
  EXPECT_EQ(DescribeOutcomes(outcome.value()), "suspended 1 (auto_vacation)");
  EXPECT_EQ(Command("EXISTS {pd}:ticket:1"), 0);
  EXPECT_EQ(Command("EXISTS {pd}:suspended:1"), 1);
  EXPECT_EQ(KeyCount("{pd}:message:*"), 1);  // the raw message is kept
  EXPECT_EQ(KeyCount("{pd}:body:*"), 0);     // no comment, no text
  EXPECT_GT(Command("PTTL {pd}:suspended:1"), 0);  // for the retention period
}

TEST_F(TicketStoreTest, SameMessageIdToTheSameBrandMakesOneTicket) {
  IngestRequest r = Request();
  r.message_id = "CAF123@mail.customer.test";
  auto first = IngestAndWait(r);
  auto second = IngestAndWait(r);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(second.value()[0].kind, IngestOutcome::Kind::kDuplicate);
  EXPECT_EQ(DescribeOutcomes(second.value()), "duplicate of ticket 1");
  EXPECT_EQ(Command("EXISTS {pd}:ticket:2"), 0);
  EXPECT_EQ(KeyCount("{pd}:message:*"), 1);  // a pure duplicate stores nothing
  EXPECT_EQ(KeyCount("{pd}:body:*"), 1);
  // Another brand does get its own ticket.
  r.tickets = {Target("globex", "help@globex.test")};
  auto other = IngestAndWait(r);
  ASSERT_TRUE(other.ok());
  EXPECT_EQ(DescribeOutcomes(other.value()), "ticket 2");
}

TEST_F(TicketStoreTest, RateGuardSuspendsPastTheLimitThenBlocksTheSender) {
  IngestRequest r = Request();
  r.policy.rate_limit = 3;
  std::vector<std::string> seen;
  for (int i = 0; i < 5; ++i) {
    auto o = IngestAndWait(r);
    ASSERT_TRUE(o.ok());
    seen.push_back(DescribeOutcomes(o.value()));
  }
  EXPECT_EQ(seen, (std::vector<std::string>{"ticket 1", "ticket 2", "ticket 3", "suspended 1 (loop)",
                                            "suspended 2 (blocklisted)"}));
  // Another sender is not affected.
  r.requester_email = "bob@customer.test";
  EXPECT_EQ(DescribeOutcomes(IngestAndWait(r).value()), "ticket 4");
}

TEST_F(TicketStoreTest, ReplyBecomesACommentAndReopensASolvedTicket) {
  ASSERT_TRUE(IngestAndWait(Request()).ok());
  Command("HSET {pd}:ticket:1 status solved");
  IngestRequest reply = Request();
  reply.description = "Still on fire.";
  reply.tickets = {Target("acme", "support@acme.test", "", 1)};
  auto o = IngestAndWait(reply);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(DescribeOutcomes(o.value()), "comment on ticket 1");
  nlohmann::json t = Reader().GetTicket(1).value();
  ASSERT_EQ(t["comments"].size(), 2u);
  EXPECT_EQ(t["comments"][1]["body"], "Still on fire.");
  EXPECT_EQ(t["comments"][1]["author"]["email"], "Ann@Customer.test");
  EXPECT_EQ(t["status"], "open");
  EXPECT_EQ(Command("XLEN {pd}:events"), 2);
}

TEST_F(TicketStoreTest, ReplyToAClosedTicketOpensALinkedFollowUp) {
  ASSERT_TRUE(IngestAndWait(Request()).ok());
  Command("HSET {pd}:ticket:1 status closed");
  IngestRequest reply = Request();
  reply.tickets = {Target("acme", "support@acme.test", "", 1)};
  auto o = IngestAndWait(reply);
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(DescribeOutcomes(o.value()), "ticket 2 (follow-up of 1)");
  EXPECT_EQ(Reader().GetTicket(2).value()["followup_source_id"], 1);
  EXPECT_EQ(Reader().GetTicket(1).value()["comments"].size(), 1u);
}

TEST_F(TicketStoreTest, ReplyNamingAnotherBrandsTicketMakesANewTicket) {
  IngestRequest r = Request();
  r.tickets = {Target("globex", "help@globex.test")};
  ASSERT_TRUE(IngestAndWait(r).ok());
  IngestRequest reply = Request();
  reply.tickets = {Target("acme", "support@acme.test", "", 1)};
  EXPECT_EQ(DescribeOutcomes(IngestAndWait(reply).value()), "ticket 2");
}

TEST_F(TicketStoreTest, SuspendedMessagesAreListedRecoveredAndDeleted) {
  IngestRequest r = Request();
  r.raw = "From: Ann <ann@customer.test>\r\nSubject: Out of office\r\n\r\nI am away.\r\n";
  r.tickets = {Target("acme", "support@acme.test", "auto_vacation")};
  ASSERT_TRUE(IngestAndWait(r).ok());
  r.tickets = {Target("acme", "help@acme.test", "system_user")};
  ASSERT_TRUE(IngestAndWait(r).ok());
  Reader();  // opens admin_
  SuspendedMessages suspended(admin_.get());

  nlohmann::json list = suspended.List(10).value();
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0]["id"], 2);  // newest first
  EXPECT_EQ(list[0]["cause"], "system_user");
  EXPECT_EQ(list[1]["cause"], "auto_vacation");
  EXPECT_EQ(list[1]["received_at"], "support@acme.test");
  EXPECT_GT(list[1]["expires_in_s"].get<int64_t>(), 0);
  EXPECT_EQ(suspended.Show(1).value()["raw"], r.raw);

  Result<IngestOutcome> recovered = suspended.Recover(1, StoragePolicy{});
  ASSERT_TRUE(recovered.ok()) << recovered.status().message();
  EXPECT_EQ(recovered->kind, IngestOutcome::Kind::kTicket);
  nlohmann::json ticket = Reader().GetTicket(recovered->id).value();
  EXPECT_EQ(ticket["subject"], "Out of office");  // re-parsed from the raw message
  EXPECT_EQ(ticket["received_at"], "support@acme.test");
  EXPECT_EQ(Reader().GetRawMessage(recovered->id).value(), r.raw);
  EXPECT_FALSE(suspended.Show(1).ok());  // gone from the suspended list, atomically

  ASSERT_TRUE(suspended.Delete(2).ok());
  EXPECT_EQ(suspended.List(10).value().size(), 0u);
  EXPECT_EQ(suspended.Delete(2).message(), "no suspended message 2");
}

TEST_F(TicketStoreTest, DeletingASuspensionKeepsTheRawMessageAnotherBrandsTicketUses) {
  IngestRequest r = Request();
  r.tickets = {Target("acme", "support@acme.test", "auto_vacation"),
               Target("globex", "help@globex.test")};
  auto outcomes = IngestAndWait(r);
  ASSERT_TRUE(outcomes.ok()) << outcomes.status().message();
  EXPECT_EQ(DescribeOutcomes(outcomes.value()), "suspended 1 (auto_vacation), ticket 1");
  Reader();  // opens admin_
  SuspendedMessages suspended(admin_.get());
  ASSERT_TRUE(suspended.Delete(1).ok());
  EXPECT_EQ(Reader().GetRawMessage(1).value(), r.raw);

  // Alone, a suspension's raw message goes with it.
  r.tickets = {Target("acme", "support@acme.test", "auto_vacation")};
  ASSERT_TRUE(IngestAndWait(r).ok());
  EXPECT_EQ(KeyCount("{pd}:message:*"), 2);
  ASSERT_TRUE(suspended.Delete(2).ok());
  EXPECT_EQ(KeyCount("{pd}:message:*"), 1);
}

TEST_F(TicketStoreTest, AttachmentsAreListedOnTheirComment) {
  IngestRequest r = Request();
  r.attachments = {{"Rechnung März.pdf", "application/pdf", 48213, ""},
                   {"", "image/png", 512, "logo@customer.test"}};
  ASSERT_TRUE(IngestAndWait(r).ok());
  nlohmann::json attachments = Reader().GetTicket(1).value()["comments"][0]["attachments"];
  ASSERT_EQ(attachments.size(), 2u);
  EXPECT_EQ(attachments[0]["filename"], "Rechnung März.pdf");
  EXPECT_EQ(attachments[0]["content_type"], "application/pdf");
  EXPECT_EQ(attachments[0]["size"], 48213);
  EXPECT_EQ(attachments[1]["content_id"], "logo@customer.test");
  IngestRequest plain = Request();
  plain.message_id = "other@customer.test";
  ASSERT_TRUE(IngestAndWait(plain).ok());
  EXPECT_EQ(Reader().GetTicket(2).value()["comments"][0]["attachments"], nlohmann::json::array());
}

TEST(EmbeddedRedisStart, SecondServerOnTheSameDataDirIsRefused) {
  std::string dir = TempDir();
  auto first = EmbeddedRedis::Start(dir);
  ASSERT_TRUE(first.ok()) << first.status().message();
  auto second = EmbeddedRedis::Start(dir);
  ASSERT_FALSE(second.ok());
  EXPECT_NE(second.status().message().find("held by another postdesk"), std::string::npos);
  first.value().reset();
  std::filesystem::remove_all(dir);
}

// A gateway killed with SIGKILL leaves its redis-server flushing the AOF for a moment; a restart
// (systemd's Restart=) in that moment waits for it instead of refusing to start.
TEST(EmbeddedRedisStart, ServerOfAKilledOwnerIsWaitedFor) {
  std::string dir = TempDir();
  std::filesystem::create_directories(dir);
  std::string socket = EmbeddedRedis::SocketPath(std::filesystem::canonical(dir).string());
  pid_t orphan = fork();
  ASSERT_GE(orphan, 0);
  if (orphan == 0) {
    execlp("redis-server", "redis-server", "--port", "0", "--unixsocket", socket.c_str(), "--save",
           "", "--dir", dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  RedisAddress address;
  address.unix_path = socket;
  for (int i = 0; i < 200 && !RedisAnswers(address, std::chrono::milliseconds(100)); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(RedisAnswers(address, std::chrono::milliseconds(100)));
  std::thread stopper([orphan] {
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    kill(orphan, SIGTERM);
    waitpid(orphan, nullptr, 0);
  });
  auto started = EmbeddedRedis::Start(dir);
  stopper.join();
  ASSERT_TRUE(started.ok()) << started.status().message();
  EXPECT_NE(started.value()->pid(), orphan);
  EXPECT_TRUE(RedisAnswers(address, std::chrono::milliseconds(500)));
  started.value().reset();
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace postdesk
