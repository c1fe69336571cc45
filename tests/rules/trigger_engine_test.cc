// The trigger cycle through the public API: triggers loaded from Zendesk JSON
// (tests/rules/trigger_test_builders.h), RunTriggerCycle's actions and its rounds, placeholders,
// and ApplyDelayedActions. Conditions are in trigger_conditions_test.cc, the index and the
// default triggers in trigger_index_test.cc.
#include "rules/trigger_engine.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/rules/trigger_test_builders.h"

namespace postdesk::trigger_test {
namespace {

// --- Actions ----------------------------------------------------------------------------------

TriggerOutcome RunOne(const Json& actions, const TriggerEvent& event) {
  auto set = LoadSet(Json::array({Trig("act", 1, Json::array(), actions)}));
  return RunTriggerCycle(*set, event);
}

TEST(TriggerEngine, FieldActionsSetStatusPriorityTypeGroupAndAssignee) {
  TriggerOutcome outcome = RunOne(
      Json::array({Act("status", "Pending"), Act("priority", "high"), Act("type", "incident"),
                   Act("group_id", 360001), Act("assignee_id", "Bob@Acme.test")}),
      Changed());
  EXPECT_EQ(outcome.fired, std::vector<std::string>{"act"});
  EXPECT_TRUE(outcome.changed);
  EXPECT_EQ(outcome.state.status, "pending");
  EXPECT_EQ(outcome.state.priority, "high");
  EXPECT_EQ(outcome.state.type, "incident");
  EXPECT_EQ(outcome.state.group, "360001");
  EXPECT_EQ(outcome.state.assignee, "bob@acme.test");
  EXPECT_EQ(outcome.state.subject, "Printer broken");  // untouched
}

TEST(TriggerEngine, DashClearsPriorityAndType) {
  TriggerOutcome outcome = RunOne(Json::array({Act("priority", "-"), Act("type", "-")}), Changed());
  EXPECT_TRUE(outcome.changed);
  EXPECT_EQ(outcome.state.priority, "");
  EXPECT_EQ(outcome.state.type, "");
}

TEST(TriggerEngine, SettingTheSameValueIsNoChange) {
  TriggerOutcome outcome =
      RunOne(Json::array({Act("status", "open"), Act("priority", "normal")}), Changed());
  EXPECT_EQ(outcome.fired, std::vector<std::string>{"act"});
  EXPECT_FALSE(outcome.changed);
  EXPECT_EQ(outcome.state, Changed().current);
}

TEST(TriggerEngine, TagActionsSetAddAndRemove) {
  TriggerEvent e = Changed();
  e.current.tags = {"old", "vip"};
  TriggerOutcome set_tags = RunOne(Json::array({Act("set_tags", "New Fresh new")}), e);
  EXPECT_EQ(set_tags.state.tags, (std::vector<std::string>{"fresh", "new"}));
  TriggerOutcome add =
      RunOne(Json::array({Act("current_tags", Json::array({"b", "VIP", "a"}))}), e);
  EXPECT_EQ(add.state.tags, (std::vector<std::string>{"a", "b", "old", "vip"}));
  TriggerOutcome remove = RunOne(Json::array({Act("remove_tags", "vip missing")}), e);
  EXPECT_EQ(remove.state.tags, std::vector<std::string>{"old"});
  TriggerOutcome nothing =
      RunOne(Json::array({Act("current_tags", "vip"), Act("remove_tags", "absent")}), e);
  EXPECT_FALSE(nothing.changed);
}

TEST(TriggerEngine, NotifyRequesterGoesToTheRequesterAddress) {
  TriggerOutcome outcome = RunOne(
      Json::array({Act("notification_user", Json::array({"requester_id", "Re: {{ticket.title}}",
                                                         "Ticket {{ticket.id}}"}))}),
      Created());
  ASSERT_EQ(outcome.notifications.size(), 1u);
  const TriggerNotification& n = outcome.notifications[0];
  EXPECT_EQ(n.kind, TriggerActionKind::kNotifyUser);
  EXPECT_EQ(n.recipient, "alice@example.com");
  EXPECT_EQ(n.subject, "Re: Printer broken");
  EXPECT_EQ(n.body, "Ticket 42");
  EXPECT_EQ(n.trigger_id, "act");
  EXPECT_FALSE(outcome.changed);
}

TEST(TriggerEngine, NotifyAssigneeIsSkippedWithoutAnAssignee) {
  Json actions = Json::array(
      {Act("notification_user", Json::array({"assignee_id", "Assigned", "#{{ticket.id}}"}))});
  TriggerEvent e = Changed();
  TriggerOutcome without = RunOne(actions, e);
  EXPECT_EQ(without.fired, std::vector<std::string>{"act"});
  EXPECT_TRUE(without.notifications.empty());
  e.current.assignee = "bob@acme.test";
  TriggerOutcome with = RunOne(actions, e);
  ASSERT_EQ(with.notifications.size(), 1u);
  EXPECT_EQ(with.notifications[0].recipient, "bob@acme.test");
}

TEST(TriggerEngine, NotifyAssigneeSeesTheAssigneeSetInTheCycle) {
  TriggerOutcome outcome = RunOne(
      Json::array(
          {Act("notification_user", Json::array({"assignee_id", "Assigned", "#{{ticket.id}}"})),
           Act("assignee_id", "carol@acme.test")}),
      Changed());
  ASSERT_EQ(outcome.notifications.size(), 1u);
  EXPECT_EQ(outcome.notifications[0].recipient, "carol@acme.test");
}

TEST(TriggerEngine, NotifyAllAgentsAndGroups) {
  TriggerEvent e = Changed();
  e.current.group = "360001";
  TriggerOutcome outcome = RunOne(
      Json::array({Act("notification_user", Json::array({"all_agents", "New", "{{ticket.id}}"})),
                   Act("notification_group", Json::array({"group_id", "Group", "g {{ticket.id}}"})),
                   Act("notification_group", Json::array({360002, "Other", "o"}))}),
      e);
  ASSERT_EQ(outcome.notifications.size(), 3u);
  EXPECT_EQ(outcome.notifications[0].kind, TriggerActionKind::kNotifyUser);
  EXPECT_EQ(outcome.notifications[0].recipient, "all_agents");
  EXPECT_EQ(outcome.notifications[1].kind, TriggerActionKind::kNotifyGroup);
  EXPECT_EQ(outcome.notifications[1].recipient, "360001");
  EXPECT_EQ(outcome.notifications[1].subject, "Group");
  EXPECT_EQ(outcome.notifications[1].body, "g 42");
  EXPECT_EQ(outcome.notifications[2].recipient, "360002");
  // Without a group, a notification to the ticket's group is skipped.
  e.current.group.clear();
  TriggerOutcome no_group =
      RunOne(Json::array({Act("notification_group", Json::array({"group_id", "Group", "g"}))}), e);
  EXPECT_TRUE(no_group.notifications.empty());
}

TEST(TriggerEngine, NotifyTargetHasNoSubject) {
  TriggerOutcome outcome = RunOne(
      Json::array({Act("notification_target", Json::array({"target-7", "Ticket {{ticket.id}}"}))}),
      Changed());
  ASSERT_EQ(outcome.notifications.size(), 1u);
  EXPECT_EQ(outcome.notifications[0].kind, TriggerActionKind::kNotifyTarget);
  EXPECT_EQ(outcome.notifications[0].recipient, "target-7");
  EXPECT_EQ(outcome.notifications[0].subject, "");
  EXPECT_EQ(outcome.notifications[0].body, "Ticket 42");
}

TEST(TriggerEngine, SuspendSenderIsReported) {
  EXPECT_FALSE(RunOne(Json::array({NotifyTarget()}), Created()).suspend_sender);
  TriggerOutcome outcome = RunOne(Json::array({Act("suspend_sender", true)}), Created());
  EXPECT_TRUE(outcome.suspend_sender);
  EXPECT_FALSE(outcome.changed);
}

TEST(TriggerEngine, WaitDelaysTheActionsAfterIt) {
  Json after =
      Json::array({Act("priority", "high"),
                   Act("notification_user",
                       Json::array({"requester_id", "Still open", "{{ticket.priority}}"}))});
  Json actions = Json::array({Act("status", "pending"), Act("wait", 3600)});
  for (const Json& action : after) actions.push_back(action);
  TriggerOutcome outcome = RunOne(actions, Changed());
  EXPECT_EQ(outcome.state.status, "pending");
  EXPECT_EQ(outcome.state.priority, "normal");  // not yet
  EXPECT_TRUE(outcome.notifications.empty());
  ASSERT_EQ(outcome.delayed.size(), 1u);
  EXPECT_EQ(outcome.delayed[0].delay_seconds, 3600);
  EXPECT_EQ(outcome.delayed[0].trigger_id, "act");
  EXPECT_EQ(Json::parse(outcome.delayed[0].actions_json), after);

  Result<std::vector<TriggerAction>> parsed = ParseTriggerActions(outcome.delayed[0].actions_json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 2u);
  EXPECT_EQ(parsed.value()[0].kind, TriggerActionKind::kPriority);
  EXPECT_EQ(parsed.value()[1].kind, TriggerActionKind::kNotifyUser);

  // Later, against the ticket as it is then.
  TriggerEvent later = Changed();
  later.current = outcome.state;
  later.previous = outcome.state;
  TriggerOutcome delayed = ApplyDelayedActions(parsed.value(), "act", later);
  EXPECT_TRUE(delayed.changed);
  EXPECT_EQ(delayed.state.status, "pending");
  EXPECT_EQ(delayed.state.priority, "high");
  EXPECT_TRUE(delayed.fired.empty());
  ASSERT_EQ(delayed.notifications.size(), 1u);
  EXPECT_EQ(delayed.notifications[0].recipient, "alice@example.com");
  EXPECT_EQ(delayed.notifications[0].body, "high");
  EXPECT_EQ(delayed.notifications[0].trigger_id, "act");
}

TEST(TriggerEngine, WaitInsideDelayedActionsDelaysAgain) {
  TriggerOutcome outcome = RunOne(Json::array({Act("wait", 60), Act("current_tags", "first"),
                                               Act("wait", "120"), Act("current_tags", "second")}),
                                  Changed());
  EXPECT_FALSE(outcome.changed);
  ASSERT_EQ(outcome.delayed.size(), 1u);
  EXPECT_EQ(outcome.delayed[0].delay_seconds, 60);
  Result<std::vector<TriggerAction>> first = ParseTriggerActions(outcome.delayed[0].actions_json);
  ASSERT_TRUE(first.ok()) << first.status().message();
  TriggerOutcome step1 = ApplyDelayedActions(first.value(), "act", Changed());
  EXPECT_EQ(step1.state.tags, std::vector<std::string>{"first"});
  ASSERT_EQ(step1.delayed.size(), 1u);
  EXPECT_EQ(step1.delayed[0].delay_seconds, 120);
  Result<std::vector<TriggerAction>> second = ParseTriggerActions(step1.delayed[0].actions_json);
  ASSERT_TRUE(second.ok()) << second.status().message();
  TriggerEvent later = Changed();
  later.current = step1.state;
  TriggerOutcome step2 = ApplyDelayedActions(second.value(), "act", later);
  EXPECT_EQ(step2.state.tags, (std::vector<std::string>{"first", "second"}));
  EXPECT_TRUE(step2.delayed.empty());
}

TEST(TriggerEngine, WaitAsTheLastActionDelaysNothing) {
  TriggerOutcome outcome =
      RunOne(Json::array({Act("status", "pending"), Act("wait", 60)}), Changed());
  EXPECT_EQ(outcome.state.status, "pending");
  EXPECT_TRUE(outcome.delayed.empty());
}

// --- The cycle --------------------------------------------------------------------------------

TEST(TriggerEngine, TriggersRunInPositionOrderNotFileOrder) {
  auto set = LoadSet(Json::array({
      Trig("third", 30, Json::array(), Json::array({NotifyTarget("3")})),
      Trig("first", 10, Json::array(), Json::array({NotifyTarget("1")})),
      Trig("second", 20, Json::array(), Json::array({NotifyTarget("2")})),
  }));
  TriggerOutcome outcome = RunTriggerCycle(*set, Changed());
  EXPECT_EQ(outcome.fired, (std::vector<std::string>{"first", "second", "third"}));
  ASSERT_EQ(outcome.notifications.size(), 3u);
  EXPECT_EQ(outcome.notifications[0].body, "1");
  EXPECT_EQ(outcome.notifications[2].body, "3");
}

TEST(TriggerEngine, EqualPositionsKeepFileOrder) {
  auto set = LoadSet(Json::array({
      Trig("b", 5, Json::array(), Json::array({NotifyTarget()})),
      Trig("a", 5, Json::array(), Json::array({NotifyTarget()})),
      Trig("c", 1, Json::array(), Json::array({NotifyTarget()})),
  }));
  EXPECT_EQ(RunTriggerCycle(*set, Changed()).fired, (std::vector<std::string>{"c", "b", "a"}));
}

TEST(TriggerEngine, ChangingTriggerRestartsFromTheFirst) {
  // Position 1 needs tag "b", which position 2 adds: both fire, 2 first.
  auto set = LoadSet(Json::array({
      Trig("2", 2, Json::array(), Json::array({Act("current_tags", "b")})),
      Trig("1", 1, Json::array({Cond("current_tags", "includes", "b")}),
           Json::array({Act("current_tags", "c")})),
  }));
  TriggerOutcome outcome = RunTriggerCycle(*set, Changed());
  EXPECT_EQ(outcome.fired, (std::vector<std::string>{"2", "1"}));
  EXPECT_EQ(outcome.state.tags, (std::vector<std::string>{"b", "c"}));
  EXPECT_TRUE(outcome.changed);
  EXPECT_FALSE(outcome.stopped_by_guard);
}

TEST(TriggerEngine, RestartChainsThroughSeveralTriggers) {
  // 3 sets priority, which 2 waits for, whose tag 1 waits for.
  auto set = LoadSet(Json::array({
      Trig("1", 1, Json::array({Cond("current_tags", "includes", "escalated")}),
           Json::array({Act("group_id", "tier2")})),
      Trig("2", 2, Json::array({Cond("priority", "is", "urgent")}),
           Json::array({Act("current_tags", "escalated")})),
      Trig("3", 3, Json::array({Cond("subject", "contains", "broken")}),
           Json::array({Act("priority", "urgent")})),
  }));
  TriggerOutcome outcome = RunTriggerCycle(*set, Changed());
  EXPECT_EQ(outcome.fired, (std::vector<std::string>{"3", "2", "1"}));
  EXPECT_EQ(outcome.state.group, "tier2");
}

TEST(TriggerEngine, EachTriggerFiresAtMostOncePerEvent) {
  // "up" would match again after "down" undoes it; it does not fire a second time.
  auto set = LoadSet(Json::array({
      Trig("up", 1, Json::array({Cond("priority", "is_not", "high")}),
           Json::array({Act("priority", "high")})),
      Trig("down", 2, Json::array({Cond("priority", "is", "high")}),
           Json::array({Act("priority", "low")})),
  }));
  TriggerOutcome outcome = RunTriggerCycle(*set, Changed());
  EXPECT_EQ(outcome.fired, (std::vector<std::string>{"up", "down"}));
  EXPECT_EQ(outcome.state.priority, "low");
  EXPECT_FALSE(outcome.stopped_by_guard);
}

TEST(TriggerEngine, TriggersThatUndoEachOtherStop) {
  auto set = LoadSet(Json::array({
      Trig("add", 1, Json::array({Cond("current_tags", "not_includes", "x")}),
           Json::array({Act("current_tags", "x")})),
      Trig("remove", 2, Json::array({Cond("current_tags", "includes", "x")}),
           Json::array({Act("remove_tags", "x")})),
  }));
  TriggerOutcome outcome = RunTriggerCycle(*set, Changed());
  EXPECT_EQ(outcome.fired, (std::vector<std::string>{"add", "remove"}));
  EXPECT_TRUE(outcome.state.tags.empty());
  EXPECT_TRUE(outcome.changed);
}

TEST(TriggerEngine, NotifyOnlyTriggersDoNotRestartTheCycle) {
  // Were each notification a restart, more of them than the guard allows would stop the cycle.
  Json triggers = Json::array();
  const int count = kMaxTriggerRestarts + 50;
  for (int i = 0; i < count; ++i) {
    triggers.push_back(Trig(std::to_string(i), i, Json::array(), Json::array({NotifyTarget()})));
  }
  TriggerOutcome outcome = RunTriggerCycle(*LoadSet(triggers), Changed());
  EXPECT_EQ(outcome.fired.size(), static_cast<size_t>(count));
  EXPECT_EQ(outcome.notifications.size(), static_cast<size_t>(count));
  EXPECT_FALSE(outcome.changed);
  EXPECT_FALSE(outcome.stopped_by_guard);
}

TEST(TriggerEngine, GuardStopsARunawayCycle) {
  Json triggers = Json::array();
  const int count = kMaxTriggerRestarts + 50;
  for (int i = 0; i < count; ++i) {
    triggers.push_back(Trig(std::to_string(i), i, Json::array(),
                            Json::array({Act("current_tags", "t" + std::to_string(i))})));
  }
  TriggerOutcome outcome = RunTriggerCycle(*LoadSet(triggers), Changed());
  EXPECT_TRUE(outcome.stopped_by_guard);
  EXPECT_EQ(outcome.fired.size(), static_cast<size_t>(kMaxTriggerRestarts + 1));
  EXPECT_EQ(outcome.state.tags.size(), static_cast<size_t>(kMaxTriggerRestarts + 1));
}

TEST(TriggerEngine, NotificationsAreRenderedWithTheFinalState) {
  auto set = LoadSet(Json::array({
      Trig("notify", 1, Json::array(),
           Json::array(
               {Act("notification_user",
                    Json::array({"requester_id", "{{ticket.priority}}",
                                 "Priority {{ticket.priority}}, status {{ticket.status}}"}))})),
      Trig("escalate", 2, Json::array(),
           Json::array({Act("priority", "urgent"), Act("status", "pending")})),
  }));
  TriggerOutcome outcome = RunTriggerCycle(*set, Changed());
  EXPECT_EQ(outcome.fired, (std::vector<std::string>{"notify", "escalate"}));
  ASSERT_EQ(outcome.notifications.size(), 1u);
  EXPECT_EQ(outcome.notifications[0].subject, "urgent");
  EXPECT_EQ(outcome.notifications[0].body, "Priority urgent, status pending");
  EXPECT_EQ(outcome.notifications[0].trigger_id, "notify");
}

TEST(TriggerEngine, InactiveTriggersNeverFire) {
  Json inactive = Trig("off", 1, Json::array(), Json::array({Act("status", "solved")}));
  inactive["active"] = false;
  Json needs_solved = Trig("needs-solved", 2, Json::array({Cond("status", "is", "solved")}),
                           Json::array({NotifyTarget()}));
  auto set = LoadSet(Json::array({inactive, needs_solved}));
  EXPECT_EQ(set->triggers().size(), 1u);
  EXPECT_EQ(set->inactive_count(), 1u);
  for (const TriggerEvent& e : {Created(), Changed()}) {
    TriggerOutcome outcome = RunTriggerCycle(*set, e);
    EXPECT_TRUE(outcome.fired.empty());
    EXPECT_FALSE(outcome.changed);
  }
}

TEST(TriggerEngine, NothingFiresLeavesTheStateAlone) {
  auto set = LoadSet(Json::array({Trig("never", 1, Json::array({Cond("status", "is", "closed")}),
                                       Json::array({Act("status", "open")}))}));
  TriggerEvent e = Changed();
  TriggerOutcome outcome = RunTriggerCycle(*set, e);
  EXPECT_TRUE(outcome.fired.empty());
  EXPECT_FALSE(outcome.changed);
  EXPECT_EQ(outcome.state, e.current);
}

// --- Placeholders -----------------------------------------------------------------------------

TEST(TriggerEngine, PlaceholdersRenderFromTheTicket) {
  auto set = LoadSet(Json::array({Trig(
      "p", 1, Json::array(),
      Json::array({Act("status", "solved"), Act("current_tags", "vip b"),
                   Act("notification_user",
                       Json::array({"requester_id", "[{{ticket.id}}] {{ ticket.title }}",
                                    "Hello {{ticket.requester.name}} <{{ticket.requester.email}}>: "
                                    "#{{ticket.id}} is {{ticket.status}} [{{ticket.tags}}] "
                                    "{{ticket.url}}"}))}))}));
  TriggerEvent e = Created();
  e.placeholders[static_cast<size_t>(Placeholder::kTicketUrl)] = "https://help.acme.test/42";
  TriggerOutcome outcome = RunTriggerCycle(*set, e);
  ASSERT_EQ(outcome.notifications.size(), 1u);
  EXPECT_EQ(outcome.notifications[0].subject, "[42] Printer broken");
  EXPECT_EQ(outcome.notifications[0].body,
            "Hello Alice Example <alice@example.com>: #42 is solved [b vip] "
            "https://help.acme.test/42");
}

TEST(TriggerEngine, GroupNamePlaceholderIsTheConfiguredNameOfTheFinalGroup) {
  auto loaded = LoadSet(Json::array({Trig(
      "g", 1, Json::array(),
      Json::array({Act("group_id", "360000777"),
                   Act("notification_user",
                       Json::array({"requester_id", "s", "Group {{ticket.group.name}}"}))}))}));
  std::vector<Trigger> triggers = loaded->triggers();
  TriggerSet named(triggers, GroupNames{{"360000777", "Billing"}});
  TriggerOutcome outcome = RunTriggerCycle(named, Created());
  ASSERT_EQ(outcome.notifications.size(), 1u);
  EXPECT_EQ(outcome.notifications[0].body, "Group Billing");
  // A group the configuration does not name shows its id.
  EXPECT_EQ(RunTriggerCycle(*loaded, Created()).notifications[0].body, "Group 360000777");
}

TEST(TriggerEngine, PlaceholderValuesAreNotReexpanded) {
  TriggerEvent e = Created();
  e.current.subject = "{{ticket.id}}";
  TriggerOutcome outcome =
      RunOne(Json::array({Act("notification_target", Json::array({"t", "{{ticket.title}}"}))}), e);
  ASSERT_EQ(outcome.notifications.size(), 1u);
  EXPECT_EQ(outcome.notifications[0].body, "{{ticket.id}}");
}

}  // namespace
}  // namespace postdesk::trigger_test
