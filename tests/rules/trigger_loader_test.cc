// Loading Zendesk trigger JSON: what loads, what it loads into, and what is refused with an error
// that names the source, the trigger and the place.
#include "rules/trigger_loader.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rules/default_triggers.h"

namespace postdesk {
namespace {

using Json = nlohmann::json;

Json Cond(const std::string& field, const std::string& op, const Json& value) {
  return Json{{"field", field}, {"operator", op}, {"value", value}};
}

Json Act(const std::string& field, const Json& value) {
  return Json{{"field", field}, {"value", value}};
}

Json NotifyTarget() { return Act("notification_target", Json::array({"target-1", "fired"})); }

// A valid trigger to which a test adds the one broken piece.
Json Valid(const std::string& title = "Valid") {
  return Json{{"title", title},
              {"active", true},
              {"conditions",
               Json{{"all", Json::array({Cond("status", "is", "open")})}, {"any", Json::array()}}},
              {"actions", Json::array({NotifyTarget()})}};
}

// A trigger "VIP" (id 900) whose conditions.all are `all` (the broken one last) and actions
// `actions`.
Json Vip(const Json& all, const Json& actions = Json::array({NotifyTarget()})) {
  return Json{{"id", 900},
              {"title", "VIP"},
              {"active", true},
              {"position", 3},
              {"conditions", Json{{"all", all}, {"any", Json::array()}}},
              {"actions", actions}};
}

std::string Wrap(const Json& triggers) { return Json{{"triggers", triggers}}.dump(); }

::testing::AssertionResult Loads(std::string_view json) {
  Result<std::shared_ptr<const TriggerSet>> set = LoadTriggerSet(json, "triggers.json");
  if (set.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << set.status().message();
}

// The error LoadTriggerSet gives for `json`; ParseTriggers must agree.
std::string LoadError(std::string_view json) {
  Result<std::shared_ptr<const TriggerSet>> set = LoadTriggerSet(json, "triggers.json");
  EXPECT_FALSE(set.ok()) << "loaded: " << json.substr(0, 500);
  if (set.ok()) return std::string();
  Result<std::vector<Trigger>> parsed = ParseTriggers(json, "triggers.json");
  EXPECT_FALSE(parsed.ok());
  if (!parsed.ok()) {
    EXPECT_EQ(parsed.status().message(), set.status().message());
  }
  return set.status().message();
}

// The error for a set of one valid trigger followed by the VIP trigger with condition `broken`.
std::string ConditionError(const Json& broken) {
  return LoadError(Wrap(Json::array(
      {Valid("First"), Vip(Json::array({Cond("update_type", "is", "Create"), broken}))})));
}

std::string ActionError(const Json& broken) {
  return LoadError(Wrap(Json::array({Valid("First"), Vip(Json::array(), Json::array({broken}))})));
}

constexpr char kConditionPlace[] =
    R"(triggers.json: trigger 2 "VIP" (id 900): conditions.all[1]: )";
constexpr char kActionPlace[] = R"(triggers.json: trigger 2 "VIP" (id 900): actions[0]: )";

::testing::AssertionResult StartsWith(const std::string& text, std::string_view prefix) {
  if (text.compare(0, prefix.size(), prefix) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "\"" << text << "\" does not start with \"" << prefix << "\"";
}

::testing::AssertionResult Contains(const std::string& text, std::string_view part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}

// --- What loads -------------------------------------------------------------------------------

TEST(TriggerLoader, LoadsZendeskExportAndBareList) {
  Json triggers = Json::array({Valid("A"), Valid("B")});
  for (const std::string& json : {Wrap(triggers), triggers.dump()}) {
    Result<std::shared_ptr<const TriggerSet>> set = LoadTriggerSet(json, "triggers.json");
    ASSERT_TRUE(set.ok()) << set.status().message();
    ASSERT_EQ(set.value()->triggers().size(), 2u);
    EXPECT_EQ(set.value()->triggers()[0].title, "A");
    EXPECT_EQ(set.value()->triggers()[1].title, "B");
  }
  EXPECT_TRUE(Loads("[]"));
  EXPECT_TRUE(Loads(R"({"triggers": []})"));
}

TEST(TriggerLoader, IgnoresKeysZendeskAdds) {
  Json trigger = Valid();
  trigger["url"] = "https://acme.zendesk.com/api/v2/triggers/900.json";
  trigger["created_at"] = "2024-01-01T00:00:00Z";
  trigger["raw_title"] = "Valid";
  trigger["category_id"] = "10";
  trigger["description"] = nullptr;
  Json wrapped = Json{{"triggers", Json::array({trigger})}, {"next_page", nullptr}, {"count", 1}};
  EXPECT_TRUE(Loads(wrapped.dump()));
}

TEST(TriggerLoader, IdDefaultsToThePositionInTheFile) {
  Json with_id = Valid("with id");
  with_id["id"] = 360001234;
  Json string_id = Valid("string id");
  string_id["id"] = "abc";
  Result<std::vector<Trigger>> triggers = ParseTriggers(
      Wrap(Json::array({Valid("first"), with_id, string_id, Valid("fourth")})), "triggers.json");
  ASSERT_TRUE(triggers.ok()) << triggers.status().message();
  ASSERT_EQ(triggers->size(), 4u);
  EXPECT_EQ(triggers.value()[0].id, "1");
  EXPECT_EQ(triggers.value()[1].id, "360001234");
  EXPECT_EQ(triggers.value()[2].id, "abc");
  EXPECT_EQ(triggers.value()[3].id, "4");
}

// Found by fuzz/trigger_fuzzer: two triggers with one id both fired, and the audit, the
// notifications and delayed actions named the same trigger for both.
TEST(TriggerLoader, TwoTriggersWithOneIdAreRefused) {
  Json first = Valid("first");
  first["id"] = "900";
  Json again = Valid("again");
  again["id"] = 900;  // a number, as Zendesk exports it, is the same id
  EXPECT_EQ(LoadError(Wrap(Json::array({first, again}))),
            R"(triggers.json: trigger 2 "again" (id 900): the id of trigger 1 "first" too; give )"
            R"(each trigger its own "id")");
  // A missing id is the position, which an explicit id may take.
  Json third = Valid("third");
  third["id"] = 3;
  EXPECT_EQ(LoadError(Wrap(Json::array({Valid("no id"), third, Valid("no id either")}))),
            R"(triggers.json: trigger 3 "no id either" (id 3): the id of trigger 2 "third" too; )"
            R"(give each trigger its own "id")");
}

TEST(TriggerLoader, ParseTriggersKeepsInactiveTriggersAndTheSetDropsThem) {
  Json off = Valid("off");
  off["active"] = false;
  std::string json = Wrap(Json::array({Valid("on"), off}));
  Result<std::vector<Trigger>> triggers = ParseTriggers(json, "triggers.json");
  ASSERT_TRUE(triggers.ok()) << triggers.status().message();
  ASSERT_EQ(triggers->size(), 2u);
  EXPECT_TRUE(triggers.value()[0].active);
  EXPECT_FALSE(triggers.value()[1].active);
  Result<std::shared_ptr<const TriggerSet>> set = LoadTriggerSet(json, "triggers.json");
  ASSERT_TRUE(set.ok());
  EXPECT_EQ(set.value()->triggers().size(), 1u);
  EXPECT_EQ(set.value()->inactive_count(), 1u);
  EXPECT_EQ(set.value()->triggers()[0].title, "on");
}

TEST(TriggerLoader, SetIsInPositionOrder) {
  Json a = Valid("a");
  a["position"] = 7;
  Json b = Valid("b");
  b["position"] = -2;
  Json c = Valid("c");
  c["position"] = 3;
  Result<std::shared_ptr<const TriggerSet>> set =
      LoadTriggerSet(Wrap(Json::array({a, b, c})), "triggers.json");
  ASSERT_TRUE(set.ok()) << set.status().message();
  ASSERT_EQ(set.value()->triggers().size(), 3u);
  EXPECT_EQ(set.value()->triggers()[0].title, "b");
  EXPECT_EQ(set.value()->triggers()[1].title, "c");
  EXPECT_EQ(set.value()->triggers()[2].title, "a");
}

TEST(TriggerLoader, ConditionsAndActionsMayBeEmptyOrMissing) {
  Json trigger = Json{{"title", "bare"}, {"actions", Json::array()}};
  EXPECT_TRUE(Loads(Wrap(Json::array({trigger}))));
  trigger["conditions"] = Json{{"all", nullptr}};
  EXPECT_TRUE(Loads(Wrap(Json::array({trigger}))));
  trigger["conditions"] = Json{{"any", Json::array({Cond("status", "is", "open")})}};
  Result<std::vector<Trigger>> parsed = ParseTriggers(Wrap(Json::array({trigger})), "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_TRUE(parsed.value()[0].all.empty());
  EXPECT_EQ(parsed.value()[0].any.size(), 1u);
}

TEST(TriggerLoader, EveryFieldLoads) {
  const std::vector<Json> conditions = {
      Cond("update_type", "is", "Create"),
      Cond("update_type", "is", "Change"),
      Cond("status", "less_than", "solved"),
      Cond("priority", "greater_than_or_equal", "high"),
      Cond("type", "is", "incident"),
      Cond("group_id", "is", 360001),
      Cond("assignee_id", "is_not", ""),
      Cond("brand_id", "is", "acme"),
      Cond("received_at", "is", "support@acme.test"),
      Cond("via_id", "is", 4),
      Cond("current_via_id", "is", "4"),
      Cond("requester_id", "is", "alice@example.com"),
      Cond("requester_email", "contains", "@example.com"),
      Cond("requester_name", "is", "Alice"),
      Cond("subject", "regex", ".*"),
      Cond("description", "not_contains", "spam"),
      Cond("comment", "contains_case_sensitive", "URGENT"),
      Cond("subject_includes_word", "includes", "urgent asap"),
      Cond("comment_includes_word", "not_includes", "unsubscribe"),
      Cond("comment_is_public", "is", "not_relevant"),
      Cond("current_tags", "includes", "vip"),
      Cond("sender_type", "is", "requester"),
      Cond("role", "is", "end_user"),
      Cond("hour_of_day", "less_than", 10),
      Cond("day_of_week", "is", 0),
      Cond("requester_previous_tickets", "greater_than_or_equal", 600),
  };
  for (const Json& condition : conditions) {
    Json trigger = Vip(Json::array({condition}));
    EXPECT_TRUE(Loads(Wrap(Json::array({trigger})))) << condition.dump();
  }
}

TEST(TriggerLoader, EveryOperatorLoads) {
  const std::vector<Json> conditions = {
      Cond("status", "is", "open"),
      Cond("status", "is_not", "open"),
      Cond("status", "less_than", "solved"),
      Cond("status", "greater_than", "new"),
      Cond("status", "less_than_or_equal", "hold"),
      Cond("status", "less_than_equal", "hold"),
      Cond("status", "greater_than_or_equal", "pending"),
      Cond("status", "greater_than_equal", "pending"),
      Cond("subject", "includes", "a b"),
      Cond("subject", "not_includes", "a b"),
      Cond("subject", "contains", "a"),
      Cond("subject", "contains_case_sensitive", "A"),
      Cond("subject", "not_contains", "a"),
      Cond("subject", "regex", "a.*"),
      Cond("subject", "regex_case_sensitive", "A.*"),
      Cond("status", "changed", nullptr),
      Cond("status", "value", "solved"),
      Cond("status", "value_previous", "solved"),
      Cond("status", "not_changed", nullptr),
      Cond("status", "not_value", "solved"),
      Cond("status", "not_value_previous", "solved"),
  };
  for (const Json& condition : conditions) {
    EXPECT_TRUE(Loads(Wrap(Json::array({Vip(Json::array({condition}))})))) << condition.dump();
  }
}

TEST(TriggerLoader, ConditionValuesAreNormalized) {
  Json all = Json::array({Cond("status", "is", "Solved"), Cond("priority", "is", "-"),
                          Cond("received_at", "is", "Support@Acme.TEST"),
                          Cond("subject", "contains", "URGENT"),
                          Cond("subject", "contains_case_sensitive", "URGENT"),
                          Cond("current_tags", "includes", "VIP gold,vip"),
                          Cond("subject_includes_word", "includes", "ASAP, urgent!"),
                          Cond("via_id", "is", 4), Cond("hour_of_day", "less_than", "10")});
  Result<std::vector<Trigger>> parsed = ParseTriggers(Wrap(Json::array({Vip(all)})), "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const std::vector<TriggerCondition>& c = parsed.value()[0].all;
  ASSERT_EQ(c.size(), 9u);
  EXPECT_EQ(c[0].field, TriggerField::kStatus);
  EXPECT_EQ(c[0].op, TriggerOperator::kIs);
  EXPECT_EQ(c[0].value, "solved");
  EXPECT_EQ(c[1].value, "");
  EXPECT_EQ(c[2].value, "support@acme.test");
  EXPECT_EQ(c[3].op, TriggerOperator::kContains);
  EXPECT_EQ(c[3].value, "urgent");
  EXPECT_EQ(c[4].value, "URGENT");
  EXPECT_EQ(c[5].words, (std::vector<std::string>{"gold", "vip"}));
  EXPECT_EQ(c[6].words, (std::vector<std::string>{"asap", "urgent"}));
  EXPECT_EQ(c[7].value, "email");
  EXPECT_EQ(c[8].number, 10);
  EXPECT_EQ(c[8].op, TriggerOperator::kLessThan);
}

TEST(TriggerLoader, ZendeskOperatorSpellingsMapToTheSameOperators) {
  Json all = Json::array({Cond("hour_of_day", "less_than_equal", 3),
                          Cond("hour_of_day", "less_than_or_equal", 3),
                          Cond("hour_of_day", "greater_than_equal", 3),
                          Cond("hour_of_day", "greater_than_or_equal", 3)});
  Result<std::vector<Trigger>> parsed = ParseTriggers(Wrap(Json::array({Vip(all)})), "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed.value()[0].all[0].op, TriggerOperator::kLessThanOrEqual);
  EXPECT_EQ(parsed.value()[0].all[1].op, TriggerOperator::kLessThanOrEqual);
  EXPECT_EQ(parsed.value()[0].all[2].op, TriggerOperator::kGreaterThanOrEqual);
  EXPECT_EQ(parsed.value()[0].all[3].op, TriggerOperator::kGreaterThanOrEqual);
}

TEST(TriggerLoader, EveryActionLoads) {
  Json actions = Json::array({
      Act("status", "pending"),
      Act("priority", "urgent"),
      Act("type", "problem"),
      Act("group_id", 360001),
      Act("assignee_id", "bob@acme.test"),
      Act("set_tags", "a b"),
      Act("current_tags", Json::array({"c", "d"})),
      Act("remove_tags", "a"),
      Act("notification_user", Json::array({"requester_id", "S {{ticket.id}}", "B"})),
      Act("notification_user", Json::array({"assignee_id", "S", "B"})),
      Act("notification_user", Json::array({"all_agents", "S", "B"})),
      Act("notification_group", Json::array({"group_id", "S", "B"})),
      Act("notification_target", Json::array({"target-1", "M {{ticket.title}}"})),
      Act("suspend_sender", true),
      Act("wait", 3600),
  });
  Result<std::vector<Trigger>> parsed =
      ParseTriggers(Wrap(Json::array({Vip(Json::array(), actions)})), "t");
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  const std::vector<TriggerAction>& a = parsed.value()[0].actions;
  ASSERT_EQ(a.size(), 15u);
  const TriggerActionKind kinds[] = {
      TriggerActionKind::kStatus,       TriggerActionKind::kPriority,
      TriggerActionKind::kType,         TriggerActionKind::kGroup,
      TriggerActionKind::kAssignee,     TriggerActionKind::kSetTags,
      TriggerActionKind::kAddTags,      TriggerActionKind::kRemoveTags,
      TriggerActionKind::kNotifyUser,   TriggerActionKind::kNotifyUser,
      TriggerActionKind::kNotifyUser,   TriggerActionKind::kNotifyGroup,
      TriggerActionKind::kNotifyTarget, TriggerActionKind::kSuspendSender,
      TriggerActionKind::kWait,
  };
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].kind, kinds[i]) << i;
  EXPECT_EQ(a[3].value, "360001");
  EXPECT_EQ(a[6].tags, (std::vector<std::string>{"c", "d"}));
  EXPECT_EQ(a[8].value, "requester_id");
  ASSERT_TRUE(a[8].subject && a[8].body);
  EXPECT_EQ(a[12].value, "target-1");
  EXPECT_FALSE(a[12].subject);
  ASSERT_TRUE(a[12].body);
  EXPECT_EQ(a[14].wait_seconds, 3600);
  // Each action keeps its JSON so that a delayed one can be stored and read back.
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(Json::parse(a[i].json), actions[i]) << i;
}

TEST(TriggerLoader, ParseTriggerActionsReadsAListOfActions) {
  Json actions = Json::array({Act("priority", "high"), Act("current_tags", "late"),
                              Act("notification_user", Json::array({"requester_id", "S", "B"}))});
  Result<std::vector<TriggerAction>> parsed = ParseTriggerActions(actions.dump());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  ASSERT_EQ(parsed->size(), 3u);
  EXPECT_EQ(parsed.value()[0].kind, TriggerActionKind::kPriority);
  EXPECT_EQ(parsed.value()[0].value, "high");
  EXPECT_EQ(parsed.value()[1].tags, std::vector<std::string>{"late"});
  EXPECT_EQ(parsed.value()[2].kind, TriggerActionKind::kNotifyUser);
  EXPECT_TRUE(ParseTriggerActions("[]").ok());

  Result<std::vector<TriggerAction>> not_list = ParseTriggerActions(R"({"field": "status"})");
  ASSERT_FALSE(not_list.ok());
  EXPECT_TRUE(StartsWith(not_list.status().message(), "delayed actions: "));
  Result<std::vector<TriggerAction>> bad = ParseTriggerActions(R"([{"field": "explode"}])");
  ASSERT_FALSE(bad.ok());
  EXPECT_TRUE(Contains(bad.status().message(), "actions[0]"));
  EXPECT_TRUE(Contains(bad.status().message(), "\"explode\""));
  EXPECT_FALSE(ParseTriggerActions("[").ok());
}

TEST(TriggerLoader, DefaultTriggersLoad) {
  Result<std::vector<Trigger>> triggers = ParseTriggers(kDefaultTriggersJson, "defaults");
  ASSERT_TRUE(triggers.ok()) << triggers.status().message();
  ASSERT_EQ(triggers->size(), 8u);
  for (size_t i = 0; i < triggers->size(); ++i) {
    EXPECT_EQ(triggers.value()[i].position, static_cast<int64_t>(i + 1));
    EXPECT_TRUE(triggers.value()[i].active);
    EXPECT_FALSE(triggers.value()[i].title.empty());
  }
}

// --- What is refused --------------------------------------------------------------------------

TEST(TriggerLoader, RefusesUnknownField) {
  std::string error = ConditionError(Cond("foo", "is", "x"));
  EXPECT_EQ(error, std::string(kConditionPlace) + "unknown field \"foo\"");
}

TEST(TriggerLoader, RefusesUnknownOperator) {
  std::string error = ConditionError(Cond("status", "resembles", "open"));
  EXPECT_EQ(error, std::string(kConditionPlace) + "unknown operator \"resembles\"");
}

TEST(TriggerLoader, RefusesAnOperatorThatDoesNotFitTheField) {
  EXPECT_EQ(
      ConditionError(Cond("brand_id", "less_than", "acme")),
      std::string(kConditionPlace) + "operator \"less_than\" does not apply to field \"brand_id\"");
  // Facts no action changes take no change operator; tags take only includes / not_includes.
  EXPECT_TRUE(StartsWith(ConditionError(Cond("received_at", "changed", nullptr)), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("hour_of_day", "contains", "1")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("current_tags", "is", "vip")), kConditionPlace));
  EXPECT_TRUE(
      StartsWith(ConditionError(Cond("comment_is_public", "less_than", true)), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("subject", "less_than", "b")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("update_type", "value", "Create")), kConditionPlace));
}

TEST(TriggerLoader, RefusesUnknownValues) {
  EXPECT_EQ(ConditionError(Cond("status", "is", "frozen")),
            std::string(kConditionPlace) + "field \"status\": unknown value \"frozen\"");
  EXPECT_TRUE(StartsWith(ConditionError(Cond("priority", "is", "extreme")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("type", "is", "bug")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("update_type", "is", "Delete")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("sender_type", "is", "robot")), kConditionPlace));
  EXPECT_TRUE(
      StartsWith(ConditionError(Cond("comment_is_public", "is", "maybe")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("hour_of_day", "is", "ten")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("hour_of_day", "is", 9.5)), kConditionPlace));
  EXPECT_TRUE(
      StartsWith(ConditionError(Cond("subject_includes_word", "includes", "!!")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("subject", "is", Json{{"a", 1}})), kConditionPlace));
}

TEST(TriggerLoader, RefusesARegexThatDoesNotCompile) {
  for (const char* op : {"regex", "regex_case_sensitive"}) {
    std::string error = ConditionError(Cond("subject", op, "(unclosed"));
    EXPECT_TRUE(StartsWith(error, std::string(kConditionPlace) + "field \"subject\": ")) << op;
    EXPECT_TRUE(Contains(error, "regex")) << op;
  }
  // Python syntax: \p is a bad escape in Python even though PCRE2 knows it.
  EXPECT_TRUE(StartsWith(ConditionError(Cond("subject", "regex", R"(\p{L}+)")), kConditionPlace));
  EXPECT_TRUE(StartsWith(ConditionError(Cond("subject", "regex", "(?<name>x)")), kConditionPlace));
}

TEST(TriggerLoader, RefusesAnUnknownPlaceholder) {
  std::string error = ActionError(
      Act("notification_user", Json::array({"requester_id", "Hi", "Ticket {{ticket.titel}}"})));
  EXPECT_TRUE(
      StartsWith(error, std::string(kActionPlace) + "action \"notification_user\": body: "));
  EXPECT_TRUE(Contains(error, "unknown placeholder {{ticket.titel}}"));
  EXPECT_TRUE(Contains(
      ActionError(Act("notification_user", Json::array({"requester_id", "{{ticket.nope}}", "B"}))),
      "subject: unknown placeholder {{ticket.nope}}"));
  EXPECT_TRUE(Contains(ActionError(Act("notification_target", Json::array({"t", "{{nope}}"}))),
                       "message: unknown placeholder {{nope}}"));
  EXPECT_TRUE(StartsWith(
      ActionError(Act("notification_target", Json::array({"t", "{{ticket.title | upcase}}"}))),
      kActionPlace));
}

TEST(TriggerLoader, MessageOf8192CharactersLoadsAndOneMoreIsRefused) {
  for (const std::string& unit : {std::string("x"), std::string("é")}) {
    std::string at_limit;
    for (int i = 0; i < 8192; ++i) at_limit += unit;
    EXPECT_TRUE(Loads(Wrap(Json::array(
        {Vip(Json::array(),
             Json::array({Act("notification_target", Json::array({"t", at_limit}))}))}))));
    EXPECT_TRUE(Loads(Wrap(Json::array({Vip(
        Json::array(),
        Json::array({Act("notification_user", Json::array({"requester_id", "S", at_limit}))}))}))));
    std::string over = at_limit + unit;
    std::string error = ActionError(Act("notification_target", Json::array({"t", over})));
    EXPECT_TRUE(
        StartsWith(error, std::string(kActionPlace) + "action \"notification_target\": message: "));
    EXPECT_TRUE(Contains(error, "8192"));
    EXPECT_TRUE(Contains(
        ActionError(Act("notification_user", Json::array({"requester_id", "S", over}))), "body: "));
  }
}

TEST(TriggerLoader, RefusesBrokenActions) {
  EXPECT_EQ(ActionError(Act("status", "frozen")),
            std::string(kActionPlace) + "action \"status\": unknown status \"frozen\"");
  EXPECT_TRUE(StartsWith(ActionError(Act("status", "new")), kActionPlace));  // cannot go back
  EXPECT_TRUE(StartsWith(ActionError(Act("priority", "extreme")), kActionPlace));
  EXPECT_TRUE(StartsWith(ActionError(Act("type", "bug")), kActionPlace));
  EXPECT_EQ(ActionError(Act("explode", true)),
            std::string(kActionPlace) + "unknown action field \"explode\"");
  EXPECT_TRUE(StartsWith(ActionError(Act("notification_user", "requester_id")), kActionPlace));
  EXPECT_TRUE(
      StartsWith(ActionError(Act("notification_user", Json::array({"", "S", "B"}))), kActionPlace));
  EXPECT_TRUE(
      StartsWith(ActionError(Act("notification_target", Json::array({"t"}))), kActionPlace));
  EXPECT_TRUE(StartsWith(
      ActionError(Act("notification_user", Json::array({"requester_id", 5, "B"}))), kActionPlace));
  EXPECT_TRUE(StartsWith(ActionError(Act("suspend_sender", false)), kActionPlace));
  for (const Json& wait : {Json(0), Json(-5), Json(30 * 86400 + 1), Json("soon")}) {
    EXPECT_TRUE(StartsWith(ActionError(Act("wait", wait)), kActionPlace)) << wait.dump();
  }
  EXPECT_TRUE(
      Loads(Wrap(Json::array({Vip(Json::array(), Json::array({Act("wait", 30 * 86400)}))}))));
  EXPECT_TRUE(StartsWith(ActionError(Json{{"value", "x"}}), kActionPlace));
  EXPECT_TRUE(StartsWith(ActionError(Json("status")), kActionPlace));
}

TEST(TriggerLoader, ErrorsNameTheAnyList) {
  Json trigger = Vip(Json::array());
  trigger["conditions"]["any"] = Json::array({Cond("status", "is", "open"), Cond("bar", "is", 1)});
  EXPECT_EQ(LoadError(Wrap(Json::array({trigger}))),
            R"(triggers.json: trigger 1 "VIP" (id 900): conditions.any[1]: unknown field "bar")");
}

TEST(TriggerLoader, ErrorsNameTheSource) {
  Result<std::shared_ptr<const TriggerSet>> set = LoadTriggerSet(
      Wrap(Json::array({Vip(Json::array({Cond("foo", "is", 1)}))})), "/etc/postdesk/vip.json");
  ASSERT_FALSE(set.ok());
  EXPECT_TRUE(StartsWith(set.status().message(), "/etc/postdesk/vip.json: trigger 1 \"VIP\""));
}

TEST(TriggerLoader, ErrorWithoutIdNamesThePositionInTheFile) {
  Json broken = Valid("No id");
  broken["conditions"]["all"].push_back(Cond("foo", "is", 1));
  EXPECT_EQ(LoadError(Wrap(Json::array({Valid(), Valid(), broken}))),
            R"(triggers.json: trigger 3 "No id" (id 3): conditions.all[1]: unknown field "foo")");
}

TEST(TriggerLoader, AnInactiveBrokenTriggerStillRefusesTheSet) {
  Json broken = Vip(Json::array({Cond("update_type", "is", "Create"), Cond("foo", "is", 1)}));
  broken["active"] = false;
  EXPECT_EQ(LoadError(Wrap(Json::array({Valid(), broken}))),
            std::string(kConditionPlace) + "unknown field \"foo\"");
  Json bad_action = Vip(Json::array(), Json::array({Act("status", "frozen")}));
  bad_action["active"] = false;
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({Valid(), bad_action}))), kActionPlace));
}

