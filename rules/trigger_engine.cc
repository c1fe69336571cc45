#include "rules/trigger_engine.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdint>
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

// ASCII lower case, by byte.
constexpr auto kAsciiLower = [] {
  std::array<unsigned char, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return table;
}();

// The same word split as the loader's (trigger_loader.cc), over the event's text: runs of letters
// and digits (any non-ASCII byte counts as a letter), ASCII lowered, sorted and unique. The runs
// are lowered in one copy of the text and sorted as views, so that each word is made once.
std::vector<std::string> SplitWords(std::string_view text) {
  // std::isalnum and std::tolower as the loader calls them, in the C locale (nothing here sets
  // another): ASCII letters and digits.
  auto is_alnum = [](unsigned char byte) {
    return (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') || (byte >= 'A' && byte <= 'Z');
  };
  std::string lowered(text);
  std::vector<std::string_view> runs;
  runs.reserve(std::min<size_t>(text.size() / 2 + 1, 64));
  size_t i = 0;
  while (i < lowered.size()) {
    auto byte = static_cast<unsigned char>(lowered[i]);
    if (!(is_alnum(byte) || byte >= 0x80)) {
      ++i;
      continue;
    }
    size_t start = i;
    for (; i < lowered.size(); ++i) {
      byte = static_cast<unsigned char>(lowered[i]);
      if (byte >= 0x80) continue;
      if (!is_alnum(byte)) break;
      lowered[i] = static_cast<char>(kAsciiLower[byte]);
    }
    runs.emplace_back(lowered.data() + start, i - start);
  }
  std::sort(runs.begin(), runs.end());
  runs.erase(std::unique(runs.begin(), runs.end()), runs.end());
  return std::vector<std::string>(runs.begin(), runs.end());
}

// True if the sorted list holds the word.
bool HasWord(const std::vector<std::string>& sorted_haystack, const std::string& needle) {
  if (sorted_haystack.size() > 16) {
    return std::binary_search(sorted_haystack.begin(), sorted_haystack.end(), needle);
  }
  // A subject's words or a ticket's tags: a scan, where most words differ in length or first
  // byte, costs less than a binary search's string comparisons.
  for (const std::string& word : sorted_haystack) {
    // word[0] of an empty string is its terminating '\0'.
    if (word.size() == needle.size() && word[0] == needle[0] && word == needle) return true;
  }
  return false;
}

bool AnyOf(const std::vector<std::string>& sorted_haystack, const std::vector<std::string>& needles) {
  for (const std::string& needle : needles) {
    if (HasWord(sorted_haystack, needle)) return true;
  }
  return false;
}

// EqualsIgnoreCase (parser/email_address.h), inline: the comparison conditions make most.
bool SameId(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (kAsciiLower[static_cast<unsigned char>(a[i])] != kAsciiLower[static_cast<unsigned char>(b[i])]) {
      return false;
    }
  }
  return true;
}

// One of 64 bits for a word, from its length and end bytes: a set of words whose bits (their
// WordBits, or-ed) miss a word's bit does not hold that word.
uint64_t WordBit(std::string_view word) {
  if (word.empty()) return 1;
  unsigned hash = static_cast<unsigned>(word.size()) * 7 +
                  static_cast<unsigned char>(word.front()) * 3 + static_cast<unsigned char>(word.back());
  return uint64_t{1} << (hash % 64);
}

// A text's words (SplitWords), with the WordBits of them all.
struct TextWords {
  std::vector<std::string> words;
  uint64_t bits = 0;
};

