// The trigger cycle through the public API: triggers loaded from Zendesk JSON (LoadTriggerSet),
// events built by hand, RunTriggerCycle / ApplyDelayedActions / TriggerSet::Candidates.
#include "rules/trigger_engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rules/default_triggers.h"
#include "rules/trigger_loader.h"

namespace postdesk {
namespace {

using Json = nlohmann::json;

// --- Building triggers ------------------------------------------------------------------------

Json Cond(const std::string& field, const std::string& op, const Json& value) {
  return Json{{"field", field}, {"operator", op}, {"value", value}};
}

Json Act(const std::string& field, const Json& value) {
  return Json{{"field", field}, {"value", value}};
}

Json Trig(const std::string& id, int position, const Json& all, const Json& actions,
          const Json& any = Json::array()) {
  return Json{{"id", id},
              {"title", "Trigger " + id},
              {"active", true},
              {"position", position},
              {"conditions", Json{{"all", all}, {"any", any}}},
              {"actions", actions}};
}

// An action that fires visibly without changing the ticket.
Json NotifyTarget(const std::string& message = "fired") {
  return Act("notification_target", Json::array({"target-1", message}));
}

std::shared_ptr<const TriggerSet> LoadSet(const Json& triggers) {
  Result<std::shared_ptr<const TriggerSet>> set =
      LoadTriggerSet(Json{{"triggers", triggers}}.dump(), "test.json");
  EXPECT_TRUE(set.ok()) << set.status().message();
  if (!set.ok()) return std::make_shared<const TriggerSet>(std::vector<Trigger>{});
  return set.value();
}

// True if a trigger whose only condition is `condition` fires on `event`.
bool Holds(const Json& condition, const TriggerEvent& event) {
  auto set = LoadSet(Json::array({Trig("t", 1, Json::array({condition}),
                                       Json::array({NotifyTarget()}))}));
  return RunTriggerCycle(*set, event).fired == std::vector<std::string>{"t"};
}

bool Holds(const std::string& field, const std::string& op, const Json& value,
           const TriggerEvent& event) {
  return Holds(Cond(field, op, value), event);
}

// --- Building events --------------------------------------------------------------------------

TicketState BaseState() {
  TicketState s;
  s.id = 42;
  s.status = "open";
  s.priority = "normal";
  s.type = "question";
  s.brand = "acme";
  s.received_at = "support@acme.test";
  s.via = "email";
  s.requester_email = "alice@example.com";
  s.requester_name = "Alice Example";
  s.subject = "Printer broken";
  s.description = "My printer is broken.";
  return s;
}

TriggerEvent Created() {
  TriggerEvent e;
  e.update_type = UpdateType::kCreate;
  e.current = BaseState();
  e.current.status = "new";
  e.previous = TicketState{};
  e.previous.status.clear();
  e.previous.via.clear();
  e.comment = e.current.description;
  return e;
}

TriggerEvent Changed() {
  TriggerEvent e;
  e.update_type = UpdateType::kChange;
  e.current = BaseState();
  e.previous = e.current;
  e.comment = "Any news on this?";
  return e;
}

// --- Numeric operators ------------------------------------------------------------------------

TEST(TriggerEngine, LessThanTenHoldsForZeroToNine) {
  TriggerEvent e = Changed();
  for (int hour = 0; hour < 24; ++hour) {
    e.hour_of_day = hour;
    EXPECT_EQ(Holds("hour_of_day", "less_than", 10, e), hour < 10) << hour;
  }
  for (int count = 0; count <= 11; ++count) {
    e.requester_previous_tickets = count;
    EXPECT_EQ(Holds("requester_previous_tickets", "less_than", "10", e), count < 10) << count;
  }
}

TEST(TriggerEngine, GreaterThanOrEqualSixHundredHoldsFromSixHundred) {
  TriggerEvent e = Changed();
  for (const char* op : {"greater_than_or_equal", "greater_than_equal"}) {
    e.requester_previous_tickets = 599;
    EXPECT_FALSE(Holds("requester_previous_tickets", op, 600, e)) << op;
    e.requester_previous_tickets = 600;
    EXPECT_TRUE(Holds("requester_previous_tickets", op, 600, e)) << op;
    e.requester_previous_tickets = 601;
    EXPECT_TRUE(Holds("requester_previous_tickets", op, 600, e)) << op;
  }
}

TEST(TriggerEngine, GreaterThanSeventeenHoldsFromEighteen) {
  TriggerEvent e = Changed();
  for (int hour = 0; hour < 24; ++hour) {
    e.hour_of_day = hour;
    EXPECT_EQ(Holds("hour_of_day", "greater_than", 17, e), hour > 17) << hour;
  }
}

TEST(TriggerEngine, LessThanOrEqualAndZendeskLessThanEqualAgree) {
  TriggerEvent e = Changed();
  for (const char* op : {"less_than_or_equal", "less_than_equal"}) {
    for (int count = 0; count <= 5; ++count) {
      e.requester_previous_tickets = count;
      EXPECT_EQ(Holds("requester_previous_tickets", op, 3, e), count <= 3) << op << " " << count;
    }
  }
}

TEST(TriggerEngine, NumericIsAndIsNotCompareExactly) {
  TriggerEvent e = Changed();
  e.hour_of_day = 9;
  EXPECT_TRUE(Holds("hour_of_day", "is", 9, e));
  EXPECT_FALSE(Holds("hour_of_day", "is", 10, e));
  EXPECT_FALSE(Holds("hour_of_day", "is_not", 9, e));
  EXPECT_TRUE(Holds("hour_of_day", "is_not", "10", e));
}

TEST(TriggerEngine, StatusOrderingFollowsTheLifecycle) {
  const std::vector<std::string> order = {"new", "open", "pending", "hold", "solved", "closed"};
  TriggerEvent e = Changed();
  for (size_t i = 0; i < order.size(); ++i) {
    e.current.status = order[i];
    e.previous.status = order[i];
    EXPECT_EQ(Holds("status", "less_than", "solved", e), i < 4) << order[i];
    EXPECT_EQ(Holds("status", "less_than_or_equal", "Solved", e), i <= 4) << order[i];
    EXPECT_EQ(Holds("status", "greater_than", "open", e), i > 1) << order[i];
    EXPECT_EQ(Holds("status", "greater_than_or_equal", "pending", e), i >= 2) << order[i];
  }
  e.current.status = "open";
  EXPECT_TRUE(Holds("status", "less_than", "solved", e));
}

TEST(TriggerEngine, PriorityOrderingPutsNoneBelowLow) {
  const std::vector<std::string> order = {"", "low", "normal", "high", "urgent"};
  TriggerEvent e = Changed();
  for (size_t i = 0; i < order.size(); ++i) {
    e.current.priority = order[i];
    e.previous.priority = order[i];
    EXPECT_EQ(Holds("priority", "less_than", "high", e), i < 3) << order[i];
    EXPECT_EQ(Holds("priority", "greater_than", "-", e), i > 0) << order[i];
    EXPECT_EQ(Holds("priority", "is", "-", e), i == 0) << order[i];
  }
}

// --- Equality and string operators ------------------------------------------------------------

TEST(TriggerEngine, IsAndIsNotIgnoreCase) {
  TriggerEvent e = Changed();
  EXPECT_TRUE(Holds("status", "is", "open", e));
  EXPECT_TRUE(Holds("status", "is", "Open", e));
  EXPECT_FALSE(Holds("status", "is_not", "open", e));
  EXPECT_TRUE(Holds("status", "is_not", "pending", e));
  EXPECT_TRUE(Holds("subject", "is", "printer BROKEN", e));
  EXPECT_FALSE(Holds("subject", "is", "printer", e));  // "is" is the whole text
  EXPECT_TRUE(Holds("subject", "is_not", "printer", e));
  EXPECT_FALSE(Holds("subject", "is_not", "Printer Broken", e));
}

TEST(TriggerEngine, ContainsIgnoresCaseAndContainsCaseSensitiveDoesNot) {
  TriggerEvent e = Changed();  // subject "Printer broken"
  EXPECT_TRUE(Holds("subject", "contains", "BROKEN", e));
  EXPECT_FALSE(Holds("subject", "contains", "fax", e));
  EXPECT_TRUE(Holds("subject", "contains_case_sensitive", "broken", e));
  EXPECT_FALSE(Holds("subject", "contains_case_sensitive", "BROKEN", e));
  EXPECT_TRUE(Holds("subject", "contains_case_sensitive", "Printer", e));
  EXPECT_TRUE(Holds("subject", "not_contains", "fax", e));
  EXPECT_FALSE(Holds("subject", "not_contains", "PRINTER", e));
}

TEST(TriggerEngine, ContainsIgnoresCaseOfNonAsciiLetters) {
  TriggerEvent e = Changed();
  e.current.subject = "Inscription à l'ÉCOLE primaire";
  EXPECT_TRUE(Holds("subject", "contains", "école", e));
  EXPECT_TRUE(Holds("subject", "contains", "À L'éCOLE", e));
  EXPECT_FALSE(Holds("subject", "contains", "collège", e));
  EXPECT_FALSE(Holds("subject", "not_contains", "école", e));
  EXPECT_TRUE(Holds("subject", "not_contains", "collège", e));
  EXPECT_FALSE(Holds("subject", "contains_case_sensitive", "école", e));
  EXPECT_TRUE(Holds("subject", "contains_case_sensitive", "ÉCOLE", e));
  EXPECT_TRUE(Holds("subject", "is", "inscription À l'école PRIMAIRE", e));
  EXPECT_FALSE(Holds("subject", "is", "école", e));
  EXPECT_TRUE(Holds("subject", "is_not", "école", e));
  // Regex metacharacters in a non-ASCII value are literal.
  e.current.subject = "Prix: 5€ (TTC)?";
  EXPECT_TRUE(Holds("subject", "contains", "5€ (ttc)?", e));
  EXPECT_FALSE(Holds("subject", "contains", "5€.(ttc)", e));
}

TEST(TriggerEngine, RegexIsAFullMatchInPythonSyntax) {
  const std::string date =
      R"((?P<year>(?:19|20)\d\d)(?P<delimiter>[- /.])(?P<month>0[1-9]|1[012])\2(?P<day>0[1-9]|[12][0-9]|3[01]))";
  TriggerEvent e = Changed();
  e.current.subject = "2014-07-28";
  EXPECT_TRUE(Holds("subject", "regex", date, e));
  e.current.subject = "2014.07.28";
  EXPECT_TRUE(Holds("subject", "regex", date, e));
  e.current.subject = "on 2014-07-28";
  EXPECT_FALSE(Holds("subject", "regex", date, e));
  e.current.subject = "2014-07-28 please";
  EXPECT_FALSE(Holds("subject", "regex", date, e));
  e.current.subject = "2014-07/28";  // \2: the same delimiter twice
  EXPECT_FALSE(Holds("subject", "regex", date, e));
  e.current.subject = "2014-13-28";
  EXPECT_FALSE(Holds("subject", "regex", date, e));
}

TEST(TriggerEngine, RegexIgnoresCaseUnlessCaseSensitive) {
  TriggerEvent e = Changed();  // subject "Printer broken"
  EXPECT_TRUE(Holds("subject", "regex", "printer .*", e));
  EXPECT_FALSE(Holds("subject", "regex_case_sensitive", "printer .*", e));
  EXPECT_TRUE(Holds("subject", "regex_case_sensitive", "Printer .*", e));
  EXPECT_TRUE(Holds("comment", "regex", "(?s)any NEWS.*", e));
  e.current.subject = "ÉCOLE";
  EXPECT_TRUE(Holds("subject", "regex", "école", e));
  EXPECT_FALSE(Holds("subject", "regex_case_sensitive", "école", e));
}

// --- Change operators -------------------------------------------------------------------------

// A change event from status `before` to `after`.
TriggerEvent StatusChange(const std::string& before, const std::string& after) {
  TriggerEvent e = Changed();
  e.previous.status = before;
  e.current.status = after;
  return e;
}

TEST(TriggerEngine, ChangedHoldsWhenTheValueDiffersFromBefore) {
  EXPECT_TRUE(Holds("status", "changed", nullptr, StatusChange("solved", "open")));
  EXPECT_FALSE(Holds("status", "changed", nullptr, StatusChange("open", "open")));
  EXPECT_TRUE(Holds("status", "changed", nullptr, Created()));  // from nothing to "new"
  EXPECT_FALSE(Holds("status", "not_changed", nullptr, StatusChange("solved", "open")));
  EXPECT_TRUE(Holds("status", "not_changed", nullptr, StatusChange("open", "open")));
  EXPECT_FALSE(Holds("status", "not_changed", nullptr, Created()));
}

TEST(TriggerEngine, ValueHoldsWhenChangedToIt) {
  EXPECT_TRUE(Holds("status", "value", "open", StatusChange("solved", "open")));
  EXPECT_FALSE(Holds("status", "value", "open", StatusChange("open", "open")));
  EXPECT_FALSE(Holds("status", "value", "open", StatusChange("solved", "pending")));
  EXPECT_TRUE(Holds("status", "value", "new", Created()));
  EXPECT_FALSE(Holds("status", "not_value", "open", StatusChange("solved", "open")));
  EXPECT_TRUE(Holds("status", "not_value", "open", StatusChange("open", "open")));
  EXPECT_TRUE(Holds("status", "not_value", "open", StatusChange("solved", "pending")));
}

TEST(TriggerEngine, ValuePreviousHoldsWhenChangedFromIt) {
  EXPECT_TRUE(Holds("status", "value_previous", "solved", StatusChange("solved", "open")));
  EXPECT_FALSE(Holds("status", "value_previous", "solved", StatusChange("solved", "solved")));
  EXPECT_FALSE(Holds("status", "value_previous", "solved", StatusChange("pending", "open")));
  EXPECT_FALSE(Holds("status", "not_value_previous", "solved", StatusChange("solved", "open")));
  EXPECT_TRUE(Holds("status", "not_value_previous", "solved", StatusChange("solved", "solved")));
  EXPECT_TRUE(Holds("status", "not_value_previous", "solved", StatusChange("pending", "open")));
}

TEST(TriggerEngine, ChangeOperatorsApplyToTypeGroupAndAssignee) {
  TriggerEvent e = Changed();
  e.current.type = "incident";
  e.current.group = "360001";
  e.current.assignee = "bob@acme.test";
  EXPECT_TRUE(Holds("type", "value", "incident", e));
  EXPECT_TRUE(Holds("type", "value_previous", "question", e));
  EXPECT_TRUE(Holds("group_id", "changed", nullptr, e));
  EXPECT_TRUE(Holds("group_id", "value", 360001, e));
  EXPECT_TRUE(Holds("assignee_id", "value", "Bob@Acme.test", e));
  EXPECT_TRUE(Holds("assignee_id", "value_previous", "", e));
  EXPECT_FALSE(Holds("priority", "changed", nullptr, e));
  EXPECT_TRUE(Holds("priority", "not_changed", nullptr, e));
}

TEST(TriggerEngine, ChangeOperatorsSeeChangesMadeEarlierInTheCycle) {
  // Position 1 solves the ticket; position 2 reacts to "status changed to solved".
  auto set = LoadSet(Json::array({
      Trig("solver", 1, Json::array({Cond("subject_includes_word", "includes", "thanks")}),
           Json::array({Act("status", "solved")})),
      Trig("on-solved", 2, Json::array({Cond("status", "value", "solved")}),
           Json::array({NotifyTarget("solved")})),
  }));
  TriggerEvent e = Changed();
  EXPECT_TRUE(RunTriggerCycle(*set, e).fired.empty());
  e.current.subject = "Thanks, it works";
  e.previous.subject = e.current.subject;
  TriggerOutcome outcome = RunTriggerCycle(*set, e);
  EXPECT_EQ(outcome.fired, (std::vector<std::string>{"solver", "on-solved"}));
  EXPECT_EQ(outcome.state.status, "solved");
}

// --- Every field ------------------------------------------------------------------------------

TEST(TriggerEngine, UpdateTypeIsCreateOrChange) {
  EXPECT_TRUE(Holds("update_type", "is", "Create", Created()));
  EXPECT_FALSE(Holds("update_type", "is", "Create", Changed()));
  EXPECT_TRUE(Holds("update_type", "is", "Change", Changed()));
  EXPECT_FALSE(Holds("update_type", "is", "change", Created()));
  EXPECT_TRUE(Holds("update_type", "is_not", "Create", Changed()));
}

TEST(TriggerEngine, TypeGroupAssigneeBrandAndReceivedAtCompareIds) {
  TriggerEvent e = Changed();
  e.current.group = "360001";
  EXPECT_TRUE(Holds("type", "is", "question", e));
  EXPECT_FALSE(Holds("type", "is", "incident", e));
  EXPECT_TRUE(Holds("type", "is_not", "-", e));
  EXPECT_TRUE(Holds("group_id", "is", 360001, e));
  EXPECT_TRUE(Holds("group_id", "is", "360001", e));
  EXPECT_FALSE(Holds("group_id", "is", 360002, e));
  EXPECT_TRUE(Holds("assignee_id", "is", "", e));
  EXPECT_FALSE(Holds("assignee_id", "is_not", "", e));
  e.current.assignee = "bob@acme.test";
  EXPECT_TRUE(Holds("assignee_id", "is", "BOB@acme.test", e));
  EXPECT_TRUE(Holds("brand_id", "is", "acme", e));
  EXPECT_TRUE(Holds("brand_id", "is_not", "other", e));
  EXPECT_TRUE(Holds("received_at", "is", "Support@Acme.TEST", e));
  EXPECT_FALSE(Holds("received_at", "is", "sales@acme.test", e));
  EXPECT_TRUE(Holds("received_at", "is_not", "sales@acme.test", e));
}

TEST(TriggerEngine, BrandNamesCompareWithoutCase) {
  // A brand configured as "Acme" is what the ticket carries; a trigger names it either way.
  TriggerEvent e = Changed();
  e.current.brand = "Acme";
  e.previous.brand = "Acme";
  EXPECT_TRUE(Holds("brand_id", "is", "Acme", e));
  EXPECT_TRUE(Holds("brand_id", "is", "acme", e));
  EXPECT_FALSE(Holds("brand_id", "is_not", "ACME", e));
  e.current.group = "Support";
  EXPECT_TRUE(Holds("group_id", "is", "Support", e));
}

TEST(TriggerEngine, ViaIdFourIsEmail) {
  TriggerEvent e = Changed();
  EXPECT_TRUE(Holds("via_id", "is", 4, e));
  EXPECT_TRUE(Holds("via_id", "is", "4", e));
  EXPECT_TRUE(Holds("via_id", "is", "email", e));
  EXPECT_TRUE(Holds("current_via_id", "is", 4, e));
  EXPECT_FALSE(Holds("via_id", "is_not", 4, e));
  e.current.via = "api";
  EXPECT_FALSE(Holds("via_id", "is", 4, e));
  EXPECT_TRUE(Holds("current_via_id", "is_not", 4, e));
}

TEST(TriggerEngine, RequesterFieldsCompareAddressAndName) {
  TriggerEvent e = Changed();
  EXPECT_TRUE(Holds("requester_id", "is", "Alice@Example.com", e));
  EXPECT_FALSE(Holds("requester_id", "is", "bob@example.com", e));
  EXPECT_TRUE(Holds("requester_id", "is_not", "bob@example.com", e));
  EXPECT_TRUE(Holds("requester_email", "contains", "@EXAMPLE.com", e));
  EXPECT_TRUE(Holds("requester_email", "regex", R"(.*@example\.com)", e));
  EXPECT_FALSE(Holds("requester_email", "regex", R"(.*@example\.org)", e));
  EXPECT_TRUE(Holds("requester_name", "is", "alice example", e));
  EXPECT_TRUE(Holds("requester_name", "includes", "bob alice", e));
  EXPECT_FALSE(Holds("requester_name", "contains_case_sensitive", "alice", e));
}

TEST(TriggerEngine, DescriptionAndCommentAreTheirOwnTexts) {
  TriggerEvent e = Changed();  // description "My printer is broken.", comment "Any news on this?"
  EXPECT_TRUE(Holds("description", "contains", "printer", e));
  EXPECT_FALSE(Holds("description", "contains", "news", e));
  EXPECT_TRUE(Holds("comment", "contains", "NEWS", e));
  EXPECT_FALSE(Holds("comment", "contains", "printer", e));
  EXPECT_TRUE(Holds("description", "includes", "printer", e));
  EXPECT_TRUE(Holds("comment", "not_includes", "printer", e));
}

TEST(TriggerEngine, WordConditionsOnDifferentTextsInOneSetDoNotMix) {
  // Each text has its own words, however many triggers in one set ask for them.
  auto set = LoadSet(Json::array({
      Trig("comment-word", 1, Json::array({Cond("comment_includes_word", "includes", "printer")}),
           Json::array({NotifyTarget()})),
      Trig("description-word", 2, Json::array({Cond("description", "includes", "printer")}),
           Json::array({NotifyTarget()})),
      Trig("name-word", 3, Json::array({Cond("requester_name", "includes", "alice")}),
           Json::array({NotifyTarget()})),
      Trig("comment-news", 4, Json::array({Cond("comment", "includes", "news")}),
           Json::array({NotifyTarget()})),
  }));
  TriggerEvent e = Changed();
  EXPECT_EQ(RunTriggerCycle(*set, e).fired,
            (std::vector<std::string>{"description-word", "name-word", "comment-news"}));
}

TEST(TriggerEngine, IncludesWordMatchesWholeWordsAnyOf) {
  TriggerEvent e = Changed();
  e.current.subject = "My PRINTER is broken, again!";
  EXPECT_TRUE(Holds("subject_includes_word", "includes", "printer", e));
  EXPECT_TRUE(Holds("subject_includes_word", "includes", "fax printer", e));  // any of
  EXPECT_TRUE(Holds("subject_includes_word", "includes", Json::array({"fax", "again"}), e));
  EXPECT_FALSE(Holds("subject_includes_word", "includes", "print", e));  // whole words only
  EXPECT_FALSE(Holds("subject_includes_word", "includes", "fax toner", e));
  EXPECT_TRUE(Holds("subject_includes_word", "not_includes", "fax toner", e));
  EXPECT_FALSE(Holds("subject_includes_word", "not_includes", "toner broken", e));
  // On a words field "is" means "contains the string".
  EXPECT_TRUE(Holds("subject_includes_word", "is", "print", e));
  EXPECT_TRUE(Holds("subject_includes_word", "is", "is broken", e));
  EXPECT_FALSE(Holds("subject_includes_word", "is", "fax", e));
  EXPECT_FALSE(Holds("subject_includes_word", "is_not", "print", e));
  EXPECT_TRUE(Holds("subject_includes_word", "is_not", "fax", e));

  e.comment = "Please refund my order #123.";
  EXPECT_TRUE(Holds("comment_includes_word", "includes", "refund cancel", e));
  EXPECT_TRUE(Holds("comment_includes_word", "includes", "123", e));
  EXPECT_FALSE(Holds("comment_includes_word", "includes", "refunds", e));
  EXPECT_FALSE(Holds("comment_includes_word", "includes", "printer", e));  // not the subject
  EXPECT_TRUE(Holds("comment_includes_word", "not_includes", "cancel", e));
  EXPECT_TRUE(Holds("comment_includes_word", "is", "fund my", e));
  EXPECT_TRUE(Holds("comment_includes_word", "contains", "ORDER", e));
}

TEST(TriggerEngine, IncludesWordIgnoresCaseOfNonAsciiLetters) {
  TriggerEvent e = Changed();
  e.current.subject = "Inscription à l'ÉCOLE, RÜCKERSTATTUNG bitte";
  EXPECT_TRUE(Holds("subject_includes_word", "includes", "école", e));
  EXPECT_TRUE(Holds("subject_includes_word", "includes", "fax Rückerstattung", e));
  EXPECT_TRUE(Holds("subject_includes_word", "includes", "À", e));
  EXPECT_TRUE(Holds("subject_includes_word", "includes", "BITTE", e));
  EXPECT_FALSE(Holds("subject_includes_word", "includes", "éco", e));  // whole words only
  EXPECT_FALSE(Holds("subject_includes_word", "includes", "écoles", e));
  EXPECT_FALSE(Holds("subject_includes_word", "not_includes", "école", e));
  EXPECT_TRUE(Holds("subject_includes_word", "not_includes", "collège", e));
  e.comment = "Merci, l'élève est inscrit";
  EXPECT_TRUE(Holds("comment_includes_word", "includes", "ÉLÈVE", e));
  EXPECT_TRUE(Holds("comment", "includes", "Élève", e));
  EXPECT_FALSE(Holds("comment_includes_word", "includes", "élèves", e));
}

TEST(TriggerEngine, CommentIsPublicIncludingNotRelevant) {
  TriggerEvent e = Changed();
  for (bool is_public : {true, false}) {
    e.comment_is_public = is_public;
    EXPECT_EQ(Holds("comment_is_public", "is", true, e), is_public);
    EXPECT_EQ(Holds("comment_is_public", "is", "true", e), is_public);
    EXPECT_EQ(Holds("comment_is_public", "is", "false", e), !is_public);
    EXPECT_EQ(Holds("comment_is_public", "is_not", "true", e), !is_public);
    EXPECT_EQ(Holds("comment_is_public", "is", "requester_can_see_comment", e), is_public);
    EXPECT_TRUE(Holds("comment_is_public", "is", "not_relevant", e));
  }
}

TEST(TriggerEngine, CurrentTagsIncludesAnyAndNotIncludesNone) {
  TriggerEvent e = Changed();
  e.current.tags = {"urgent", "vip"};
  EXPECT_TRUE(Holds("current_tags", "includes", "vip", e));
  EXPECT_TRUE(Holds("current_tags", "includes", "gold VIP", e));
  EXPECT_TRUE(Holds("current_tags", "includes", Json::array({"gold", "urgent"}), e));
  EXPECT_FALSE(Holds("current_tags", "includes", "gold silver", e));
  EXPECT_TRUE(Holds("current_tags", "not_includes", "gold silver", e));
  EXPECT_FALSE(Holds("current_tags", "not_includes", "gold vip", e));
  e.current.tags.clear();
  EXPECT_FALSE(Holds("current_tags", "includes", "vip", e));
  EXPECT_TRUE(Holds("current_tags", "not_includes", "vip", e));
}

TEST(TriggerEngine, SenderTypeAndRole) {
  TriggerEvent e = Changed();
  e.sender_type = "requester";
  EXPECT_TRUE(Holds("sender_type", "is", "requester", e));
  EXPECT_FALSE(Holds("sender_type", "is_not", "requester", e));
  EXPECT_FALSE(Holds("sender_type", "is", "agent", e));
  e.sender_type = "end_user";
  EXPECT_TRUE(Holds("sender_type", "is_not", "requester", e));
  EXPECT_TRUE(Holds("sender_type", "is", "end_user", e));
  EXPECT_TRUE(Holds("role", "is", "end_user", e));
  EXPECT_FALSE(Holds("role", "is", "requester", e));
}

TEST(TriggerEngine, DayOfWeekZeroIsMonday) {
  TriggerEvent e = Changed();
  const char* names[] = {"Monday", "Tuesday", "Wednesday", "Thursday",
                         "Friday", "Saturday", "Sunday"};
  for (int day = 0; day < 7; ++day) {
    e.day_of_week = day;
    EXPECT_EQ(Holds("day_of_week", "is", 0, e), day == 0) << names[day];
    EXPECT_EQ(Holds("day_of_week", "less_than", 5, e), day < 5) << names[day];  // weekdays
    EXPECT_EQ(Holds("day_of_week", "greater_than_or_equal", 5, e), day >= 5) << names[day];
  }
}

TEST(TriggerEngine, HourOfDayIsTheEventHour) {
  TriggerEvent e = Changed();
  e.hour_of_day = 23;
  EXPECT_TRUE(Holds("hour_of_day", "is", 23, e));
  EXPECT_TRUE(Holds("hour_of_day", "greater_than_or_equal", 23, e));
  EXPECT_FALSE(Holds("hour_of_day", "less_than_or_equal", 22, e));
}

// --- all and any ------------------------------------------------------------------------------

TEST(TriggerEngine, AnyConditionsNeedOneToHold) {
  auto set = LoadSet(Json::array({Trig(
      "any", 1, Json::array(), Json::array({NotifyTarget()}),
      Json::array({Cond("priority", "is", "urgent"), Cond("current_tags", "includes", "vip")}))}));
  TriggerEvent e = Changed();
  EXPECT_TRUE(RunTriggerCycle(*set, e).fired.empty());
  e.current.priority = "urgent";
  EXPECT_EQ(RunTriggerCycle(*set, e).fired, std::vector<std::string>{"any"});
  e.current.tags = {"vip"};
  EXPECT_EQ(RunTriggerCycle(*set, e).fired, std::vector<std::string>{"any"});
  e.current.priority = "low";
  EXPECT_EQ(RunTriggerCycle(*set, e).fired, std::vector<std::string>{"any"});
}

TEST(TriggerEngine, AllAndAnyCombinedNeedEveryAllAndOneAny) {
  auto set = LoadSet(Json::array({Trig(
      "both", 1,
      Json::array({Cond("update_type", "is", "Change"), Cond("status", "less_than", "solved")}),
      Json::array({NotifyTarget()}),
      Json::array({Cond("priority", "is", "urgent"), Cond("current_tags", "includes", "vip")}))}));
  TriggerEvent e = Changed();
  e.current.tags = {"vip"};
  EXPECT_EQ(RunTriggerCycle(*set, e).fired, std::vector<std::string>{"both"});
  e.current.tags.clear();
  EXPECT_TRUE(RunTriggerCycle(*set, e).fired.empty());  // no "any" holds
  e.current.priority = "urgent";
  EXPECT_EQ(RunTriggerCycle(*set, e).fired, std::vector<std::string>{"both"});
  e.current.status = "solved";
  EXPECT_TRUE(RunTriggerCycle(*set, e).fired.empty());  // an "all" fails
  TriggerEvent created = Created();
  created.current.priority = "urgent";
  EXPECT_TRUE(RunTriggerCycle(*set, created).fired.empty());
}

TEST(TriggerEngine, NoConditionsAlwaysFires) {
  auto set = LoadSet(Json::array({Trig("always", 1, Json::array(), Json::array({NotifyTarget()}))}));
  EXPECT_EQ(RunTriggerCycle(*set, Created()).fired, std::vector<std::string>{"always"});
  EXPECT_EQ(RunTriggerCycle(*set, Changed()).fired, std::vector<std::string>{"always"});
}

// --- Actions ----------------------------------------------------------------------------------

TriggerOutcome RunOne(const Json& actions, const TriggerEvent& event) {
  auto set = LoadSet(Json::array({Trig("act", 1, Json::array(), actions)}));
  return RunTriggerCycle(*set, event);
}

TEST(TriggerEngine, FieldActionsSetStatusPriorityTypeGroupAndAssignee) {
  TriggerOutcome outcome = RunOne(Json::array({Act("status", "Pending"), Act("priority", "high"),
                                               Act("type", "incident"), Act("group_id", 360001),
                                               Act("assignee_id", "Bob@Acme.test")}),
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
  TriggerOutcome add = RunOne(Json::array({Act("current_tags", Json::array({"b", "VIP", "a"}))}), e);
  EXPECT_EQ(add.state.tags, (std::vector<std::string>{"a", "b", "old", "vip"}));
  TriggerOutcome remove = RunOne(Json::array({Act("remove_tags", "vip missing")}), e);
  EXPECT_EQ(remove.state.tags, std::vector<std::string>{"old"});
  TriggerOutcome nothing = RunOne(Json::array({Act("current_tags", "vip"),
                                               Act("remove_tags", "absent")}), e);
  EXPECT_FALSE(nothing.changed);
}

TEST(TriggerEngine, NotifyRequesterGoesToTheRequesterAddress) {
  TriggerOutcome outcome = RunOne(
      Json::array({Act("notification_user",
                       Json::array({"requester_id", "Re: {{ticket.title}}", "Ticket {{ticket.id}}"}))}),
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
      Json::array({Act("notification_user", Json::array({"assignee_id", "Assigned", "#{{ticket.id}}"})),
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
  TriggerOutcome no_group = RunOne(
      Json::array({Act("notification_group", Json::array({"group_id", "Group", "g"}))}), e);
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
  Json after = Json::array(
      {Act("priority", "high"),
       Act("notification_user", Json::array({"requester_id", "Still open", "{{ticket.priority}}"}))});
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
  TriggerOutcome outcome = RunOne(Json::array({Act("status", "pending"), Act("wait", 60)}), Changed());
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
           Json::array({Act("notification_user",
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
  TriggerOutcome outcome = RunOne(
      Json::array({Act("notification_target", Json::array({"t", "{{ticket.title}}"}))}), e);
  ASSERT_EQ(outcome.notifications.size(), 1u);
  EXPECT_EQ(outcome.notifications[0].body, "{{ticket.id}}");
}

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
                                      "create", "none", "support-create", "not-support",
                                      "not-vip", "any-support"}));
  EXPECT_EQ(CandidateIds(*set, false, "sales@acme.test", "other", {"spam"}),
            (std::vector<std::string>{"sales", "unindexed", "brand-other", "tag-spam", "change",
                                      "none", "not-support", "not-vip", "any-support"}));
  EXPECT_EQ(CandidateIds(*set, false, "nobody@acme.test", "nobrand", {}),
            (std::vector<std::string>{"unindexed", "change", "none", "not-support", "not-vip",
                                      "any-support"}));
  EXPECT_EQ(CandidateIds(*set, true, "", "", {"vip"}),
            (std::vector<std::string>{"unindexed", "tag-vip-gold", "create", "none",
                                      "not-support", "not-vip", "any-support"}));
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
  EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end(), [&set](const std::string& a,
                                                            const std::string& b) {
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
  triggers.push_back(Trig("tag-seen", kCount + 1, Json::array({Cond("current_tags", "includes", "seen")}),
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
}  // namespace postdesk
