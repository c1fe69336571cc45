// The trigger cycle (design.md, "Triggers"): one event in, the ticket's new state and the
// notifications out.
//
// Active triggers run in position order. When one fires and its actions change the ticket, the
// pass starts again from the first trigger, because an earlier trigger may now match; a trigger
// fires at most once per event. Notifications are gathered and rendered after the cycle, with
// the ticket as the cycle left it, as Zendesk does. Actions after a "wait" are not run: they are
// returned for the caller to store and run later (ApplyDelayedActions).
//
// Pure code: no I/O, no locks, nothing allocated without bound. Safe to run on many threads over
// one shared TriggerSet. Nothing fails: a trigger that cannot apply (a notification to an assignee
// the ticket does not have) is skipped.
#ifndef POSTDESK_RULES_TRIGGER_ENGINE_H_
#define POSTDESK_RULES_TRIGGER_ENGINE_H_

#include <string>
#include <vector>

#include "rules/ticket_state.h"
#include "rules/trigger.h"

namespace postdesk {

// A cycle never restarts more often than this; past it the cycle stops where it is (a set of
// triggers that undo each other's changes would otherwise run until every trigger had fired).
inline constexpr int kMaxTriggerRestarts = 100;

struct TriggerNotification {
  TriggerActionKind kind;  // kNotifyUser, kNotifyGroup or kNotifyTarget
  // The recipient, resolved against the final ticket: the requester's or assignee's address, a
  // group or target id, or "all_agents".
  std::string recipient;
  std::string subject;  // empty for a target: its configuration has the subject
  std::string body;
  std::string trigger_id;
};

struct DelayedTriggerActions {
  int64_t delay_seconds = 0;
  std::string actions_json;  // a JSON list of actions, as ParseTriggerActions reads it
  std::string trigger_id;
};

struct TriggerOutcome {
  TicketState state;                 // the ticket after the cycle
  std::vector<std::string> fired;    // trigger ids, in firing order
  std::vector<TriggerNotification> notifications;
  std::vector<DelayedTriggerActions> delayed;
  bool changed = false;  // some action changed the ticket
  bool suspend_sender = false;
  bool stopped_by_guard = false;
};

// Runs the cycle over `event`.
TriggerOutcome RunTriggerCycle(const TriggerSet& set, const TriggerEvent& event);

// Runs actions that a "wait" delayed, against the ticket as it is now; no cycle follows. `set`
// (the running set, for its group names) may be null.
TriggerOutcome ApplyDelayedActions(const std::vector<TriggerAction>& actions,
                                   const std::string& trigger_id, const TriggerEvent& event,
                                   const TriggerSet* set = nullptr);

// True if every condition of `trigger` holds for `event` with the ticket in `state`. Evaluates
// the conditions as written, one by one: the definition that the cycle's compiled form of a set
// (rules/compiled_triggers.h) follows, and what the tests compare it with.
bool TriggerMatches(const Trigger& trigger, const TriggerEvent& event, const TicketState& state);

}  // namespace postdesk

#endif  // POSTDESK_RULES_TRIGGER_ENGINE_H_
