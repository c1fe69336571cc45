// RunTriggerCycle against a straightforward reference cycle, over randomly generated trigger sets
// and events: every field, operator and action the loader takes, values in mixed case and with
// non-ASCII letters, so that the engine's index, its compiled conditions and its restart
// shortcuts must agree with the cycle as design.md describes it.
//
// The reference tries every trigger in position order with TriggerMatches (which evaluates a
// trigger's conditions directly, without the set's compiled form), runs each firing's actions
// with ApplyDelayedActions, restarts the pass on any change of the ticket, and renders the
// notifications with the final ticket.
#include <gtest/gtest.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rules/trigger_engine.h"
#include "rules/trigger_loader.h"

namespace postdesk {
namespace {

using Json = nlohmann::json;

// SplitMix64: the same sequence everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
  }
  size_t Below(size_t n) { return static_cast<size_t>(Next() % n); }
  bool Percent(size_t p) { return Below(100) < p; }
  template <typename T>
  const T& Pick(const std::vector<T>& items) {
    return items[Below(items.size())];
  }

 private:
  uint64_t state_;
};

const std::vector<std::string> kAddresses = {"support@acme.test", "sales@acme.test",
                                             "help@beta.test", "info@gamma.test"};
const std::vector<std::string> kBrands = {"Acme", "beta", "GAMMA", "delta"};
const std::vector<std::string> kStatuses = {"new", "open", "pending", "hold", "solved", "closed"};
const std::vector<std::string> kPriorities = {"", "low", "normal", "high", "urgent"};
const std::vector<std::string> kTypes = {"", "question", "incident", "problem", "task"};
const std::vector<std::string> kGroups = {"", "360001", "360002", "Tier2"};
const std::vector<std::string> kAssignees = {"", "bob@acme.test", "Carol@Acme.test"};
const std::vector<std::string> kVias = {"email", "web", "Email"};
const std::vector<std::string> kRequesters = {"alice@example.com", "bob@customer.test",
                                              "émile@exemple.fr"};
const std::vector<std::string> kNames = {"Alice Example", "Bob", "Émile Zola"};
const std::vector<std::string> kWords = {"refund", "invoice", "printer", "broken", "école",
                                         "ÉCOLE",  "urgent",  "asap",    "a1",     "x",
                                         "Refund", "PRINTER", "naïve",   "order",  "help"};
const std::vector<std::string> kTags = {"vip", "spam", "billing", "escalated", "seen", "gold"};
const std::vector<std::string> kRegexes = {".*refund.*", "(?s).*\\d{4,}.*", "printer .*",
                                           ".*école.*",  "[a-z ]+",         ".*\\bx\\b.*",
                                           "(?s)any.*"};

