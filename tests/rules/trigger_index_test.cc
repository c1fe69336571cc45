// TriggerSet::Candidates (the index that picks which triggers a cycle tests) agreeing with a
// scan of every trigger, and the default triggers a new installation starts with.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "rules/default_triggers.h"
#include "rules/trigger_engine.h"
#include "tests/rules/trigger_test_builders.h"

namespace postdesk::trigger_test {
namespace {

// --- The index --------------------------------------------------------------------------------

std::vector<std::string> CandidateIds(const TriggerSet& set, bool created,
                                      std::string_view received_at, std::string_view brand,
                                      const std::vector<std::string>& tags) {
  std::vector<uint32_t> indexes = {999};  // cleared by Candidates
  set.Candidates(created, received_at, brand, tags, indexes);
  std::vector<std::string> ids;
  for (uint32_t i : indexes) ids.push_back(set.triggers().at(i).id);
  return ids;
}

TEST(TriggerSet, CandidatesAreTheTriggersThatCouldFireInPositionOrder) {
  auto set = LoadSet(Json::array({
      Trig("support", 1, Json::array({Cond("received_at", "is", "support@acme.test")}),
           Json::array({NotifyTarget()})),
      Trig("sales", 2, Json::array({Cond("received_at", "is", "sales@acme.test")}),
           Json::array({NotifyTarget()})),
      Trig("unindexed", 3, Json::array({Cond("subject", "contains", "x")}),
           Json::array({NotifyTarget()})),
      Trig("brand-acme", 4, Json::array({Cond("brand_id", "is", "acme")}),
           Json::array({NotifyTarget()})),
      Trig("brand-other", 5, Json::array({Cond("brand_id", "is", "other")}),
           Json::array({NotifyTarget()})),
      Trig("tag-vip-gold", 6, Json::array({Cond("current_tags", "includes", "vip gold")}),
           Json::array({NotifyTarget()})),
      Trig("tag-spam", 7, Json::array({Cond("current_tags", "includes", "spam")}),
           Json::array({NotifyTarget()})),
      Trig("create", 8, Json::array({Cond("update_type", "is", "Create")}),
           Json::array({NotifyTarget()})),
      Trig("change", 9, Json::array({Cond("update_type", "is", "Change")}),
           Json::array({NotifyTarget()})),
      Trig("none", 10, Json::array(), Json::array({NotifyTarget()})),
      // received_at wins over the other facts; "is_not" and "not_includes" select nothing.
      Trig("support-create", 11,
           Json::array({Cond("update_type", "is", "Create"),
                        Cond("received_at", "is", "support@acme.test")}),
           Json::array({NotifyTarget()})),
      Trig("not-support", 12, Json::array({Cond("received_at", "is_not", "support@acme.test")}),
           Json::array({NotifyTarget()})),
      Trig("not-vip", 13, Json::array({Cond("current_tags", "not_includes", "vip")}),
           Json::array({NotifyTarget()})),
      Trig("any-support", 14, Json::array(), Json::array({NotifyTarget()}),
           Json::array({Cond("received_at", "is", "support@acme.test")})),
  }));
  EXPECT_EQ(CandidateIds(*set, true, "support@acme.test", "acme", {"gold", "vip"}),
            (std::vector<std::string>{"support", "unindexed", "brand-acme", "tag-vip-gold",
                                      "create", "none", "support-create", "not-support", "not-vip",
                                      "any-support"}));
  EXPECT_EQ(CandidateIds(*set, false, "sales@acme.test", "other", {"spam"}),
            (std::vector<std::string>{"sales", "unindexed", "brand-other", "tag-spam", "change",
                                      "none", "not-support", "not-vip", "any-support"}));
  EXPECT_EQ(CandidateIds(*set, false, "nobody@acme.test", "nobrand", {}),
            (std::vector<std::string>{"unindexed", "change", "none", "not-support", "not-vip",
                                      "any-support"}));
  EXPECT_EQ(CandidateIds(*set, true, "", "", {"vip"}),
            (std::vector<std::string>{"unindexed", "tag-vip-gold", "create", "none", "not-support",
                                      "not-vip", "any-support"}));
}

TEST(TriggerSet, CandidatesWithManyTagsStillIncludeEveryTaggedTrigger) {
  Json triggers = Json::array();
  std::vector<std::string> tags;
  for (int i = 0; i < 100; ++i) {
    std::string tag = "tag" + std::to_string(i);
    tags.push_back(tag);
    triggers.push_back(Trig(tag, i, Json::array({Cond("current_tags", "includes", tag)}),
                            Json::array({NotifyTarget()})));
  }
  triggers.push_back(Trig("other", 100, Json::array({Cond("current_tags", "includes", "zzz")}),
                          Json::array({NotifyTarget()})));
  auto set = LoadSet(triggers);
  std::sort(tags.begin(), tags.end());
  std::vector<std::string> ids = CandidateIds(*set, false, "", "", tags);
  // Every tagged trigger whose tag the ticket has (and maybe more: never fewer).
  for (int i = 0; i < 100; ++i) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), "tag" + std::to_string(i)), ids.end()) << i;
  }
  EXPECT_TRUE(
      std::is_sorted(ids.begin(), ids.end(), [&set](const std::string& a, const std::string& b) {
        auto pos = [&set](const std::string& id) {
          for (const Trigger& t : set->triggers()) {
            if (t.id == id) return t.position;
          }
          return int64_t{-1};
        };
        return pos(a) < pos(b);
      }));
  TriggerEvent e = Changed();
  e.current.tags = tags;
  EXPECT_EQ(RunTriggerCycle(*set, e).fired.size(), 100u);
}