// True if the text's words hold one of the condition's: byte for byte (both lower case), or, for
// the condition's non-ASCII words, by the caseless regex the loader made of them.
bool AnyWord(const TextWords& text, const TriggerCondition& c) {
  const std::vector<std::string>& text_words = text.words;
  for (const std::string& needle : c.words) {
    if ((text.bits & WordBit(needle)) == 0) continue;  // not among the text's words
    if (HasWord(text_words, needle)) return true;
  }
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
  const TextWords& Words(TriggerField field) const {
    size_t slot = Slot(field);
    if (!words_[slot]) {
      TextWords& text = words_[slot].emplace();
      text.words = SplitWords(Text(field));
      for (const std::string& word : text.words) text.bits |= WordBit(word);
    }
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
  mutable std::optional<TextWords> words_[5];
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
  // Ids compare without ASCII case (the loader lowered the condition's value; a brand or group
  // name on the ticket keeps the case it was configured with).
  std::string_view now = IdValue(c.field, state, event);
  switch (c.op) {
    case TriggerOperator::kIs:
      return SameId(now, c.value);
    case TriggerOperator::kIsNot:
      return !SameId(now, c.value);
    default:
      break;
  }
  std::string_view before = IdValue(c.field, event.previous, event);
  bool changed = !SameId(now, before);
  switch (c.op) {
    case TriggerOperator::kChanged:
      return changed;
    case TriggerOperator::kNotChanged:
      return !changed;
    case TriggerOperator::kChangedTo:
      return changed && SameId(now, c.value);
    case TriggerOperator::kNotChangedTo:
      return !(changed && SameId(now, c.value));
    case TriggerOperator::kChangedFrom:
      return changed && SameId(before, c.value);
    case TriggerOperator::kNotChangedFrom:
      return !(changed && SameId(before, c.value));
    default:
      return false;
  }
}

// The ticket fields that actions change, as bits. A condition reads one field, so its result can
// only change during a cycle when that field does; a condition on any other field (the event's
// text, the brand, the address...) keeps its result for the whole cycle.
constexpr uint8_t kStatusBit = 1;
constexpr uint8_t kPriorityBit = 2;
constexpr uint8_t kTypeBit = 4;
constexpr uint8_t kGroupBit = 8;
constexpr uint8_t kAssigneeBit = 16;
constexpr uint8_t kTagsBit = 32;
constexpr uint8_t kFieldBits = 63;
// Not a field: a tag that the set's index looks up came or went, so the candidates may change.
constexpr uint8_t kIndexedTagBit = 64;

uint8_t FieldBit(TriggerField field) {
  switch (field) {
    case TriggerField::kStatus:
      return kStatusBit;
    case TriggerField::kPriority:
      return kPriorityBit;
    case TriggerField::kType:
      return kTypeBit;
    case TriggerField::kGroup:
      return kGroupBit;
    case TriggerField::kAssignee:
      return kAssigneeBit;
    case TriggerField::kCurrentTags:
      return kTagsBit;
    default:
      return 0;
  }
}

// True if the trigger's conditions hold. If not, `could_change` gets the fields (FieldBit) whose
// change could make them hold: the failing "all" condition's, or else every "any" condition's.
// With none, the trigger cannot fire for the rest of the cycle.
bool Matches(const Trigger& trigger, const EventFacts& facts, const TicketState& state,
             uint8_t& could_change) {
  for (const TriggerCondition& c : trigger.all) {
    if (!ConditionHolds(c, facts, state)) {
      could_change = FieldBit(c.field);
      return false;
    }
  }
  if (trigger.any.empty()) return true;
  uint8_t bits = 0;
  for (const TriggerCondition& c : trigger.any) {
    if (ConditionHolds(c, facts, state)) return true;
    bits |= FieldBit(c.field);
  }
  could_change = bits;
  return false;
}

struct PendingNotification {
  const TriggerAction* action;
  const std::string* trigger_id;
};

// Runs one trigger's actions; returns the fields (FieldBit) they changed, with kIndexedTagBit if a
// tag that `set` indexes came or went (any tag when `set` is null), or 0 if the ticket did not
// change. Notifications wait for the end of the cycle; actions after a wait are delayed.
uint8_t RunActions(const std::vector<TriggerAction>& actions, const std::string& trigger_id,
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

void RenderNotifications(const std::vector<PendingNotification>& pending,
                         const TriggerEvent& event, TriggerOutcome& outcome) {
  if (pending.empty()) return;
  // Only the event's values that some template uses are copied (comments can be long); the
  // others stay empty, which Render ignores.
  uint32_t used = 0;
  for (const PendingNotification& p : pending) {
    if (p.action->subject) used |= p.action->subject->used();
    used |= p.action->body->used();
  }
  PlaceholderValues values;
  for (size_t i = 0; i < values.size(); ++i) {
    if (used & PlaceholderBit(static_cast<Placeholder>(i))) values[i] = event.placeholders[i];
  }
  FillStatePlaceholders(outcome.state, values);
  outcome.notifications.reserve(outcome.notifications.size() + pending.size());
  for (const PendingNotification& p : pending) {
    std::string recipient = Recipient(*p.action, outcome.state);
    if (recipient.empty()) continue;  // no assignee or group to notify
    TriggerNotification notification{p.action->kind, std::move(recipient), {}, {}, *p.trigger_id};
    if (p.action->subject) notification.subject = p.action->subject->Render(values);
    notification.body = p.action->body->Render(values);
    outcome.notifications.push_back(std::move(notification));
  }
}

// Asks the memory for the triggers a pass tries next, so that their conditions are in the cache
// when it gets there: with thousands of triggers they rarely are, and each trigger's conditions are
// reached through two pointers. Two steps: the trigger, then, once that is in, its conditions.
void Prefetch(const std::vector<Trigger>& triggers, const std::vector<uint32_t>& candidates,
              size_t position, const std::vector<uint8_t>& marks) {
  constexpr size_t kTriggerAhead = 8;
  constexpr size_t kConditionsAhead = 4;
  if (position + kTriggerAhead < candidates.size()) {
    __builtin_prefetch(&triggers[candidates[position + kTriggerAhead]].all);
  }
  if (position + kConditionsAhead < candidates.size()) {
    uint32_t next = candidates[position + kConditionsAhead];
    if (marks[next] == 0) {
      const std::vector<TriggerCondition>& all = triggers[next].all;
      const char* begin = reinterpret_cast<const char*>(all.data());
      const char* end = reinterpret_cast<const char*>(all.data() + all.size());
      for (const char* line = begin; line < end && line < begin + 256; line += 64) {
        __builtin_prefetch(line);
      }
    }
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
};

CycleScratch& TheCycleScratch() {
  thread_local CycleScratch scratch;
  return scratch;
}

}  // namespace

bool TriggerMatches(const Trigger& trigger, const TriggerEvent& event, const TicketState& state) {
  EventFacts facts(event);
  uint8_t could_change = 0;
  return Matches(trigger, facts, state, could_change);
}

TriggerOutcome RunTriggerCycle(const TriggerSet& set, const TriggerEvent& event) {
  TriggerOutcome outcome;
  outcome.state = event.current;
  const std::vector<Trigger>& triggers = set.triggers();
  EventFacts facts(event);
  std::vector<PendingNotification> pending;
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
  bool created = event.update_type == UpdateType::kCreate;
  int restarts = 0;
  // What the last firing changed. Of the index's keys only the tags change during a cycle, so the
  // candidates are looked up again only when an indexed one did (and for the first pass).
  uint8_t changed = kIndexedTagBit;
  bool restart = true;
  while (restart) {
    restart = false;
    if (changed & kIndexedTagBit) {
      set.Candidates(created, outcome.state.received_at, outcome.state.brand, outcome.state.tags,
                     candidates);
    }
    const uint8_t fields = changed & kFieldBits;
    std::erase_if(retry, [&marks, fields](uint32_t index) {
      if ((marks[index] & fields) == 0) return false;
      marks[index] = 0;
      return true;
    });
    for (size_t position = 0; position < candidates.size(); ++position) {
      uint32_t index = candidates[position];
      uint8_t& mark = marks[index];
      if (mark != 0) continue;
      Prefetch(triggers, candidates, position, marks);
      const Trigger& trigger = triggers[index];
      uint8_t could_change = 0;
      scratch.touched.push_back(index);
      if (!Matches(trigger, facts, outcome.state, could_change)) {
        mark = kFailed | could_change;
        if (could_change != 0) retry.push_back(index);
        continue;
      }
      mark = kFired;
      outcome.fired.push_back(trigger.id);
      changed = RunActions(trigger.actions, trigger.id, &set, outcome, pending);
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
  RenderNotifications(pending, event, outcome);
  return outcome;
}

TriggerOutcome ApplyDelayedActions(const std::vector<TriggerAction>& actions,
                                   const std::string& trigger_id, const TriggerEvent& event) {
  TriggerOutcome outcome;
  outcome.state = event.current;
  std::vector<PendingNotification> pending;
  outcome.changed = RunActions(actions, trigger_id, nullptr, outcome, pending) != 0;
  RenderNotifications(pending, event, outcome);
  return outcome;
}

}  // namespace postdesk
