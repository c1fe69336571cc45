// Builders for the trigger engine's tests (tests/rules/trigger_*_test.cc): triggers as Zendesk
// JSON (Cond, Act, Trig), loaded through the public LoadTriggerSet, and events on one ticket
// (Created, Changed, StatusChange). A set that fails to load fails the test and comes back empty.
// No state; any thread.
#ifndef POSTDESK_TESTS_RULES_TRIGGER_TEST_BUILDERS_H_
#define POSTDESK_TESTS_RULES_TRIGGER_TEST_BUILDERS_H_

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "rules/trigger_engine.h"
#include "rules/trigger_loader.h"

namespace postdesk::trigger_test {

using Json = nlohmann::json;

// --- Building triggers ------------------------------------------------------------------------

inline Json Cond(const std::string& field, const std::string& op, const Json& value) {
  return Json{{"field", field}, {"operator", op}, {"value", value}};
}

inline Json Act(const std::string& field, const Json& value) {
  return Json{{"field", field}, {"value", value}};
}

inline Json Trig(const std::string& id, int position, const Json& all, const Json& actions,
                 const Json& any = Json::array()) {
  return Json{{"id", id},
              {"title", "Trigger " + id},
              {"active", true},
              {"position", position},
              {"conditions", Json{{"all", all}, {"any", any}}},
              {"actions", actions}};
}

// An action that fires visibly without changing the ticket.
inline Json NotifyTarget(const std::string& message = "fired") {
  return Act("notification_target", Json::array({"target-1", message}));
}

inline std::shared_ptr<const TriggerSet> LoadSet(const Json& triggers) {
  Result<std::shared_ptr<const TriggerSet>> set =
      LoadTriggerSet(Json{{"triggers", triggers}}.dump(), "test.json");
  EXPECT_TRUE(set.ok()) << set.status().message();
  if (!set.ok()) return std::make_shared<const TriggerSet>(std::vector<Trigger>{});
  return set.value();
}

// True if a trigger whose only condition is `condition` fires on `event`.
inline bool Holds(const Json& condition, const TriggerEvent& event) {
  auto set =
      LoadSet(Json::array({Trig("t", 1, Json::array({condition}), Json::array({NotifyTarget()}))}));
  return RunTriggerCycle(*set, event).fired == std::vector<std::string>{"t"};
}

inline bool Holds(const std::string& field, const std::string& op, const Json& value,
                  const TriggerEvent& event) {
  return Holds(Cond(field, op, value), event);
}

// --- Building events --------------------------------------------------------------------------

inline TicketState BaseState() {
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

inline TriggerEvent Created() {
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

inline TriggerEvent Changed() {
  TriggerEvent e;
  e.update_type = UpdateType::kChange;
  e.current = BaseState();
  e.previous = e.current;
  e.comment = "Any news on this?";
  return e;
}

// A change event from status `before` to `after`.
inline TriggerEvent StatusChange(const std::string& before, const std::string& after) {
  TriggerEvent e = Changed();
  e.previous.status = before;
  e.current.status = after;
  return e;
}

}  // namespace postdesk::trigger_test

#endif  // POSTDESK_TESTS_RULES_TRIGGER_TEST_BUILDERS_H_
