// TriggerQueue and TriggerWorkers against a real redis-server (EmbeddedRedis in a temporary
// data_dir): the consumer group, crash recovery, exactly-once application, conflicts with
// concurrent updates, delayed actions and suspended senders.
#include "storage/trigger_queue.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <chrono>
#include <thread>

#include "parser/message_parser.h"
#include "rules/trigger_loader.h"
#include "storage/ingest_request.h"
#include "storage/redis_functions.h"
#include "storage/trigger_workers.h"
#include "tests/storage/embedded_redis_fixture.h"

namespace postdesk {
namespace {

using std::chrono::milliseconds;

constexpr char kUrgentTriggers[] = R"({"triggers": [
  {"id": 11, "title": "Urgent", "position": 1, "active": true,
   "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"},
                          {"field": "subject_includes_word", "operator": "includes",
                           "value": "urgent asap"}]},
   "actions": [{"field": "priority", "value": "urgent"},
               {"field": "current_tags", "value": "vip"},
               {"field": "notification_user", "value": ["requester_id",
                 "Re: {{ticket.title}}", "Ticket {{ticket.id}} is {{ticket.priority}}"]}]}
]})";

class TriggerQueueTest : public EmbeddedRedisTest {
 protected:
  TriggerQueueTest() : EmbeddedRedisTest("pd-trig") {}
  void SetUp() override {
    EmbeddedRedisTest::SetUp();
    if (HasFatalFailure()) return;
    ASSERT_TRUE(admin_->LoadFunctions().ok());
  }

  // Stores a message through postdesk_ingest, as the gateway does; returns the ticket id. With
  // `text_in_raw` the text is the raw message's plain body, parsed as the gateway parses it, so
  // that storage keeps it only inside the raw message (ParsedMessage::description_span).
  // `also_to_brands`: one transaction to these brands too, one new ticket each (one script call:
  // the same creation millisecond).
  int64_t Ingest(const std::string& subject, const std::string& from = "ann@customer.test",
                 int64_t thread = 0, bool text_in_raw = false,
                 const std::vector<std::string>& also_to_brands = {}) {
    IngestRequest r;
    r.subject = subject;
    r.description = "Body of " + subject;
    r.requester_email = from;
    r.requester_name = "Ann Example";
    r.message_id = "<" + subject + std::to_string(++messages_) + "@customer.test>";
    r.transaction = "t";
    NewTicketTarget target;
    target.brand = "acme";
    target.received_at = "support@acme.test";
    target.thread_ticket = thread;
    r.tickets = {target};
    for (const std::string& brand : also_to_brands) {
      NewTicketTarget other;
      other.brand = brand;
      other.received_at = "help@" + brand + ".test";
      r.tickets.push_back(other);
    }
    r.raw = "Subject: " + subject + "\r\n\r\nbody\r\n";
    if (text_in_raw) {
      r.raw = "Subject: " + subject + "\r\n\r\nBody of\r\n" + subject + "\r\n";
      ParsedMessage parsed = ParseMessage(r.raw);
      EXPECT_TRUE(parsed.description_span.has_value());
      r.description = parsed.description;
      r.description_span = parsed.description_span;
    }
    IngestCommands commands(r, NewStorageKey());
    Result<std::vector<RedisReplyPtr>> replies = admin_->PipelineFormatted(commands.commands());
    EXPECT_TRUE(replies.ok()) << replies.status().message();
    if (!replies.ok()) return 0;
    Result<std::vector<IngestOutcome>> outcomes = ParseIngestExecReply(replies.value().back().get());
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().message();
    return outcomes.ok() ? outcomes.value().at(0).id : 0;
  }

  std::string TicketField(int64_t id, const char* field) {
    RedisReplyPtr r = admin_->CommandArgv({"HGET", "{pd}:ticket:" + std::to_string(id), field});
    return r && r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : "";
  }

  long long Integer(std::initializer_list<std::string_view> command) {
    RedisReplyPtr r = admin_->CommandArgv(command);
    return r && r->type == REDIS_REPLY_INTEGER ? r->integer : -1;
  }