TEST(TriggerLoader, RefusesMalformedJson) {
  for (const char* json : {"", "[", R"({"triggers": [{"title": "x",)", "[1,]", "nope"}) {
    std::string error = LoadError(json);
    EXPECT_TRUE(StartsWith(error, "triggers.json: ")) << json;
    EXPECT_GT(error.size(), std::string("triggers.json: ").size()) << json;
  }
}

TEST(TriggerLoader, RefusesTheWrongShape) {
  EXPECT_TRUE(Contains(LoadError(R"({"trigger": []})"), "{\"triggers\": [...]}"));
  EXPECT_TRUE(StartsWith(LoadError(R"({"triggers": {}})"), "triggers.json: "));
  EXPECT_TRUE(StartsWith(LoadError(R"({"triggers": "all"})"), "triggers.json: "));
  EXPECT_TRUE(StartsWith(LoadError(R"("triggers")"), "triggers.json: "));
  EXPECT_TRUE(StartsWith(LoadError("42"), "triggers.json: "));
  EXPECT_TRUE(StartsWith(LoadError("[1]"), "triggers.json: trigger 1"));
  EXPECT_TRUE(StartsWith(LoadError(R"([["title"]])"), "triggers.json: trigger 1"));
}

TEST(TriggerLoader, RefusesBrokenTriggerKeys) {
  const std::string place = R"(triggers.json: trigger 1 "Valid" (id 1): )";
  Json no_actions = Valid();
  no_actions.erase("actions");
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({no_actions}))), place));
  Json actions_object = Valid();
  actions_object["actions"] = Json::object();
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({actions_object}))), place));
  Json active_text = Valid();
  active_text["active"] = "yes";
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({active_text}))), place));
  Json position_text = Valid();
  position_text["position"] = "first";
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({position_text}))), place));
  Json conditions_list = Valid();
  conditions_list["conditions"] = Json::array();
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({conditions_list}))), place));
  Json all_object = Valid();
  all_object["conditions"]["all"] = Json::object();
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({all_object}))), place));
  Json condition_text = Valid();
  condition_text["conditions"]["all"] = Json::array({"status is open"});
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({condition_text}))), place));
  Json no_operator = Valid();
  no_operator["conditions"]["all"] = Json::array({Json{{"field", "status"}, {"value", "open"}}});
  EXPECT_TRUE(StartsWith(LoadError(Wrap(Json::array({no_operator}))), place));
}