// The value in upper case, lower case or as it is: ids and words compare without ASCII case.
std::string AnyCase(Rng& rng, const std::string& value) {
  std::string out = value;
  size_t how = rng.Below(4);
  for (char& c : out) {
    if (how == 0 && c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (how == 1 && c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Json Cond(const std::string& field, const std::string& op, const Json& value) {
  return Json{{"field", field}, {"operator", op}, {"value", value}};
}

Json Act(const std::string& field, const Json& value) {
  return Json{{"field", field}, {"value", value}};
}

std::string Words(Rng& rng) {
  std::string words = rng.Pick(kWords);
  if (rng.Percent(40)) words += " " + rng.Pick(kWords);
  return words;
}

std::string Tags(Rng& rng) {
  std::string tags = rng.Pick(kTags);
  if (rng.Percent(30)) tags += " " + rng.Pick(kTags);
  return tags;
}

// An id condition: equality, or (for the fields actions change) a change operator.
Json IdCondition(Rng& rng, const std::string& field, const std::vector<std::string>& values,
                 bool changes) {
  static const std::vector<std::string> kChangeOps = {
      "changed", "not_changed", "value", "value_previous", "not_value", "not_value_previous"};
  if (changes && rng.Percent(40)) {
    const std::string& op = rng.Pick(kChangeOps);
    if (op == "changed" || op == "not_changed") return Cond(field, op, nullptr);
    return Cond(field, op, AnyCase(rng, rng.Pick(values)));
  }
  return Cond(field, rng.Percent(70) ? "is" : "is_not", AnyCase(rng, rng.Pick(values)));
}

Json OrderedCondition(Rng& rng, const std::string& field, const std::vector<std::string>& values) {
  static const std::vector<std::string> kOrderOps = {"less_than",          "greater_than",
                                                     "less_than_or_equal", "greater_than_or_equal",
                                                     "less_than_equal",    "greater_than_equal"};
  if (rng.Percent(40)) {
    std::string value = rng.Pick(values);
    if (value.empty()) value = "-";
    return Cond(field, rng.Pick(kOrderOps), AnyCase(rng, value));
  }
  return IdCondition(rng, field, values, true);
}

Json NumberCondition(Rng& rng, const std::string& field, size_t below) {
  static const std::vector<std::string> kOps = {"is",
                                                "is_not",
                                                "less_than",
                                                "greater_than",
                                                "less_than_or_equal",
                                                "less_than_equal",
                                                "greater_than_or_equal",
                                                "greater_than_equal"};
  return Cond(field, rng.Pick(kOps), static_cast<int64_t>(rng.Below(below)));
}

Json TextCondition(Rng& rng, const std::string& field) {
  static const std::vector<std::string> kOps = {
      "is",       "is_not",       "contains", "contains_case_sensitive", "not_contains",
      "includes", "not_includes", "regex",    "regex_case_sensitive"};
  const std::string& op = rng.Pick(kOps);
  if (op == "regex" || op == "regex_case_sensitive") return Cond(field, op, rng.Pick(kRegexes));
  return Cond(field, op, op == "includes" || op == "not_includes" ? Words(rng) : rng.Pick(kWords));
}

Json RandomCondition(Rng& rng) {
  switch (rng.Below(20)) {
    case 0:
      return Cond("update_type", rng.Percent(80) ? "is" : "is_not",
                  rng.Percent(50) ? "Create" : "change");
    case 1:
      return OrderedCondition(rng, "status", kStatuses);
    case 2:
      return OrderedCondition(rng, "priority", kPriorities);
    case 3:
      return IdCondition(rng, "type", kTypes, true);
    case 4:
      return IdCondition(rng, "group_id", kGroups, true);
    case 5:
      return IdCondition(rng, "assignee_id", kAssignees, true);
    case 6:
      return IdCondition(rng, "brand_id", kBrands, false);
    case 7:
      return IdCondition(rng, "received_at", kAddresses, false);
    case 8:
      return Cond(rng.Percent(50) ? "via_id" : "current_via_id", rng.Percent(70) ? "is" : "is_not",
                  rng.Percent(50) ? Json(4) : Json(AnyCase(rng, rng.Pick(kVias))));
    case 9:
      return IdCondition(rng, "requester_id", kRequesters, false);
    case 10: {
      static const std::vector<std::string> kTextFields = {"requester_email", "requester_name",
                                                           "subject", "description", "comment"};
      return TextCondition(rng, rng.Pick(kTextFields));
    }
    case 11:
    case 12:
      return TextCondition(rng,
                           rng.Percent(50) ? "subject_includes_word" : "comment_includes_word");
    case 13: {
      static const std::vector<std::string> kPublic = {"true", "false", "not_relevant",
                                                       "requester_can_see_comment"};
      return Cond("comment_is_public", rng.Percent(70) ? "is" : "is_not", rng.Pick(kPublic));
    }
    case 14:
    case 15:
      return Cond("current_tags", rng.Percent(70) ? "includes" : "not_includes", Tags(rng));
    case 16: {
      static const std::vector<std::string> kSenders = {"requester", "end_user", "agent"};
      return Cond(rng.Percent(50) ? "sender_type" : "role", rng.Percent(70) ? "is" : "is_not",
                  rng.Pick(kSenders));
    }
    case 17:
      return NumberCondition(rng, "hour_of_day", 24);
    case 18:
      return NumberCondition(rng, "day_of_week", 7);
    default:
      return NumberCondition(rng, "requester_previous_tickets", 6);
  }
}

// What the index selects on, as the first condition of most triggers.
Json SelectingCondition(Rng& rng) {
  switch (rng.Below(4)) {
    case 0:
      return Cond("received_at", "is", AnyCase(rng, rng.Pick(kAddresses)));
    case 1:
      return Cond("brand_id", "is", AnyCase(rng, rng.Pick(kBrands)));
    case 2:
      return Cond("current_tags", "includes", Tags(rng));
    default:
      return Cond("update_type", "is", rng.Percent(50) ? "Create" : "Change");
  }
}

Json Notification(Rng& rng) {
  static const std::vector<std::string> kRecipients = {
      "requester_id", "assignee_id", "group_id", "all_agents", "current_user", "lead@acme.test"};
  static const std::vector<std::string> kBodies = {
      "#{{ticket.id}} {{ticket.status}}/{{ticket.priority}}/{{ticket.ticket_type}} tags: "
      "{{ticket.tags}}",
      "Hello {{ticket.requester.first_name}} ({{ticket.requester.name}}, "
      "{{ticket.requester.email}}): "
      "{{ticket.title}}\n{{ticket.comments_formatted}}\n{{ticket.url}}",
      "{{ticket.group.name}} {{ticket.assignee.name}} {{ticket.brand}} {{ticket.received_at}} "
      "{{ticket.via}} {{ticket.created_at}} {{ticket.updated_at}} [{{ticket.encoded_id}}]",
      "{{ticket.description}} | {{ticket.latest_comment}} | {{ticket.latest_public_comment}} | "
      "{{current_user.name}} <{{current_user.email}}>",
      "plain text, no placeholders"};
  size_t kind = rng.Below(4);
  if (kind == 0) {
    return Act("notification_target", Json::array({"target-1", rng.Pick(kBodies)}));
  }
  return Act(kind == 1 ? "notification_group" : "notification_user",
             Json::array({rng.Pick(kRecipients), "[{{ticket.brand}}] {{ticket.title}}",
                          rng.Pick(kBodies)}));
}

Json RandomAction(Rng& rng) {
  switch (rng.Below(12)) {
    case 0:
      return Act("status", rng.Pick(std::vector<std::string>{"open", "pending", "hold", "solved",
                                                             "closed", "Open"}));
    case 1: {
      std::string priority = rng.Pick(kPriorities);
      return Act("priority", priority.empty() ? "-" : AnyCase(rng, priority));
    }
    case 2: {
      std::string type = rng.Pick(kTypes);
      return Act("type", type.empty() ? "-" : type);
    }
    case 3:
      return Act("group_id", AnyCase(rng, rng.Pick(kGroups)));
    case 4:
      return Act("assignee_id", AnyCase(rng, rng.Pick(kAssignees)));
    case 5:
      return Act("set_tags", Tags(rng));
    case 6:
    case 7:
      return Act("current_tags", Tags(rng));
    case 8:
      return Act("remove_tags", Tags(rng));
    case 9:
      return Act("suspend_sender", true);
    default:
      return Notification(rng);
  }
}

std::string RandomTriggers(Rng& rng, size_t count) {
  Json triggers = Json::array();
  for (size_t i = 0; i < count; ++i) {
    Json all = Json::array();
    Json any = Json::array();
    if (rng.Percent(75)) all.push_back(SelectingCondition(rng));
    for (size_t n = rng.Below(3); n > 0; --n) all.push_back(RandomCondition(rng));
    if (rng.Percent(25)) {
      for (size_t n = 1 + rng.Below(3); n > 0; --n) any.push_back(RandomCondition(rng));
    }
    Json actions = Json::array();
    for (size_t n = 1 + rng.Below(3); n > 0; --n) actions.push_back(RandomAction(rng));
    if (rng.Percent(5)) {
      actions.push_back(Act("wait", 60));
      actions.push_back(RandomAction(rng));
    }
    triggers.push_back(Json{{"id", "t" + std::to_string(i)},
                            {"title", "Trigger " + std::to_string(i)},
                            {"active", !rng.Percent(5)},
                            {"position", static_cast<int64_t>(rng.Below(count))},
                            {"conditions", Json{{"all", all}, {"any", any}}},
                            {"actions", actions}});
  }
  return Json{{"triggers", triggers}}.dump();
}

std::string RandomText(Rng& rng, size_t words) {
  static const std::vector<std::string> kFiller = {"the",  "is", "not",  "working", "my",  "Any",
                                                   "news", "on", "this", "#12345",  "2024"};
  std::string text;
  for (size_t i = 0; i < words; ++i) {
    if (!text.empty()) text += rng.Percent(80) ? " " : (rng.Percent(50) ? ", " : "-");
    text += rng.Percent(50) ? AnyCase(rng, rng.Pick(kWords)) : rng.Pick(kFiller);
  }
  return text;
}

TicketState RandomState(Rng& rng, int64_t id) {
  TicketState s;
  s.id = id;
  s.status = rng.Percent(5) ? "Open" : rng.Pick(kStatuses);
  s.priority = rng.Pick(kPriorities);
  s.type = rng.Pick(kTypes);
  s.group = AnyCase(rng, rng.Pick(kGroups));
  s.assignee = AnyCase(rng, rng.Pick(kAssignees));
  s.brand = rng.Percent(10) ? "unknown brand" : AnyCase(rng, rng.Pick(kBrands));
  s.received_at = rng.Percent(10) ? "other@unlisted.test" : AnyCase(rng, rng.Pick(kAddresses));
  s.via = rng.Pick(kVias);
  s.requester_email = rng.Pick(kRequesters);
  s.requester_name = rng.Pick(kNames);
  s.subject = RandomText(rng, rng.Below(7));
  s.description = RandomText(rng, 3 + rng.Below(10));
  for (size_t n = rng.Below(4); n > 0; --n) {
    AddTag(s.tags, rng.Percent(80) ? rng.Pick(kTags) : "unindexed-tag");
  }
  return s;
}

TriggerEvent RandomEvent(Rng& rng, int64_t id) {
  TriggerEvent e;
  e.current = RandomState(rng, id);
  if (rng.Percent(40)) {
    e.update_type = UpdateType::kCreate;
    e.current.status = "new";
    e.previous = TicketState{};
    e.previous.status.clear();
    e.previous.via.clear();
    e.comment = e.current.description;
  } else {
    e.update_type = UpdateType::kChange;
    e.previous = e.current;
    if (rng.Percent(40)) e.previous.status = rng.Pick(kStatuses);
    if (rng.Percent(30)) e.previous.priority = rng.Pick(kPriorities);
    if (rng.Percent(20)) e.previous.type = rng.Pick(kTypes);
    if (rng.Percent(30)) e.previous.group = AnyCase(rng, rng.Pick(kGroups));
    if (rng.Percent(30)) e.previous.assignee = AnyCase(rng, rng.Pick(kAssignees));
    if (rng.Percent(10)) e.previous.assignee = "dave@acme.test";
    e.comment = RandomText(rng, rng.Below(12));
  }
  e.comment_is_public = rng.Percent(70);
  e.sender_type = rng.Percent(50) ? "requester" : (rng.Percent(50) ? "end_user" : "agent");
  e.requester_previous_tickets = static_cast<int64_t>(rng.Below(6));
  e.hour_of_day = static_cast<int>(rng.Below(24));
  e.day_of_week = static_cast<int>(rng.Below(7));
  auto set = [&e](Placeholder p, std::string value) {
    e.placeholders[static_cast<size_t>(p)] = std::move(value);
  };
  set(Placeholder::kTicketLatestComment, e.comment);
  set(Placeholder::kTicketLatestPublicComment, e.comment_is_public ? e.comment : "");
  set(Placeholder::kTicketCommentsFormatted, e.current.requester_name + ": " + e.comment);
  set(Placeholder::kTicketCreatedAt, "Nov 22, 2026, 09:59");
  set(Placeholder::kTicketUrl, "https://helpdesk.test/tickets/" + std::to_string(id));
  set(Placeholder::kTicketEncodedId, "PD-" + std::to_string(id * 7919 % 1000003));
  set(Placeholder::kCurrentUserName, e.current.requester_name);
  set(Placeholder::kCurrentUserEmail, e.current.requester_email);
  // Overwritten by the ticket's own value when rendered: the state wins.
  set(Placeholder::kTicketTitle, "not the subject");
  return e;
}

bool IsNotification(TriggerActionKind kind) {
  return kind == TriggerActionKind::kNotifyUser || kind == TriggerActionKind::kNotifyGroup ||
         kind == TriggerActionKind::kNotifyTarget;
}

// The cycle as design.md states it, over every trigger in order, with no index and no shortcut.
TriggerOutcome ReferenceCycle(const TriggerSet& set, const TriggerEvent& event) {
  TriggerOutcome outcome;
  outcome.state = event.current;
  std::vector<bool> done(set.triggers().size(), false);
  std::vector<std::pair<std::vector<TriggerAction>, std::string>> notify;
  int restarts = 0;
  bool restart = true;
  while (restart) {
    restart = false;
    for (size_t i = 0; i < set.triggers().size(); ++i) {
      const Trigger& trigger = set.triggers()[i];
      if (done[i] || !TriggerMatches(trigger, event, outcome.state)) continue;
      done[i] = true;
      outcome.fired.push_back(trigger.id);
      TriggerEvent now = event;
      now.current = outcome.state;
      TriggerOutcome applied = ApplyDelayedActions(trigger.actions, trigger.id, now);
      std::vector<TriggerAction> notifications;
      for (const TriggerAction& action : trigger.actions) {
        if (action.kind == TriggerActionKind::kWait) break;
        if (IsNotification(action.kind)) notifications.push_back(action);
      }
      notify.emplace_back(std::move(notifications), trigger.id);
      outcome.delayed.insert(outcome.delayed.end(), applied.delayed.begin(), applied.delayed.end());
      outcome.suspend_sender = outcome.suspend_sender || applied.suspend_sender;
      if (applied.state != outcome.state) {
        outcome.state = applied.state;
        outcome.changed = true;
        if (++restarts > kMaxTriggerRestarts) {
          outcome.stopped_by_guard = true;
          break;
        }
        restart = true;
        break;
      }
    }
  }
  // Notifications see the ticket as the cycle left it.
  TriggerEvent last = event;
  last.current = outcome.state;
  for (const auto& [actions, id] : notify) {
    TriggerOutcome rendered = ApplyDelayedActions(actions, id, last);
    for (TriggerNotification& n : rendered.notifications) {
      outcome.notifications.push_back(std::move(n));
    }
  }
  return outcome;
}

void ExpectSameOutcome(const TriggerOutcome& got, const TriggerOutcome& want,
                       const std::string& where) {
  EXPECT_EQ(got.fired, want.fired) << where;
  EXPECT_EQ(got.state, want.state) << where;
  EXPECT_EQ(got.changed, want.changed) << where;
  EXPECT_EQ(got.suspend_sender, want.suspend_sender) << where;
  EXPECT_EQ(got.stopped_by_guard, want.stopped_by_guard) << where;
  ASSERT_EQ(got.notifications.size(), want.notifications.size()) << where;
  for (size_t i = 0; i < got.notifications.size(); ++i) {
    const TriggerNotification& a = got.notifications[i];
    const TriggerNotification& b = want.notifications[i];
    EXPECT_EQ(a.kind, b.kind) << where << " notification " << i;
    EXPECT_EQ(a.recipient, b.recipient) << where << " notification " << i;
    EXPECT_EQ(a.subject, b.subject) << where << " notification " << i;
    EXPECT_EQ(a.body, b.body) << where << " notification " << i;
    EXPECT_EQ(a.trigger_id, b.trigger_id) << where << " notification " << i;
  }
  ASSERT_EQ(got.delayed.size(), want.delayed.size()) << where;
  for (size_t i = 0; i < got.delayed.size(); ++i) {
    EXPECT_EQ(got.delayed[i].delay_seconds, want.delayed[i].delay_seconds) << where;
    EXPECT_EQ(got.delayed[i].actions_json, want.delayed[i].actions_json) << where;
    EXPECT_EQ(got.delayed[i].trigger_id, want.delayed[i].trigger_id) << where;
  }
}

TEST(TriggerCycleDifferential, RandomSetsAndEventsFireAsTheReferenceCycle) {
  constexpr int kSets = 6;
  constexpr int kEventsPerSet = 1500;
  size_t fired = 0, notifications = 0, changed = 0;
  for (int s = 0; s < kSets; ++s) {
    Rng rng(1000 + static_cast<uint64_t>(s));
    // Two sets of different sizes, their events interleaved on this thread, so that what the
    // engine keeps per thread between cycles cannot leak from one set into the other.
    Result<std::shared_ptr<const TriggerSet>> big =
        LoadTriggerSet(RandomTriggers(rng, 150), "big.json");
    ASSERT_TRUE(big.ok()) << big.status().message();
    Result<std::shared_ptr<const TriggerSet>> small =
        LoadTriggerSet(RandomTriggers(rng, 12), "small.json");
    ASSERT_TRUE(small.ok()) << small.status().message();
    for (int i = 0; i < kEventsPerSet; ++i) {
      const TriggerSet& set = i % 3 == 2 ? *small.value() : *big.value();
      TriggerEvent event = RandomEvent(rng, 1000 + i);
      TriggerOutcome want = ReferenceCycle(set, event);
      TriggerOutcome got = RunTriggerCycle(set, event);
      ExpectSameOutcome(got, want, "set " + std::to_string(s) + " event " + std::to_string(i));
      if (HasFailure()) return;
      fired += want.fired.size();
      notifications += want.notifications.size();
      changed += want.changed ? 1 : 0;
    }
  }
  // The generator must exercise the cycle: triggers fire, change tickets and notify.
  EXPECT_GT(fired, static_cast<size_t>(kSets * kEventsPerSet));
  EXPECT_GT(notifications, static_cast<size_t>(kSets * kEventsPerSet / 2));
  EXPECT_GT(changed, static_cast<size_t>(kSets * kEventsPerSet / 2));
}

}  // namespace
}  // namespace postdesk