  // The notifications on {pd}:outbox, oldest first, each as its fields.
  std::vector<std::map<std::string, std::string>> OutboxEntries() {
    RedisReplyPtr outbox = admin_->CommandArgv({"XRANGE", "{pd}:outbox", "-", "+"});
    std::vector<std::map<std::string, std::string>> entries;
    for (size_t e = 0; e < outbox->elements; ++e) {
      const redisReply* fields = outbox->element[e]->element[1];
      std::map<std::string, std::string>& n = entries.emplace_back();
      for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        n[fields->element[i]->str] =
            std::string(fields->element[i + 1]->str, fields->element[i + 1]->len);
      }
    }
    return entries;
  }

  std::unique_ptr<TriggerQueue> Queue(const std::string& consumer) {
    auto queue = TriggerQueue::Connect(redis_->address(), consumer);
    EXPECT_TRUE(queue.ok()) << queue.status().message();
    return std::move(queue).value();
  }

  std::shared_ptr<const TriggerSet> Set(const char* json) {
    auto set = LoadTriggerSet(json, "test.json");
    EXPECT_TRUE(set.ok()) << set.status().message();
    return set.value();
  }

  template <typename Predicate>
  bool WaitFor(Predicate done, milliseconds timeout = milliseconds(10000)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    while (!done()) {
      if (std::chrono::steady_clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(10));
    }
    return true;
  }

  int messages_ = 0;
};

TEST_F(TriggerQueueTest, WorkersChangeTicketAndQueueRenderedNotification) {
  TriggerWorkerOptions options;
  options.redis = redis_->address();
  options.threads = 2;
  TriggerWorkers workers(options, Set(kUrgentTriggers));
  workers.Start();
  int64_t urgent = Ingest("URGENT printer");
  int64_t calm = Ingest("printer question");
  ASSERT_TRUE(WaitFor([&] { return TicketField(urgent, "priority") == "urgent"; }));
  EXPECT_EQ(TicketField(urgent, "tags"), "[\"vip\"]");
  // The calm ticket's cycle fires nothing: acknowledged, not applied.
  ASSERT_TRUE(WaitFor([&] {
    RedisReplyPtr pending = admin_->CommandArgv({"XPENDING", "{pd}:events", "triggers"});
    return workers.counters().events.load() >= 2 && pending->element[0]->integer == 0;
  }));
  EXPECT_EQ(workers.counters().applied.load(), 1u);
  EXPECT_EQ(TicketField(calm, "priority"), "");
  EXPECT_EQ(Integer({"LLEN", "{pd}:ticket:" + std::to_string(calm) + ":audit"}), 0);
  workers.Stop();

  std::vector<std::map<std::string, std::string>> outbox = OutboxEntries();
  ASSERT_EQ(outbox.size(), 1u);
  std::map<std::string, std::string>& n = outbox[0];
  EXPECT_EQ(n["recipient"], "ann@customer.test");
  EXPECT_EQ(n["subject"], "Re: URGENT printer");
  EXPECT_EQ(n["body"], "Ticket " + std::to_string(urgent) + " is urgent");
  EXPECT_EQ(n["ticket"], std::to_string(urgent));
  EXPECT_EQ(n["trigger"], "11");
  EXPECT_EQ(Integer({"LLEN", "{pd}:ticket:" + std::to_string(urgent) + ":audit"}), 1);
  // Everything was acknowledged.
  RedisReplyPtr pending = admin_->CommandArgv({"XPENDING", "{pd}:events", "triggers"});
  EXPECT_EQ(pending->element[0]->integer, 0);
}

TEST_F(TriggerQueueTest, WithoutActiveTriggersEveryEventIsAcknowledgedAndNothingWritten) {
  TriggerWorkerOptions options;
  options.redis = redis_->address();
  options.threads = 1;
  TriggerWorkers workers(options, Set(R"([{"title": "Off", "active": false,
    "conditions": {"all": []}, "actions": [{"field": "priority", "value": "high"}]}])"));
  workers.Start();
  int64_t first = Ingest("one");
  Ingest("two");
  Ingest("three");
  ASSERT_TRUE(WaitFor([&] {
    RedisReplyPtr pending = admin_->CommandArgv({"XPENDING", "{pd}:events", "triggers"});
    return workers.counters().events.load() == 3 && pending->element[0]->integer == 0;
  }));
  workers.Stop();
  EXPECT_EQ(workers.counters().applied.load(), 0u);
  EXPECT_EQ(TicketField(first, "priority"), "");
  EXPECT_EQ(TicketField(first, "version"), "1");
  EXPECT_EQ(Integer({"EXISTS", "{pd}:outbox"}), 0);
}

