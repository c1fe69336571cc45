// The direct condition evaluator: each condition as the loader wrote it, string by string. It is
// what TriggerMatches runs, and the definition the compiled form (compiled_triggers.cc) follows.
#include "rules/trigger_conditions.h"

#include <algorithm>
#include <optional>

#include "parser/email_address.h"  // LowerAscii

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

// SplitWordViews, sorted and unique, as the loader keeps a condition's words.
std::vector<std::string> SplitWords(std::string_view text) {
  std::string lowered;
  std::vector<std::string_view> runs;
  SplitWordViews(text, lowered, runs);
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

bool AnyOf(const std::vector<std::string>& sorted_haystack,
           const std::vector<std::string>& needles) {
  for (const std::string& needle : needles) {
    if (HasWord(sorted_haystack, needle)) return true;
  }
  return false;
}

// One of 64 bits for a word, from its length and end bytes: a set of words whose bits (their
// WordBits, or-ed) miss a word's bit does not hold that word.
uint64_t WordBit(std::string_view word) {
  if (word.empty()) return 1;
  unsigned hash = static_cast<unsigned>(word.size()) * 7 +
                  static_cast<unsigned char>(word.front()) * 3 +
                  static_cast<unsigned char>(word.back());
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

// EqualsIgnoreCase (parser/email_address.h), inline: the comparison conditions make most.
bool SameId(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (kAsciiLower[static_cast<unsigned char>(a[i])] !=
        kAsciiLower[static_cast<unsigned char>(b[i])]) {
      return false;
    }
  }
  return true;
}

// Facts of one event that are costly to compute: lower-cased text and word lists, made on first
// use.
class EventFacts {
 public:
  explicit EventFacts(const TriggerEvent& event) : event_(event) {}

  const TriggerEvent& event() const { return event_; }

  std::string_view Text(TriggerField field) const { return TextValue(field, event_); }
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

bool TextMatches(const TriggerCondition& c, const EventFacts& facts) {
  std::string_view text = facts.Text(c.field);
  bool words_field =
      c.field == TriggerField::kSubjectWords || c.field == TriggerField::kCommentWords;
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
  bool substring =
      words_field || c.op == TriggerOperator::kContains || c.op == TriggerOperator::kNotContains;
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

}  // namespace

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

std::string_view TextValue(TriggerField field, const TriggerEvent& event) {
  const TicketState& s = event.current;
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
      return event.comment;
  }
}

void SplitWordViews(std::string_view text, std::string& lowered,
                    std::vector<std::string_view>& words) {
  // std::isalnum and std::tolower as the loader calls them, in the C locale (nothing here sets
  // another): ASCII letters and digits.
  auto is_alnum = [](unsigned char byte) {
    return (byte >= '0' && byte <= '9') || (byte >= 'a' && byte <= 'z') ||
           (byte >= 'A' && byte <= 'Z');
  };
  lowered.assign(text);
  words.clear();
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
    words.emplace_back(lowered.data() + start, i - start);
  }
}

bool DirectMatches(const Trigger& trigger, const TriggerEvent& event, const TicketState& state,
                   uint8_t& could_change) {
  EventFacts facts(event);
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

}  // namespace postdesk