// The cycle as the design describes it, over every trigger, with no index: each pass tries every
// trigger in position order; a firing that changes the ticket starts a new pass.
std::vector<std::string> BruteForceFired(const TriggerSet& set, const TriggerEvent& event,
                                         TicketState* final_state) {
  std::vector<std::string> fired;
  std::vector<bool> done(set.triggers().size(), false);
  TicketState state = event.current;
  bool restart = true;
  while (restart) {
    restart = false;
    for (size_t i = 0; i < set.triggers().size(); ++i) {
      const Trigger& trigger = set.triggers()[i];
      if (done[i] || !TriggerMatches(trigger, event, state)) continue;
      done[i] = true;
      fired.push_back(trigger.id);
      TriggerEvent now = event;
      now.current = state;
      TriggerOutcome applied = ApplyDelayedActions(trigger.actions, trigger.id, now);
      if (applied.state != state) {
        state = applied.state;
        restart = true;
        break;
      }
    }
  }
  *final_state = state;
  return fired;
}

TEST(TriggerSet, TenThousandTriggersFireAsABruteForceCycleWould) {
  constexpr int kCount = 10000;
  Json triggers = Json::array();
  auto address = [](int i) { return "user" + std::to_string(i) + "@acme.test"; };
  for (int i = 0; i < kCount; ++i) {
    // Positions interleave the file order; every trigger selects on its own address.
    int position = static_cast<int>((static_cast<int64_t>(i) * 7919) % kCount);
    Json all = Json::array({Cond("received_at", "is", address(i))});
    Json actions = Json::array();
    switch (i % 4) {
      case 0:
        actions.push_back(Act("current_tags", "seen"));
        break;
      case 1:
        all.push_back(Cond("current_tags", "includes", "new-ticket"));
        actions.push_back(Act("priority", "urgent"));
        break;
      case 2:
        all.push_back(Cond("update_type", "is", "Create"));
        actions.push_back(NotifyTarget("created"));
        break;
      default:
        all.push_back(Cond("current_tags", "includes", "escalated"));
        actions.push_back(Act("status", "hold"));
        break;
    }
    triggers.push_back(Trig("r" + std::to_string(i), position, all, actions));
  }
  // A few triggers that every address can reach, some late in the order, chaining with the above.
  triggers.push_back(Trig("tag-seen", kCount + 1,
                          Json::array({Cond("current_tags", "includes", "seen")}),
                          Json::array({Act("current_tags", "escalated")})));
  triggers.push_back(Trig("create", kCount + 2, Json::array({Cond("update_type", "is", "Create")}),
                          Json::array({Act("current_tags", "new-ticket")})));
  triggers.push_back(Trig("urgent", 0, Json::array({Cond("priority", "is", "urgent")}),
                          Json::array({Act("status", "pending")})));
  triggers.push_back(Trig("pending", -1, Json::array({Cond("status", "is", "pending")}),
                          Json::array({NotifyTarget("pending")})));
  triggers.push_back(Trig("brand", kCount + 3, Json::array({Cond("brand_id", "is", "acme")}),
                          Json::array({NotifyTarget("brand")})));
  auto set = LoadSet(triggers);
  ASSERT_EQ(set->triggers().size(), static_cast<size_t>(kCount + 5));

  int fired_somewhere = 0;
  for (int user : {0, 1, 2, 3, 4, 5, 6, 7, 4242, 9999, 123456}) {
    for (bool create : {true, false}) {
      TriggerEvent e = create ? Created() : Changed();
      e.current.received_at = address(user);
      e.previous.received_at = create ? "" : e.current.received_at;
      TicketState brute_state;
      std::vector<std::string> expected = BruteForceFired(*set, e, &brute_state);
      TriggerOutcome outcome = RunTriggerCycle(*set, e);
      EXPECT_EQ(outcome.fired, expected) << address(user) << (create ? " create" : " change");
      EXPECT_EQ(outcome.state, brute_state) << address(user);
      for (const std::string& id : outcome.fired) fired_somewhere += id[0] == 'r';

      // The index hands the cycle a handful of triggers, not 10,000.
      std::vector<uint32_t> candidates;
      set->Candidates(create, e.current.received_at, e.current.brand,
                      {"escalated", "new-ticket", "seen"}, candidates);
      EXPECT_LE(candidates.size(), 7u);
    }
  }
  EXPECT_GE(fired_somewhere, 8);
}