TEST_F(TriggerQueueTest, EntriesOfACrashedWorkerAreClaimedAndAppliedOnce) {
  int64_t id = Ingest("urgent: disk full");
  {
    // A worker reads the event and dies before writing anything.
    std::unique_ptr<TriggerQueue> doomed = Queue("crashed/0");
    Result<std::vector<TriggerQueueEntry>> read = doomed->ReadNew(10, 100);
    ASSERT_TRUE(read.ok());
    ASSERT_EQ(read->size(), 1u);
  }
  EXPECT_EQ(TicketField(id, "priority"), "");
  TriggerWorkerOptions options;
  options.redis = redis_->address();
  options.threads = 1;
  options.claim_idle = milliseconds(300);
  TriggerWorkers workers(options, Set(kUrgentTriggers));
  workers.Start();
  ASSERT_TRUE(WaitFor([&] { return TicketField(id, "priority") == "urgent"; }));
  ASSERT_TRUE(WaitFor([&] { return workers.counters().claimed.load() >= 1; }));
  workers.Stop();
  EXPECT_EQ(Integer({"XLEN", "{pd}:outbox"}), 1);
  RedisReplyPtr pending = admin_->CommandArgv({"XPENDING", "{pd}:events", "triggers"});
  EXPECT_EQ(pending->element[0]->integer, 0);
}

// SIGHUP's claim_timeout reaches running workers: started with an hour, they take over a
// crashed worker's entry once told 300 ms.
TEST_F(TriggerQueueTest, ReloadedClaimTimeoutReachesRunningWorkers) {
  int64_t id = Ingest("urgent: disk full");
  ASSERT_TRUE(Queue("crashed/0")->ReadNew(10, 100).ok());  // read, then the worker died
  TriggerWorkerOptions options;
  options.redis = redis_->address();
  options.threads = 1;
  options.claim_idle = std::chrono::hours(1);
  TriggerWorkers workers(options, Set(kUrgentTriggers));
  workers.Start();
  workers.SetClaimIdle(milliseconds(300));
  ASSERT_TRUE(WaitFor([&] { return TicketField(id, "priority") == "urgent"; }));
  EXPECT_EQ(workers.counters().claimed.load(), 1u);
  workers.Stop();
}

// SIGHUP's token_secret reaches running workers: a notification rendered after the reload
// carries the ticket token that the reloaded gateway checks, not the old key's.
TEST_F(TriggerQueueTest, ReloadedTokenSecretReachesRunningWorkers) {
  constexpr char kTokenTriggers[] = R"({"triggers": [
    {"id": 12, "title": "Token", "position": 1, "active": true,
     "conditions": {"all": [{"field": "update_type", "operator": "is", "value": "Create"}]},
     "actions": [{"field": "notification_user", "value": ["requester_id", "Re: {{ticket.title}}",
                  "[{{ticket.encoded_id}}]"]}]}
  ]})";
  const std::string old_secret = "old secret, sixteen bytes or more";
  const std::string new_secret = "new secret, sixteen bytes or more";
  TriggerWorkerOptions options;
  options.redis = redis_->address();
  options.threads = 1;
  options.token_secret = old_secret;
  TriggerWorkers workers(options, Set(kTokenTriggers));
  workers.Start();
  int64_t before = Ingest("before the reload");
  ASSERT_TRUE(WaitFor([&] { return Integer({"XLEN", "{pd}:outbox"}) == 1; }));
  workers.SetTokenSecret(new_secret);
  int64_t after = Ingest("after the reload");
  ASSERT_TRUE(WaitFor([&] { return Integer({"XLEN", "{pd}:outbox"}) == 2; }));
  workers.Stop();

  std::vector<std::map<std::string, std::string>> outbox = OutboxEntries();
  ASSERT_EQ(outbox.size(), 2u);
  std::map<int64_t, std::string> bodies;
  for (std::map<std::string, std::string>& n : outbox) bodies[std::stoll(n["ticket"])] = n["body"];
  EXPECT_EQ(bodies[before], "[" + TicketTokens(old_secret).Token(before) + "]");
  EXPECT_EQ(bodies[after], "[" + TicketTokens(new_secret).Token(after) + "]");
  EXPECT_NE(TicketTokens(old_secret).Token(after), TicketTokens(new_secret).Token(after));
}

TEST_F(TriggerQueueTest, SameEntryIsNeverAppliedTwice) {
  int64_t id = Ingest("urgent again");
  std::shared_ptr<const TriggerSet> set = Set(kUrgentTriggers);
  std::unique_ptr<TriggerQueue> slow = Queue("slow/0");
  std::unique_ptr<TriggerQueue> fast = Queue("fast/0");
  Result<std::vector<TriggerQueueEntry>> first = slow->ReadNew(10, 100);
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  // The slow worker is presumed dead; another claims the same entry while it still runs.
  std::this_thread::sleep_for(milliseconds(20));
  Result<std::vector<TriggerQueueEntry>> second = fast->ClaimStale(1, 10);
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 1u);
  Result<LoadedTriggerEvent> a = slow->Load(first->at(0));
  Result<LoadedTriggerEvent> b = fast->Load(second->at(0));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(fast->Apply(second->at(0), b.value(), RunTriggerCycle(*set, b->event)).value(),
            ApplyResult::kApplied);
  EXPECT_EQ(slow->Apply(first->at(0), a.value(), RunTriggerCycle(*set, a->event)).value(),
            ApplyResult::kDuplicate);
  EXPECT_EQ(Integer({"XLEN", "{pd}:outbox"}), 1);
  EXPECT_EQ(TicketField(id, "version"), "2");  // created (1) + one trigger write
}

