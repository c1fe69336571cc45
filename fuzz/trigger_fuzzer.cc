// trigger_fuzzer: an operator's trigger file (Zendesk JSON) through the loader, and a set that
// loads through the cycle. Triggers are configuration that comes from outside (exported from
// Zendesk, edited by hand), so a file of any shape must give a set or an error, never a crash,
// a hang or a cycle that does not end (design.md, "Triggers").
// Checks: a refused file's error names the source; a loaded set runs a creation and a change
// without firing a trigger twice, renders notifications as valid UTF-8 from triggers that fired,
// and leaves delayed actions that load again; the same bytes as a delayed-action list load or
// fail cleanly and run.
#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "parser/utf8.h"
#include "rules/trigger_engine.h"
#include "rules/trigger_loader.h"

namespace {

using postdesk::TriggerEvent;

// A ticket with every field a condition or placeholder reads, so that conditions get something
// to compare and placeholders something to render.
TriggerEvent SampleEvent(postdesk::UpdateType type) {
  TriggerEvent e;
  e.update_type = type;
  e.current.id = 42;
  e.current.status = type == postdesk::UpdateType::kCreate ? "new" : "open";
  e.current.priority = "high";
  e.current.type = "incident";
  e.current.group = "20";
  e.current.assignee = "agent@acme.test";
  e.current.brand = "acme";
  e.current.received_at = "support@acme.test";
  e.current.requester_email = "zoe@customer.test";
  e.current.requester_name = "Zoë Customer";
  e.current.subject = "Printer on fire";
  e.current.description = "My printer is on fire. ✓";
  e.current.tags = {"printer", "vip"};
  if (type == postdesk::UpdateType::kChange) {
    e.previous = e.current;
    e.previous.status = "solved";
    e.previous.tags = {"printer"};
  }
  e.comment = "Still on fire!";
  e.requester_previous_tickets = 3;
  e.hour_of_day = 13;
  e.day_of_week = 2;
  return e;
}

void CheckOutcome(const postdesk::TriggerSet& set, const postdesk::TriggerOutcome& outcome) {
  std::set<std::string> fired(outcome.fired.begin(), outcome.fired.end());
  FUZZ_CHECK(fired.size() == outcome.fired.size());  // each trigger at most once per event
  FUZZ_CHECK(outcome.fired.size() <= set.triggers().size());
  for (const postdesk::TriggerNotification& n : outcome.notifications) {
    FUZZ_CHECK(postdesk::IsValidUtf8(n.subject));
    FUZZ_CHECK(postdesk::IsValidUtf8(n.body));
    FUZZ_CHECK(fired.count(n.trigger_id) == 1);
  }
  for (const postdesk::DelayedTriggerActions& d : outcome.delayed) {
    FUZZ_CHECK(d.delay_seconds >= 0);
    // What a "wait" left for later must load again when it is due.
    FUZZ_CHECK(postdesk::ParseTriggerActions(d.actions_json).ok());
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view json(reinterpret_cast<const char*>(data), size);

  auto loaded = postdesk::LoadTriggerSet(json, "fuzz.json");
  if (!loaded.ok()) {
    FUZZ_CHECK(loaded.status().message().rfind("fuzz.json", 0) == 0);
  } else {
    const postdesk::TriggerSet& set = *loaded.value();
    for (postdesk::UpdateType type :
         {postdesk::UpdateType::kCreate, postdesk::UpdateType::kChange}) {
      CheckOutcome(set, postdesk::RunTriggerCycle(set, SampleEvent(type)));
    }
  }

  auto actions = postdesk::ParseTriggerActions(json);
  if (actions.ok()) {
    TriggerEvent event = SampleEvent(postdesk::UpdateType::kChange);
    const postdesk::TriggerSet* set = loaded.ok() ? loaded.value().get() : nullptr;
    postdesk::TriggerOutcome outcome =
        postdesk::ApplyDelayedActions(actions.value(), "delayed", event, set);
    for (const postdesk::TriggerNotification& n : outcome.notifications) {
      FUZZ_CHECK(postdesk::IsValidUtf8(n.body));
    }
  }
  return 0;
}
