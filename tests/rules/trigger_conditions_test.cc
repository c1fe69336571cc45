// Trigger conditions through the public API (tests/rules/trigger_test_builders.h): every
// operator, every field, and all/any, each checked as a trigger whose conditions hold or not.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "rules/trigger_engine.h"
#include "tests/rules/trigger_test_builders.h"

namespace postdesk::trigger_test {
namespace {

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
  const char* names[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
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
  auto set =
      LoadSet(Json::array({Trig("always", 1, Json::array(), Json::array({NotifyTarget()}))}));
  EXPECT_EQ(RunTriggerCycle(*set, Created()).fired, std::vector<std::string>{"always"});
  EXPECT_EQ(RunTriggerCycle(*set, Changed()).fired, std::vector<std::string>{"always"});
}

}  // namespace
}  // namespace postdesk::trigger_test