TEST_F(TriggerQueueTest, WriteAgainstATicketChangedSinceReadIsAConflict) {
  int64_t id = Ingest("urgent: conflict");
  std::unique_ptr<TriggerQueue> queue = Queue("w/0");
  Result<std::vector<TriggerQueueEntry>> read = queue->ReadNew(10, 100);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 1u);
  Result<LoadedTriggerEvent> loaded = queue->Load(read->at(0));
  ASSERT_TRUE(loaded.ok());
  Ingest("reply", "ann@customer.test", id);  // a reply lands between read and write
  TriggerOutcome outcome = RunTriggerCycle(*Set(kUrgentTriggers), loaded->event);
  EXPECT_EQ(queue->Apply(read->at(0), loaded.value(), outcome).value(), ApplyResult::kConflict);
  EXPECT_EQ(TicketField(id, "priority"), "");
  EXPECT_EQ(Integer({"XLEN", "{pd}:outbox"}), 0);
  // Read again: now it applies.
  Result<LoadedTriggerEvent> again = queue->Load(read->at(0));
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(queue->Apply(read->at(0), again.value(), RunTriggerCycle(*Set(kUrgentTriggers), again->event))
                .value(),
            ApplyResult::kApplied);
  EXPECT_EQ(TicketField(id, "priority"), "urgent");
}

TEST_F(TriggerQueueTest, CommentEventSeesReopenAsStatusChange) {
  int64_t id = Ingest("question");
  admin_->CommandArgv({"HSET", "{pd}:ticket:" + std::to_string(id), "status", "solved"});
  Ingest("follow-up", "ann@customer.test", id);
  std::unique_ptr<TriggerQueue> queue = Queue("w/0");
  Result<std::vector<TriggerQueueEntry>> read = queue->ReadNew(10, 100);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 2u);
  Result<LoadedTriggerEvent> comment = queue->Load(read->at(1));
  ASSERT_TRUE(comment.ok());
  EXPECT_EQ(comment->event.update_type, UpdateType::kChange);
  EXPECT_EQ(comment->event.previous.status, "solved");
  EXPECT_EQ(comment->event.current.status, "open");
  EXPECT_EQ(comment->event.comment, "Body of follow-up");
  EXPECT_EQ(comment->event.sender_type, "requester");
  Result<LoadedTriggerEvent> created = queue->Load(read->at(0));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->event.update_type, UpdateType::kCreate);
  EXPECT_EQ(created->event.comment, "Body of question");
}

TEST_F(TriggerQueueTest, CommentFromAnAgentsAddressIsWrittenByAnAgent) {
  int64_t id = Ingest("question");
  Ingest("answer", "Bob@Acme.test", id);
  std::unique_ptr<TriggerQueue> queue = Queue("w/0");
  Result<std::vector<TriggerQueueEntry>> read = queue->ReadNew(10, 100);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 2u);
  const std::set<std::string> agents = {"bob@acme.test"};
  Result<LoadedTriggerEvent> answer = queue->Load(read->at(1), nullptr, &agents);
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->event.sender_type, "agent");
  // Without the agents, or from someone else, the same reads as before.
  answer = queue->Load(read->at(1));
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ(answer->event.sender_type, "end_user");
  Result<LoadedTriggerEvent> question = queue->Load(read->at(0), nullptr, &agents);
  ASSERT_TRUE(question.ok());
  EXPECT_EQ(question->event.sender_type, "requester");
  // An agent who requested the ticket still writes as an agent.
  const std::set<std::string> requester_is_agent = {"ann@customer.test"};
  question = queue->Load(read->at(0), nullptr, &requester_is_agent);
  ASSERT_TRUE(question.ok());
  EXPECT_EQ(question->event.sender_type, "agent");
}

