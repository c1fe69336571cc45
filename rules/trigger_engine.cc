#include "rules/trigger_engine.h"

#include <algorithm>
#include <cstdint>
#include <span>

#include "rules/compiled_triggers.h"
#include "rules/trigger_conditions.h"

namespace postdesk {
namespace {

struct PendingNotification {
  const TriggerAction* action;
  const std::string* trigger_id;
};

// Runs one trigger's actions; returns the fields (FieldBit) they changed, with kIndexedTagBit if a
// tag that `set` indexes came or went (any tag when `set` is null), or 0 if the ticket did not
// change. Notifications wait for the end of the cycle; actions after a wait are delayed.
uint8_t RunActions(std::span<const TriggerAction> actions, const std::string& trigger_id,
                   const TriggerSet* set, TriggerOutcome& outcome,
                   std::vector<PendingNotification>& pending) {
  TicketState& state = outcome.state;
  uint8_t changed = 0;
  auto tag_changed = [set, &changed](const std::string& tag) {
    changed |= kTagsBit;
    if (set == nullptr || set->IndexesTag(tag)) changed |= kIndexedTagBit;
  };
  auto assign = [&changed](std::string& field, const std::string& value, uint8_t bit) {
    if (field != value) {
      field = value;
      changed |= bit;
    }
  };
  for (size_t i = 0; i < actions.size(); ++i) {
    const TriggerAction& action = actions[i];
    switch (action.kind) {
      case TriggerActionKind::kStatus:
        assign(state.status, action.value, kStatusBit);
        break;
      case TriggerActionKind::kPriority:
        assign(state.priority, action.value, kPriorityBit);
        break;
      case TriggerActionKind::kType:
        assign(state.type, action.value, kTypeBit);
        break;
      case TriggerActionKind::kGroup:
        assign(state.group, action.value, kGroupBit);
        break;
      case TriggerActionKind::kAssignee:
        assign(state.assignee, action.value, kAssigneeBit);
        break;
      case TriggerActionKind::kSetTags:
        if (state.tags != action.tags) {
          // Every tag of both lists, rather than only those that come or go: enough to know
          // whether the candidates may change.
          for (const std::string& tag : state.tags) tag_changed(tag);
          for (const std::string& tag : action.tags) tag_changed(tag);
          changed |= kTagsBit;
          state.tags = action.tags;
        }
        break;
      case TriggerActionKind::kAddTags:
        for (const std::string& tag : action.tags) {
          if (AddTag(state.tags, tag)) tag_changed(tag);
        }
        break;
      case TriggerActionKind::kRemoveTags:
        for (const std::string& tag : action.tags) {
          if (RemoveTag(state.tags, tag)) tag_changed(tag);
        }
        break;
      case TriggerActionKind::kNotifyUser:
      case TriggerActionKind::kNotifyGroup:
      case TriggerActionKind::kNotifyTarget:
        pending.push_back({&action, &trigger_id});
        break;
      case TriggerActionKind::kSuspendSender:
        outcome.suspend_sender = true;
        break;
      case TriggerActionKind::kWait: {
        // Everything after the wait runs later; a second wait inside adds to the delay when the
        // delayed list itself runs.
        std::string json = "[";
        for (size_t j = i + 1; j < actions.size(); ++j) {
          if (j > i + 1) json += ',';
          json += actions[j].json;
        }
        json += ']';
        if (i + 1 < actions.size()) {
          outcome.delayed.push_back({action.wait_seconds, std::move(json), trigger_id});
        }
        return changed;
      }
    }
  }
  return changed;
}

std::string Recipient(const TriggerAction& action, const TicketState& state) {
  if (action.kind == TriggerActionKind::kNotifyTarget) return action.value;
  if (action.value == "requester_id" || action.value == "current_user") {
    return state.requester_email;
  }
  if (action.value == "assignee_id") return state.assignee;
  if (action.value == "group_id") return state.group;
  return action.value;
}

void RenderNotifications(const std::vector<PendingNotification>& pending, const TriggerEvent& event,
                         const TriggerSet* set, TriggerOutcome& outcome) {
  if (pending.empty()) return;
  // Views, not copies, of the values (comments can be long); those of the event's values that no
  // template uses stay empty, which Render ignores.
  uint32_t used = 0;
  for (const PendingNotification& p : pending) {
    if (p.action->subject) used |= p.action->subject->used();
    used |= p.action->body->used();
  }
  PlaceholderViews values;
  for (size_t i = 0; i < values.size(); ++i) {
    if (used & PlaceholderBit(static_cast<Placeholder>(i))) values[i] = event.placeholders[i];
  }
  std::string id_text;
  std::string tags_text;
  FillStatePlaceholderViews(outcome.state, values, id_text, tags_text);
  if (const std::string* name = set ? set->GroupName(outcome.state.group) : nullptr) {
    values[static_cast<size_t>(Placeholder::kTicketGroupName)] = *name;
  }
  // No reallocation below: `rendered` points into the notifications.
  outcome.notifications.reserve(outcome.notifications.size() + pending.size());
  // The values are the same for every notification, so a template that the loader shared
  // between triggers renders to the same text: it is rendered once, then copied.
  struct Rendered {
    const MessageTemplate* message;
    const std::string* text;
  };
  Rendered rendered[16];
  size_t rendered_count = 0;
  auto render = [&](const MessageTemplate& message, std::string& out) {
    for (size_t i = 0; i < rendered_count; ++i) {
      if (rendered[i].message == &message) {
        out = *rendered[i].text;
        return;
      }
    }
    out = message.Render(values);
    if (rendered_count < std::size(rendered)) rendered[rendered_count++] = {&message, &out};
  };
  for (const PendingNotification& p : pending) {
    std::string recipient = Recipient(*p.action, outcome.state);
    if (recipient.empty()) continue;  // no assignee or group to notify
    TriggerNotification& notification = outcome.notifications.emplace_back(
        TriggerNotification{p.action->kind, std::move(recipient), {}, {}, *p.trigger_id});
    if (p.action->subject) render(*p.action->subject, notification.subject);
    render(*p.action->body, notification.body);
  }
}

// Asks the memory for the conditions of a trigger a pass tries a few steps ahead: with thousands
// of triggers they are rarely in the cache when the pass gets there. (Prefetching the Trigger and
// its actions too, for the few that fire, did not measurably pay.)
void Prefetch(const CompiledTriggers& compiled, const std::vector<uint32_t>& candidates,
              size_t position, const std::vector<uint8_t>& marks) {
  constexpr size_t kAhead = 4;
  if (position + kAhead < candidates.size()) {
    uint32_t next = candidates[position + kAhead];
    if (marks[next] == 0) compiled.Prefetch(next);
  }
}

// What a cycle needs per trigger of the set, kept per thread from one cycle to the next: clearing
// marks for 10,000 triggers on every event would cost more than the cycle. Between cycles every
// mark is 0 but those listed in `touched`, which the next cycle clears first (so a cycle cut short
// leaves nothing behind). It grows to the largest set the thread has run, and no further.
struct CycleScratch {
  std::vector<uint8_t> marks;     // by trigger index
  std::vector<uint32_t> touched;  // indexes whose mark the last cycle set
  std::vector<uint32_t> retry;
  std::vector<uint32_t> candidates;
  std::vector<PendingNotification> pending;
  std::vector<uint32_t> fired;         // in firing order
  std::vector<uint32_t> indexed_tags;  // the indexed tags' ids `candidates` were found with
  std::vector<uint32_t> now_indexed;   // the ticket's indexed tags' ids now
  std::vector<uint32_t> spare;
};

// Of `now`, the tags the index has triggers for; false if `before` has one that `now` lacks.
bool OnlyAdded(const TriggerSet& set, const std::vector<uint32_t>& before,
               const std::vector<uint32_t>& now, std::vector<uint32_t>& indexed) {
  indexed.clear();
  for (uint32_t tag : now) {
    if (set.IndexesTagId(tag)) indexed.push_back(tag);
  }
  for (uint32_t tag : before) {
    if (std::find(indexed.begin(), indexed.end(), tag) == indexed.end()) return false;
  }
  return true;
}

CycleScratch& TheCycleScratch() {
  thread_local CycleScratch scratch;
  return scratch;
}

}  // namespace

bool TriggerMatches(const Trigger& trigger, const TriggerEvent& event, const TicketState& state) {
  uint8_t could_change = 0;
  return DirectMatches(trigger, event, state, could_change);
}

TriggerOutcome RunTriggerCycle(const TriggerSet& set, const TriggerEvent& event) {
  TriggerOutcome outcome;
  outcome.state = event.current;
  const std::vector<Trigger>& triggers = set.triggers();
  const CompiledTriggers& compiled = set.compiled();
  CycleFacts facts(compiled, event, outcome.state);
  // Per trigger: kFired; or kFailed with the fields whose change could make it match (a pass
  // skips it while none of them has changed, as it would fail again); or 0, to be tried.
  constexpr uint8_t kFired = 0x80;
  constexpr uint8_t kFailed = 0x40;
  CycleScratch& scratch = TheCycleScratch();
  for (uint32_t index : scratch.touched) scratch.marks[index] = 0;
  scratch.touched.clear();
  if (scratch.marks.size() < triggers.size()) scratch.marks.resize(triggers.size(), 0);
  std::vector<uint8_t>& marks = scratch.marks;
  std::vector<uint32_t>& retry = scratch.retry;  // kFailed triggers that a change may yet match
  retry.clear();
  std::vector<uint32_t>& candidates = scratch.candidates;
  std::vector<PendingNotification>& pending = scratch.pending;
  pending.clear();
  std::vector<uint32_t>& fired = scratch.fired;
  fired.clear();
  bool created = event.update_type == UpdateType::kCreate;
  int restarts = 0;
  // What the last firing changed. Of the index's keys only the tags change during a cycle, so the
  // candidates are looked up again only when an indexed one did (and for the first pass).
  uint8_t changed = kIndexedTagBit;
  // The trigger the last pass fired. A pass marks every candidate it tries, so on a restart the
  // candidates before it are all marked but those whose mark the change reset: the pass resumes at
  // the first of these (or at the fired one), as a pass from the start would find no other.
  uint32_t resume = 0;
  bool exact = false;  // every candidate's index condition holds
  bool restart = true;
  while (restart) {
    restart = false;
    if (changed & kIndexedTagBit) {
      // Most restarts add a tag: its bucket is merged into the candidates, and the pass resumes
      // at its first trigger. A tag gone (or so many tags that the index might give up) has them
      // looked up again, from the start.
      const std::vector<uint32_t>& tags = facts.TagIds();
      std::vector<uint32_t>& before = scratch.indexed_tags;
      std::vector<uint32_t>& now = scratch.now_indexed;
      if (restarts > 0 && exact && tags.size() <= 32 && OnlyAdded(set, before, tags, now)) {
        for (uint32_t tag : now) {
          if (std::find(before.begin(), before.end(), tag) != before.end()) continue;
          resume = std::min(resume, set.AddTagCandidates(tag, candidates, scratch.spare));
        }
        before.swap(now);
      } else {
        exact = set.CandidatesByIds(created, facts.Now(kReceivedAtSlot), facts.Now(kBrandSlot),
                                    tags, candidates);
        scratch.indexed_tags.clear();
        for (uint32_t tag : tags) {
          if (set.IndexesTagId(tag)) scratch.indexed_tags.push_back(tag);
        }
        resume = 0;  // triggers new to the candidates may come before it
      }
    }
    const uint8_t fields = changed & kFieldBits;
    std::erase_if(retry, [&marks, &resume, fields](uint32_t index) {
      if ((marks[index] & fields) == 0) return false;
      marks[index] = 0;
      resume = std::min(resume, index);
      return true;
    });
    const auto first = std::lower_bound(candidates.begin(), candidates.end(), resume);
    for (auto position = static_cast<size_t>(first - candidates.begin());
         position < candidates.size(); ++position) {
      uint32_t index = candidates[position];
      uint8_t& mark = marks[index];
      if (mark != 0) continue;
      Prefetch(compiled, candidates, position, marks);
      uint8_t could_change = 0;
      scratch.touched.push_back(index);
      if (!compiled.Matches(index, facts, could_change, exact)) {
        mark = kFailed | could_change;
        if (could_change != 0) retry.push_back(index);
        continue;
      }
      mark = kFired;
      resume = index;
      uint32_t action_count = 0;
      const TriggerAction* actions = compiled.Actions(index, action_count);
      fired.push_back(index);
      changed = RunActions({actions, action_count}, triggers[index].id, &set, outcome, pending);
      facts.Changed(changed);
      if (changed != 0) {
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
  outcome.fired.reserve(fired.size());
  for (uint32_t index : fired) outcome.fired.push_back(triggers[index].id);
  RenderNotifications(pending, event, &set, outcome);
  return outcome;
}

TriggerOutcome ApplyDelayedActions(const std::vector<TriggerAction>& actions,
                                   const std::string& trigger_id, const TriggerEvent& event,
                                   const TriggerSet* set) {
  TriggerOutcome outcome;
  outcome.state = event.current;
  std::vector<PendingNotification> pending;
  outcome.changed = RunActions(actions, trigger_id, nullptr, outcome, pending) != 0;
  RenderNotifications(pending, event, set, outcome);
  return outcome;
}

}  // namespace postdesk
