#include "rules/trigger_engine.h"

#include <algorithm>
#include <optional>

#include "parser/email_address.h"

namespace postdesk {
namespace {

constexpr std::string_view kStatusOrder[] = {"new", "open", "pending", "hold", "solved", "closed"};
constexpr std::string_view kPriorityOrder[] = {"", "low", "normal", "high", "urgent"};

template <size_t N>
int64_t OrdinalOf(const std::string_view (&names)[N], std::string_view value) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == value) return static_cast<int64_t>(i);
  }
  return -1;
}

// The same word split as the loader's (trigger_loader.cc), over the event's text.
std::vector<std::string> SplitWords(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || byte >= 0x80) {
      word += static_cast<char>(byte < 0x80 ? std::tolower(byte) : byte);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

bool AnyOf(const std::vector<std::string>& sorted_haystack, const std::vector<std::string>& needles) {
  for (const std::string& needle : needles) {
    if (std::binary_search(sorted_haystack.begin(), sorted_haystack.end(), needle)) return true;
  }
  return false;
}

// True if the text's words hold one of the condition's: byte for byte (both lower case), or, for
// the condition's non-ASCII words, by the caseless regex the loader made of them.
bool AnyWord(const std::vector<std::string>& text_words, const TriggerCondition& c) {
  if (AnyOf(text_words, c.words)) return true;
  if (!c.regex) return false;
  for (const std::string& word : text_words) {
    if (c.regex->FullMatch(word)) return true;
  }
  return false;
}

// Facts of one event that are costly to compute and the same on every pass: lower-cased text and
// word lists, made on first use.
class EventFacts {
 public:
  explicit EventFacts(const TriggerEvent& event) : event_(event) {}

  const TriggerEvent& event() const { return event_; }

  // The text of a text field and, lazily, its lower-case copy.
  std::string_view Text(TriggerField field) const {
    const TicketState& s = event_.current;
    switch (field) {
      case TriggerField::kRequesterEmail:
        return s.requester_email;
      case TriggerField::kRequesterName:
        return s.requester_name;
      case TriggerField::kSubject:
      case TriggerField::kSubjectWords:
        return s.subject;
      case TriggerField::kDescription:
        return s.description;
      default:
        return event_.comment;
    }
  }
  const std::string& Lower(TriggerField field) const {
    size_t slot = Slot(field);
    if (!lower_[slot]) lower_[slot] = LowerAscii(Text(field));
    return *lower_[slot];
  }
  const std::vector<std::string>& Words(TriggerField field) const {
    size_t slot = Slot(field);
    if (!words_[slot]) words_[slot] = SplitWords(Text(field));
    return *words_[slot];
  }

 private:
  static size_t Slot(TriggerField field) {
    switch (field) {
      case TriggerField::kRequesterEmail:
        return 0;
      case TriggerField::kRequesterName:
        return 1;
      case TriggerField::kSubject:
      case TriggerField::kSubjectWords:
        return 2;
      case TriggerField::kDescription:
        return 3;
      default:
        return 4;
    }
  }
  const TriggerEvent& event_;
  mutable std::optional<std::string> lower_[5];
  mutable std::optional<std::vector<std::string>> words_[5];
};

// The value of an exact-match field in `state` (the cycle's current ticket).
std::string_view IdValue(TriggerField field, const TicketState& state, const TriggerEvent& event) {
  switch (field) {
    case TriggerField::kUpdateType:
      return event.update_type == UpdateType::kCreate ? "create" : "change";
    case TriggerField::kStatus:
      return state.status;
    case TriggerField::kPriority:
      return state.priority;
    case TriggerField::kType:
      return state.type;
    case TriggerField::kGroup:
      return state.group;
    case TriggerField::kAssignee:
      return state.assignee;
    case TriggerField::kBrand:
      return state.brand;
    case TriggerField::kReceivedAt:
      return state.received_at;
    case TriggerField::kVia:
      return state.via;
    case TriggerField::kRequester:
      return state.requester_email;
    case TriggerField::kSenderType:
      return event.sender_type;
    default:
      return {};
  }
}

int64_t NumberValue(TriggerField field, const TicketState& state, const TriggerEvent& event) {
  switch (field) {
    case TriggerField::kStatus:
      return OrdinalOf(kStatusOrder, state.status);
    case TriggerField::kPriority:
      return OrdinalOf(kPriorityOrder, state.priority);
    case TriggerField::kHourOfDay:
      return event.hour_of_day;
    case TriggerField::kDayOfWeek:
      return event.day_of_week;
    default:
      return event.requester_previous_tickets;
  }
}

bool TextMatches(const TriggerCondition& c, const EventFacts& facts) {
  std::string_view text = facts.Text(c.field);
  bool words_field = c.field == TriggerField::kSubjectWords || c.field == TriggerField::kCommentWords;
  switch (c.op) {
    case TriggerOperator::kIncludes:
      return AnyWord(facts.Words(c.field), c);
    case TriggerOperator::kNotIncludes:
      return !AnyWord(facts.Words(c.field), c);
    case TriggerOperator::kRegex:
    case TriggerOperator::kRegexCaseSensitive:
      return c.regex->FullMatch(text);
    case TriggerOperator::kContainsCaseSensitive:
      return text.find(c.value) != std::string_view::npos;
    default:
      break;
  }
  // is / is_not / contains / not_contains, case-insensitive; on a words field "is" is "contains".
  bool substring = words_field || c.op == TriggerOperator::kContains ||
                   c.op == TriggerOperator::kNotContains;
  bool found;
  if (c.regex) {
    found = c.regex->FullMatch(text);  // non-ASCII value: PCRE2 folds the case
  } else if (substring) {
    found = facts.Lower(c.field).find(c.value) != std::string::npos;
  } else {
    found = facts.Lower(c.field) == c.value;
  }
  bool negated = c.op == TriggerOperator::kIsNot || c.op == TriggerOperator::kNotContains;
  return found != negated;
}

bool ConditionHolds(const TriggerCondition& c, const EventFacts& facts, const TicketState& state) {
  const TriggerEvent& event = facts.event();
  switch (c.field) {
    case TriggerField::kRequesterEmail:
    case TriggerField::kRequesterName:
    case TriggerField::kSubject:
    case TriggerField::kDescription:
    case TriggerField::kComment:
    case TriggerField::kSubjectWords:
    case TriggerField::kCommentWords:
      return TextMatches(c, facts);
    case TriggerField::kCurrentTags: {
      bool any = AnyOf(state.tags, c.words);
      return c.op == TriggerOperator::kIncludes ? any : !any;
    }
    case TriggerField::kCommentIsPublic: {
      if (c.value == "not_relevant") return true;
      bool is_public = event.comment_is_public == (c.value == "true");
      return c.op == TriggerOperator::kIs ? is_public : !is_public;
    }
    default:
      break;
  }
  switch (c.op) {
    case TriggerOperator::kLessThan:
      return NumberValue(c.field, state, event) < c.number;
    case TriggerOperator::kGreaterThan:
      return NumberValue(c.field, state, event) > c.number;
    case TriggerOperator::kLessThanOrEqual:
      return NumberValue(c.field, state, event) <= c.number;
    case TriggerOperator::kGreaterThanOrEqual:
      return NumberValue(c.field, state, event) >= c.number;
    default:
      break;
  }
  bool numeric = c.field == TriggerField::kHourOfDay || c.field == TriggerField::kDayOfWeek ||
                 c.field == TriggerField::kRequesterPreviousTickets;
  if (numeric) {
    bool equal = NumberValue(c.field, state, event) == c.number;
    return c.op == TriggerOperator::kIs ? equal : !equal;
  }
  std::string_view now = IdValue(c.field, state, event);
  std::string_view before = IdValue(c.field, event.previous, event);
  // Ids compare without ASCII case (the loader lowered the condition's value; a brand or group
  // name on the ticket keeps the case it was configured with).
  bool changed = !EqualsIgnoreCase(now, before);
  switch (c.op) {
    case TriggerOperator::kIs:
      return EqualsIgnoreCase(now, c.value);
    case TriggerOperator::kIsNot:
      return !EqualsIgnoreCase(now, c.value);
    case TriggerOperator::kChanged:
      return changed;
    case TriggerOperator::kNotChanged:
      return !changed;
    case TriggerOperator::kChangedTo:
      return changed && EqualsIgnoreCase(now, c.value);
    case TriggerOperator::kNotChangedTo:
      return !(changed && EqualsIgnoreCase(now, c.value));
    case TriggerOperator::kChangedFrom:
      return changed && EqualsIgnoreCase(before, c.value);
    case TriggerOperator::kNotChangedFrom:
      return !(changed && EqualsIgnoreCase(before, c.value));
    default:
      return false;
  }
}

bool Matches(const Trigger& trigger, const EventFacts& facts, const TicketState& state) {
  for (const TriggerCondition& c : trigger.all) {
    if (!ConditionHolds(c, facts, state)) return false;
  }
  if (trigger.any.empty()) return true;
  for (const TriggerCondition& c : trigger.any) {
    if (ConditionHolds(c, facts, state)) return true;
  }
  return false;
}

struct PendingNotification {
  const TriggerAction* action;
  const std::string* trigger_id;
};

// Runs one trigger's actions; true if the ticket changed. Notifications wait for the end of the
// cycle; actions after a wait are delayed.
bool RunActions(const std::vector<TriggerAction>& actions, const std::string& trigger_id,
                TriggerOutcome& outcome, std::vector<PendingNotification>& pending) {
  TicketState& state = outcome.state;
  bool changed = false;
  auto assign = [&changed](std::string& field, const std::string& value) {
    if (field != value) {
      field = value;
      changed = true;
    }
  };
  for (size_t i = 0; i < actions.size(); ++i) {
    const TriggerAction& action = actions[i];
    switch (action.kind) {
      case TriggerActionKind::kStatus:
        assign(state.status, action.value);
        break;
      case TriggerActionKind::kPriority:
        assign(state.priority, action.value);
        break;
      case TriggerActionKind::kType:
        assign(state.type, action.value);
        break;
      case TriggerActionKind::kGroup:
        assign(state.group, action.value);
        break;
      case TriggerActionKind::kAssignee:
        assign(state.assignee, action.value);
        break;
      case TriggerActionKind::kSetTags:
        if (state.tags != action.tags) {
          state.tags = action.tags;
          changed = true;
        }
        break;
      case TriggerActionKind::kAddTags:
        for (const std::string& tag : action.tags) changed |= AddTag(state.tags, tag);
        break;
      case TriggerActionKind::kRemoveTags:
        for (const std::string& tag : action.tags) changed |= RemoveTag(state.tags, tag);
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

void RenderNotifications(const std::vector<PendingNotification>& pending,
                         const TriggerEvent& event, TriggerOutcome& outcome) {
  if (pending.empty()) return;
  PlaceholderValues values = event.placeholders;
  FillStatePlaceholders(outcome.state, values);
  for (const PendingNotification& p : pending) {
    std::string recipient = Recipient(*p.action, outcome.state);
    if (recipient.empty()) continue;  // no assignee or group to notify
    TriggerNotification notification{p.action->kind, std::move(recipient), {}, {}, *p.trigger_id};
    if (p.action->subject) notification.subject = p.action->subject->Render(values);
    notification.body = p.action->body->Render(values);
    outcome.notifications.push_back(std::move(notification));
  }
}

}  // namespace

bool TriggerMatches(const Trigger& trigger, const TriggerEvent& event, const TicketState& state) {
  EventFacts facts(event);
  return Matches(trigger, facts, state);
}

TriggerOutcome RunTriggerCycle(const TriggerSet& set, const TriggerEvent& event) {
  TriggerOutcome outcome;
  outcome.state = event.current;
  const std::vector<Trigger>& triggers = set.triggers();
  EventFacts facts(event);
  std::vector<PendingNotification> pending;
  std::vector<bool> fired(triggers.size(), false);
  std::vector<uint32_t> candidates;
  bool created = event.update_type == UpdateType::kCreate;
  int restarts = 0;
  bool restart = true;
  while (restart) {
    restart = false;
    set.Candidates(created, outcome.state.received_at, outcome.state.brand, outcome.state.tags,
                   candidates);
    for (uint32_t index : candidates) {
      if (fired[index]) continue;
      const Trigger& trigger = triggers[index];
      if (!Matches(trigger, facts, outcome.state)) continue;
      fired[index] = true;
      outcome.fired.push_back(trigger.id);
      if (RunActions(trigger.actions, trigger.id, outcome, pending)) {
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
  RenderNotifications(pending, event, outcome);
  return outcome;
}

TriggerOutcome ApplyDelayedActions(const std::vector<TriggerAction>& actions,
                                   const std::string& trigger_id, const TriggerEvent& event) {
  TriggerOutcome outcome;
  outcome.state = event.current;
  std::vector<PendingNotification> pending;
  outcome.changed = RunActions(actions, trigger_id, outcome, pending);
  RenderNotifications(pending, event, outcome);
  return outcome;
}

}  // namespace postdesk