// design.md's "the requester's previous tickets": those opened before this one, by this
// requester only; a comment does not count as a ticket, and of two tickets of one millisecond
// (one message to two brands) the second counts the first.
TEST_F(TriggerQueueTest, RequesterPreviousTicketsCountsOnlyTheirEarlierTickets) {
  int64_t first = Ingest("one");
  Ingest("someone else's", "bob@other.test");
  Ingest("a comment", "ann@customer.test", first);
  Ingest("two", "ann@customer.test", 0, false, {"globex"});
  Ingest("three");
  std::unique_ptr<TriggerQueue> queue = Queue("w/0");
  Result<std::vector<TriggerQueueEntry>> read = queue->ReadNew(10, 100);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 6u);
  std::vector<int64_t> previous;
  for (const TriggerQueueEntry& entry : read.value()) {
    Result<LoadedTriggerEvent> loaded = queue->Load(entry);
    ASSERT_TRUE(loaded.ok()) << loaded.status().message();
    previous.push_back(loaded->event.requester_previous_tickets);
  }
  // one, someone else's, the comment on one (ticket one's count), two at acme and at globex,
  // three.
  EXPECT_EQ(previous, (std::vector<int64_t>{0, 0, 0, 1, 2, 3}));
}

// Texts kept only inside the raw message (no {pd}:body: key) reach the trigger event whole, line
// ends normalised as the parser gave them.
TEST_F(TriggerQueueTest, TextsKeptInTheRawMessageReachTheEvent) {
  int64_t id = Ingest("question", "ann@customer.test", 0, /*text_in_raw=*/true);
  Ingest("follow-up", "ann@customer.test", id, /*text_in_raw=*/true);
  RedisReplyPtr bodies = admin_->CommandArgv({"KEYS", "{pd}:body:*"});
  ASSERT_TRUE(bodies && bodies->type == REDIS_REPLY_ARRAY);
  EXPECT_EQ(bodies->elements, 0u);
  std::unique_ptr<TriggerQueue> queue = Queue("w/0");
  Result<std::vector<TriggerQueueEntry>> read = queue->ReadNew(10, 100);
  ASSERT_TRUE(read.ok());
  ASSERT_EQ(read->size(), 2u);
  Result<LoadedTriggerEvent> created = queue->Load(read->at(0));
  ASSERT_TRUE(created.ok());
  EXPECT_EQ(created->event.current.description, "Body of\nquestion");
  EXPECT_EQ(created->event.comment, "Body of\nquestion");
  Result<LoadedTriggerEvent> comment = queue->Load(read->at(1));
  ASSERT_TRUE(comment.ok());
  EXPECT_EQ(comment->event.comment, "Body of\nfollow-up");
  EXPECT_EQ(comment->event.current.description, "Body of\nquestion");
}

TEST_F(TriggerQueueTest, ActionsAfterAWaitRunLater) {
  auto set = Set(R"([{"title": "Auto-solve", "conditions": {"all": [
      {"field": "update_type", "operator": "is", "value": "Create"}]},
    "actions": [{"field": "status", "value": "pending"}, {"field": "wait", "value": "1"},
                {"field": "status", "value": "solved"}]}])");
  TriggerWorkerOptions options;
  options.redis = redis_->address();
  options.threads = 1;
  TriggerWorkers workers(options, set);
  workers.Start();
  int64_t id = Ingest("wait for it");
  ASSERT_TRUE(WaitFor([&] { return TicketField(id, "status") == "pending"; }));
  EXPECT_EQ(Integer({"ZCARD", "{pd}:delayed"}), 1);
  ASSERT_TRUE(WaitFor([&] { return TicketField(id, "status") == "solved"; }));
  EXPECT_EQ(Integer({"ZCARD", "{pd}:delayed"}), 0);
  workers.Stop();
}

TEST_F(TriggerQueueTest, SuspendSenderActionSuspendsTheirNextMessage) {
  auto set = Set(R"([{"title": "Spammer", "conditions": {"all": [
      {"field": "requester_email", "operator": "contains", "value": "@spam.test"}]},
    "actions": [{"field": "suspend_sender", "value": true}]}])");
  TriggerWorkerOptions options;
  options.redis = redis_->address();
  options.threads = 1;
  TriggerWorkers workers(options, set);
  workers.Start();
  Ingest("buy now", "bot@spam.test");
  ASSERT_TRUE(WaitFor([&] { return workers.counters().applied.load() >= 1; }));
  workers.Stop();
  EXPECT_EQ(Integer({"SISMEMBER", "{pd}:suspended_senders:acme", "bot@spam.test"}), 1);
  Ingest("buy again", "bot@spam.test");
  EXPECT_EQ(Integer({"ZCARD", "{pd}:suspended"}), 1);
}

}  // namespace
}  // namespace postdesk