std::string Nested(size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); }

TEST(TriggerLoader, DeeplyNestedValuesAreRefusedWithoutRecursing) {
  // Far deeper than a thread's stack would take if anything copied or dumped the nesting.
  constexpr size_t kDepth = 300000;
  const std::string head = R"({"triggers": [{"id": 900, "title": "VIP", )";
  EXPECT_TRUE(StartsWith(
      LoadError(head + R"("actions": [{"field": "status", "value": )" + Nested(kDepth) + "}]}]}"),
      R"(triggers.json: trigger 1 "VIP" (id 900): actions[0]: )"));
  EXPECT_TRUE(
      StartsWith(LoadError(head + R"("actions": [{"field": "notification_user", "value": [)" +
                           Nested(kDepth) + R"(, "S", "B"]}]}]})"),
                 R"(triggers.json: trigger 1 "VIP" (id 900): actions[0]: )"));
  EXPECT_TRUE(StartsWith(
      LoadError(head + R"("conditions": {"all": [{"field": "status", "operator": "is", "value": )" +
                Nested(kDepth) + R"(}]}, "actions": []}]})"),
      R"(triggers.json: trigger 1 "VIP" (id 900): conditions.all[0]: )"));
  // Nesting in keys the loader ignores is harmless, and the kept action JSON leaves it out.
  Result<std::vector<Trigger>> extra =
      ParseTriggers(head + R"("extra": )" + Nested(kDepth) +
                        R"(, "actions": [{"field": "status", "value": "open", "extra": )" +
                        Nested(kDepth) + "}]}]}",
                    "triggers.json");
  ASSERT_TRUE(extra.ok()) << extra.status().message();
  EXPECT_EQ(Json::parse(extra.value()[0].actions[0].json), Act("status", "open"));
  EXPECT_FALSE(ParseTriggerActions("[" + Nested(kDepth) + "]").ok());
}

TEST(TriggerLoader, OneBrokenTriggerRefusesTheWholeSet) {
  Json triggers = Json::array();
  for (int i = 0; i < 50; ++i) triggers.push_back(Valid("ok " + std::to_string(i)));
  triggers.push_back(
      Vip(Json::array({Cond("status", "is", "open"), Cond("subject", "regex", "(")})));
  for (int i = 0; i < 50; ++i) triggers.push_back(Valid("ok " + std::to_string(i)));
  std::string error = LoadError(Wrap(triggers));
  EXPECT_TRUE(
      StartsWith(error, R"(triggers.json: trigger 51 "VIP" (id 900): conditions.all[1]: )"));
}

}  // namespace
}  // namespace postdesk