// --- The default triggers ---------------------------------------------------------------------

TEST(DefaultTriggers, LoadAndNotifyTheRequesterOnCreate) {
  Result<std::shared_ptr<const TriggerSet>> set = LoadTriggerSet(kDefaultTriggersJson, "defaults");
  ASSERT_TRUE(set.ok()) << set.status().message();
  EXPECT_EQ(set.value()->triggers().size(), 8u);
  EXPECT_EQ(set.value()->inactive_count(), 0u);

  TriggerOutcome outcome = RunTriggerCycle(*set.value(), Created());
  EXPECT_FALSE(outcome.changed);
  EXPECT_EQ(outcome.fired, (std::vector<std::string>{"default-notify-requester-received",
                                                     "default-notify-agents-received"}));
  ASSERT_EQ(outcome.notifications.size(), 2u);
  const TriggerNotification& requester = outcome.notifications[0];
  EXPECT_EQ(requester.kind, TriggerActionKind::kNotifyUser);
  EXPECT_EQ(requester.recipient, "alice@example.com");
  EXPECT_EQ(requester.subject, "[acme] Re: Printer broken");
  EXPECT_NE(requester.body.find("Your request (42) has been received"), std::string::npos)
      << requester.body;
  EXPECT_EQ(outcome.notifications[1].recipient, "all_agents");
  EXPECT_NE(outcome.notifications[1].body.find("#42"), std::string::npos);
}

TEST(DefaultTriggers, NotifyOnCommentSolveAndAssignment) {
  Result<std::shared_ptr<const TriggerSet>> set = LoadTriggerSet(kDefaultTriggersJson, "defaults");
  ASSERT_TRUE(set.ok()) << set.status().message();

  // The requester's own comment notifies nobody but the assignee.
  TriggerEvent e = Changed();
  e.current.assignee = "bob@acme.test";
  e.previous.assignee = "bob@acme.test";
  TriggerOutcome own = RunTriggerCycle(*set.value(), e);
  EXPECT_EQ(own.fired, std::vector<std::string>{"default-notify-assignee-comment"});

  // Someone else's public comment also goes to the requester.
  e.sender_type = "end_user";
  TriggerOutcome other = RunTriggerCycle(*set.value(), e);
  EXPECT_EQ(other.fired, (std::vector<std::string>{"default-notify-requester-comment",
                                                   "default-notify-assignee-comment"}));

  // Solved.
  TriggerEvent solved = StatusChange("open", "solved");
  TriggerOutcome s = RunTriggerCycle(*set.value(), solved);
  EXPECT_EQ(s.fired, std::vector<std::string>{"default-notify-requester-solved"});
  ASSERT_EQ(s.notifications.size(), 1u);
  EXPECT_NE(s.notifications[0].body.find("(42) has been solved"), std::string::npos);

  // Reopened and assigned to a group.
  TriggerEvent reopened = StatusChange("solved", "open");
  reopened.sender_type = "requester";
  reopened.current.group = "tier2";
  TriggerOutcome r = RunTriggerCycle(*set.value(), reopened);
  EXPECT_EQ(r.fired, std::vector<std::string>{"default-notify-group-assignment"});
  ASSERT_EQ(r.notifications.size(), 1u);
  EXPECT_EQ(r.notifications[0].recipient, "tier2");
}

}  // namespace
}  // namespace postdesk::trigger_test
