#include "rules/compiled_triggers.h"

#include <algorithm>

#include "parser/email_address.h"
#include "rules/trigger_conditions.h"

namespace postdesk {
namespace {

// A word's hash in a WordSet and in a compiled condition; never 0, which marks an empty slot.
uint64_t WordHash(std::string_view word) {
  uint64_t hash = HashKey(word);
  return hash == 0 ? 1 : hash;
}

// The field each IdSlot reads, and back.
constexpr TriggerField kIdSlotFields[kIdSlotCount] = {
    TriggerField::kUpdateType, TriggerField::kStatus,     TriggerField::kPriority,
    TriggerField::kType,       TriggerField::kGroup,      TriggerField::kAssignee,
    TriggerField::kBrand,      TriggerField::kReceivedAt, TriggerField::kVia,
    TriggerField::kRequester,  TriggerField::kSenderType,
};

int IdSlotOf(TriggerField field) {
  for (int slot = 0; slot < kIdSlotCount; ++slot) {
    if (kIdSlotFields[slot] == field) return slot;
  }
  return -1;
}

// Number slots: the fields NumberValue distinguishes; any other field reads the last.
constexpr TriggerField kNumberSlotFields[] = {TriggerField::kStatus, TriggerField::kPriority,
                                              TriggerField::kHourOfDay, TriggerField::kDayOfWeek,
                                              TriggerField::kRequesterPreviousTickets};
constexpr uint8_t kStatusNumber = 0;
constexpr uint8_t kPriorityNumber = 1;

uint8_t NumberSlotOf(TriggerField field) {
  for (uint8_t slot = 0; slot < std::size(kNumberSlotFields) - 1; ++slot) {
    if (kNumberSlotFields[slot] == field) return slot;
  }
  return std::size(kNumberSlotFields) - 1;
}

// Text slots: the texts TextValue distinguishes; any other field reads the comment.
constexpr TriggerField kTextSlotFields[] = {TriggerField::kRequesterEmail,
                                            TriggerField::kRequesterName, TriggerField::kSubject,
                                            TriggerField::kDescription, TriggerField::kComment};
constexpr size_t kTextSlots = std::size(kTextSlotFields);

uint8_t TextSlotOf(TriggerField field) {
  if (field == TriggerField::kSubjectWords) return 2;
  for (uint8_t slot = 0; slot < kTextSlots - 1; ++slot) {
    if (kTextSlotFields[slot] == field) return slot;
  }
  return kTextSlots - 1;
}

// A cycle keeps its text buffers for the next one up to this size; a longer text's are freed.
constexpr size_t kKeptTextBytes = 64 * 1024;

}  // namespace

// The words of one text (SplitWordViews) in an open-addressing set of their hashes.
struct WordSet {
  struct Entry {
    uint64_t hash;   // 0: empty
    uint32_t index;  // in words
  };
  std::string lowered;
  std::vector<std::string_view> words;
  std::vector<Entry> table;  // size: a power of two, at least twice the words
  // Bit (hash >> 58) of each word: a word whose bit is clear is not in the set, which most
  // words a condition looks for are not. Read before the table.
  uint64_t bits = 0;

  void Build(std::string_view text) {
    SplitWordViews(text, lowered, words);
    size_t size = 16;
    while (size < 2 * words.size()) size *= 2;
    table.assign(size, Entry{0, 0});
    bits = 0;
    const size_t mask = size - 1;
    for (uint32_t i = 0; i < words.size(); ++i) {
      uint64_t hash = WordHash(words[i]);
      size_t slot = hash & mask;
      while (table[slot].hash != 0) slot = (slot + 1) & mask;
      table[slot] = {hash, i};
      bits |= uint64_t{1} << (hash >> 58);
    }
  }

  bool Contains(uint64_t hash, std::string_view word) const {
    if ((bits >> (hash >> 58) & 1) == 0) return false;
    const size_t mask = table.size() - 1;
    for (size_t slot = hash & mask;; slot = (slot + 1) & mask) {
      const Entry& entry = table[slot];
      if (entry.hash == 0) return false;
      if (entry.hash == hash && words[entry.index] == word) return true;
    }
  }

  void Release() {
    std::string().swap(lowered);
    std::vector<std::string_view>().swap(words);
    std::vector<Entry>().swap(table);
  }
};

struct CycleTexts {
  std::string lower[kTextSlots];
  WordSet words[kTextSlots];
  std::vector<uint32_t> tag_ids;
};

namespace {

CycleTexts& ThreadTexts() {
  thread_local CycleTexts texts;
  return texts;
}

}  // namespace

// --- Compiling --------------------------------------------------------------------------------

CompiledTriggers::CompiledTriggers(const std::vector<Trigger>& triggers,
                                   const std::vector<int32_t>& keys) {
  headers_.reserve(triggers.size());
  for (size_t i = 0; i < triggers.size(); ++i) {
    const Trigger& trigger = triggers[i];
    Header header{};
    header.begin = static_cast<uint32_t>(conditions_.size());
    header.payload = static_cast<uint32_t>(payload_.size());
    // "all" holds whatever the order: the key first, then the others as written.
    const int32_t key = keys[i];
    if (key >= 0) {
      conditions_.push_back(Compile(trigger.all[static_cast<size_t>(key)]));
      header.key = 1;
    }
    for (size_t k = 0; k < trigger.all.size(); ++k) {
      if (static_cast<int32_t>(k) != key) conditions_.push_back(Compile(trigger.all[k]));
    }
    header.all_end = static_cast<uint32_t>(conditions_.size());
    for (const TriggerCondition& c : trigger.any) conditions_.push_back(Compile(c));
    header.any_end = static_cast<uint32_t>(conditions_.size());
    header.action_count = static_cast<uint32_t>(trigger.actions.size());
    header.actions = trigger.actions.data();
    headers_.push_back(header);
    // The values actions assign are ids too, so that a ticket value outside the ids is the
    // event's own (CycleFacts::kUnknownNow).
    for (const TriggerAction& action : trigger.actions) {
      switch (action.kind) {
        case TriggerActionKind::kStatus:
        case TriggerActionKind::kPriority:
        case TriggerActionKind::kType:
        case TriggerActionKind::kGroup:
        case TriggerActionKind::kAssignee:
          ids_.Intern(LowerAscii(action.value));
          break;
        default:
          break;
      }
    }
  }
}

CompiledCondition CompiledTriggers::Compile(const TriggerCondition& c) {
  CompiledCondition out{ConditionTest::kFalse, 0, false, FieldBit(c.field), 0, 0, 0, 0};
  const TriggerOperator op = c.op;
  auto keep_text = [this, &out](std::string_view text) {
    out.a = static_cast<uint32_t>(text_.size());
    out.b = static_cast<uint32_t>(text.size());
    text_.append(text);
  };
  auto keep_regex = [this, &out](const PythonRegex* regex) {
    if (regex == nullptr) return;
    regexes_.push_back(regex);
    out.regex = static_cast<uint32_t>(regexes_.size());
  };
  // The cases follow ConditionHolds and TextMatches (trigger_conditions.cc) branch for branch.
  switch (c.field) {
    case TriggerField::kRequesterEmail:
    case TriggerField::kRequesterName:
    case TriggerField::kSubject:
    case TriggerField::kDescription:
    case TriggerField::kComment:
    case TriggerField::kSubjectWords:
    case TriggerField::kCommentWords: {
      out.slot = TextSlotOf(c.field);
      switch (op) {
        case TriggerOperator::kIncludes:
        case TriggerOperator::kNotIncludes:
          out.test = ConditionTest::kWordsAny;
          out.negate = op == TriggerOperator::kNotIncludes;
          out.a = static_cast<uint32_t>(payload_.size());
          out.b = static_cast<uint32_t>(c.words.size());
          for (const std::string& word : c.words) {
            payload_.push_back(WordHash(word));
            payload_.push_back(uint64_t{text_.size()} << 32 | word.size());
            text_.append(word);
          }
          keep_regex(c.regex.get());
          return out;
        case TriggerOperator::kRegex:
        case TriggerOperator::kRegexCaseSensitive:
          // The loader compiles every regex; without one nothing can match.
          if (c.regex) out.test = ConditionTest::kTextRegex;
          keep_regex(c.regex.get());
          return out;
        case TriggerOperator::kContainsCaseSensitive:
          out.test = ConditionTest::kTextContainsCaseSensitive;
          keep_text(c.value);
          return out;
        default:
          break;
      }
      bool words_field =
          c.field == TriggerField::kSubjectWords || c.field == TriggerField::kCommentWords;
      bool substring =
          words_field || op == TriggerOperator::kContains || op == TriggerOperator::kNotContains;
      out.negate = op == TriggerOperator::kIsNot || op == TriggerOperator::kNotContains;
      if (c.regex) {
        out.test = ConditionTest::kTextRegex;
        keep_regex(c.regex.get());
      } else {
        out.test = substring ? ConditionTest::kTextContains : ConditionTest::kTextEquals;
        keep_text(c.value);
      }
      return out;
    }
    case TriggerField::kCurrentTags:
      out.test = ConditionTest::kTagsAny;
      out.negate = op != TriggerOperator::kIncludes;
      out.a = static_cast<uint32_t>(payload_.size());
      out.b = static_cast<uint32_t>(c.words.size());
      for (const std::string& tag : c.words) payload_.push_back(tags_.Intern(tag));
      return out;
    case TriggerField::kCommentIsPublic:
      if (c.value == "not_relevant") {
        out.test = ConditionTest::kTrue;
        return out;
      }
      out.test = ConditionTest::kCommentPublic;
      for (int is_public = 0; is_public < 2; ++is_public) {
        bool holds = (is_public == 1) == (c.value == "true");
        if (op != TriggerOperator::kIs) holds = !holds;
        if (holds) out.number |= int64_t{1} << is_public;
      }
      return out;
    default:
      break;
  }
  out.number = c.number;
  switch (op) {
    case TriggerOperator::kLessThan:
      out.test = ConditionTest::kNumberLess;
      break;
    case TriggerOperator::kGreaterThan:
      out.test = ConditionTest::kNumberGreater;
      break;
    case TriggerOperator::kLessThanOrEqual:
      out.test = ConditionTest::kNumberLessEqual;
      break;
    case TriggerOperator::kGreaterThanOrEqual:
      out.test = ConditionTest::kNumberGreaterEqual;
      break;
    default:
      break;
  }
  if (out.test != ConditionTest::kFalse) {
    out.slot = NumberSlotOf(c.field);
    return out;
  }
  if (c.field == TriggerField::kHourOfDay || c.field == TriggerField::kDayOfWeek ||
      c.field == TriggerField::kRequesterPreviousTickets) {
    out.test = ConditionTest::kNumberEquals;
    out.slot = NumberSlotOf(c.field);
    out.negate = op != TriggerOperator::kIs;
    return out;
  }
  const int slot = IdSlotOf(c.field);
  if (slot < 0) return out;  // every other field is an id field: not reached
  out.slot = static_cast<uint8_t>(slot);
  out.a = ids_.Intern(LowerAscii(c.value));
  switch (op) {
    case TriggerOperator::kIsNot:
      out.negate = true;
      [[fallthrough]];
    case TriggerOperator::kIs:
      out.test = ConditionTest::kIdEquals;
      break;
    case TriggerOperator::kNotChanged:
      out.negate = true;
      [[fallthrough]];
    case TriggerOperator::kChanged:
      out.test = ConditionTest::kIdChanged;
      break;
    case TriggerOperator::kNotChangedTo:
      out.negate = true;
      [[fallthrough]];
    case TriggerOperator::kChangedTo:
      out.test = ConditionTest::kIdChangedTo;
      break;
    case TriggerOperator::kNotChangedFrom:
      out.negate = true;
      [[fallthrough]];
    case TriggerOperator::kChangedFrom:
      out.test = ConditionTest::kIdChangedFrom;
      break;
    default:
      break;
  }
  return out;
}

// --- Evaluating -------------------------------------------------------------------------------

bool CompiledTriggers::AnyTag(const CompiledCondition& c, CycleFacts& facts) const {
  const std::vector<uint32_t>& have = facts.TagIds();
  for (uint32_t k = 0; k < c.b; ++k) {
    const auto want = static_cast<uint32_t>(payload_[c.a + k]);
    for (uint32_t id : have) {
      if (id == want) return true;
    }
  }
  return false;
}

bool CompiledTriggers::AnyWord(const CompiledCondition& c, CycleFacts& facts) const {
  const WordSet& words = facts.Words(c.slot);
  for (uint32_t k = 0; k < c.b; ++k) {
    const uint64_t hash = payload_[c.a + 2 * k];
    const uint64_t where = payload_[c.a + 2 * k + 1];
    std::string_view word(text_.data() + (where >> 32), static_cast<uint32_t>(where));
    if (words.Contains(hash, word)) return true;
  }
  if (c.regex == 0) return false;
  // The condition's non-ASCII words, caselessly.
  const PythonRegex& regex = *regexes_[c.regex - 1];
  for (std::string_view word : words.words) {
    if (regex.FullMatch(word)) return true;
  }
  return false;
}

bool CompiledTriggers::Holds(const CompiledCondition& c, CycleFacts& facts) const {
  bool result = false;
  std::string_view value(text_.data() + c.a, c.b);  // for the text tests
  switch (c.test) {
    case ConditionTest::kFalse:
      break;
    case ConditionTest::kTrue:
      result = true;
      break;
    case ConditionTest::kIdEquals:
      result = facts.Now(c.slot) == c.a;
      break;
    case ConditionTest::kIdChanged:
      result = facts.Now(c.slot) != facts.Before(c.slot);
      break;
    case ConditionTest::kIdChangedTo: {
      const uint32_t now = facts.Now(c.slot);
      result = now != facts.Before(c.slot) && now == c.a;
      break;
    }
    case ConditionTest::kIdChangedFrom: {
      const uint32_t before = facts.Before(c.slot);
      result = facts.Now(c.slot) != before && before == c.a;
      break;
    }
    case ConditionTest::kNumberEquals:
      result = facts.Number(c.slot) == c.number;
      break;
    case ConditionTest::kNumberLess:
      result = facts.Number(c.slot) < c.number;
      break;
    case ConditionTest::kNumberGreater:
      result = facts.Number(c.slot) > c.number;
      break;
    case ConditionTest::kNumberLessEqual:
      result = facts.Number(c.slot) <= c.number;
      break;
    case ConditionTest::kNumberGreaterEqual:
      result = facts.Number(c.slot) >= c.number;
      break;
    case ConditionTest::kCommentPublic:
      result = ((c.number >> (facts.event().comment_is_public ? 1 : 0)) & 1) != 0;
      break;
    case ConditionTest::kTagsAny:
      result = AnyTag(c, facts);
      break;
    case ConditionTest::kWordsAny:
      result = AnyWord(c, facts);
      break;
    case ConditionTest::kTextRegex:
      result = regexes_[c.regex - 1]->FullMatch(facts.Text(c.slot));
      break;
    case ConditionTest::kTextContains:
      result = facts.Lower(c.slot).find(value) != std::string::npos;
      break;
    case ConditionTest::kTextEquals:
      result = facts.Lower(c.slot) == value;
      break;
    case ConditionTest::kTextContainsCaseSensitive:
      result = facts.Text(c.slot).find(value) != std::string_view::npos;
      break;
  }
  return result != c.negate;
}

bool CompiledTriggers::Matches(uint32_t index, CycleFacts& facts, uint8_t& could_change,
                               bool key_holds) const {
  const Header& header = headers_[index];
  for (uint32_t k = header.begin + (key_holds ? header.key : 0); k < header.all_end; ++k) {
    const CompiledCondition& c = conditions_[k];
    if (!Holds(c, facts)) {
      could_change = c.field_bit;
      return false;
    }
  }
  if (header.all_end == header.any_end) return true;
  uint8_t bits = 0;
  for (uint32_t k = header.all_end; k < header.any_end; ++k) {
    const CompiledCondition& c = conditions_[k];
    if (Holds(c, facts)) return true;
    bits |= c.field_bit;
  }
  could_change = bits;
  return false;
}

void CompiledTriggers::Prefetch(uint32_t index) const {
  const Header& header = headers_[index];
  const char* begin = reinterpret_cast<const char*>(conditions_.data() + header.begin);
  const char* end = reinterpret_cast<const char*>(conditions_.data() + header.any_end);
  for (const char* line = begin; line < end && line < begin + 192; line += 64) {
    __builtin_prefetch(line);
  }
  if (header.payload < payload_.size()) __builtin_prefetch(payload_.data() + header.payload);
}

// --- CycleFacts -------------------------------------------------------------------------------

CycleFacts::CycleFacts(const CompiledTriggers& compiled, const TriggerEvent& event,
                       const TicketState& state)
    : compiled_(compiled),
      event_(event),
      state_(state),
      texts_(ThreadTexts()),
      tag_ids_(&texts_.tag_ids) {}

CycleFacts::~CycleFacts() {
  for (size_t slot = 0; slot < kTextSlots; ++slot) {
    if (texts_.lower[slot].capacity() > kKeptTextBytes) std::string().swap(texts_.lower[slot]);
    if (texts_.words[slot].lowered.capacity() > kKeptTextBytes) texts_.words[slot].Release();
  }
}

void CycleFacts::Changed(uint8_t field_bits) {
  if (field_bits & kStatusBit) {
    now_known_ &= ~(1u << kStatusSlot);
    numbers_known_ &= ~(1u << kStatusNumber);
  }
  if (field_bits & kPriorityBit) {
    now_known_ &= ~(1u << kPrioritySlot);
    numbers_known_ &= ~(1u << kPriorityNumber);
  }
  if (field_bits & kTypeBit) now_known_ &= ~(1u << kTypeSlot);
  if (field_bits & kGroupBit) now_known_ &= ~(1u << kGroupSlot);
  if (field_bits & kAssigneeBit) now_known_ &= ~(1u << kAssigneeSlot);
  if (field_bits & kTagsBit) tags_known_ = false;
}

uint32_t CycleFacts::ResolveNow(uint8_t slot) {
  uint32_t id = compiled_.ids_.FindLowered(IdValue(kIdSlotFields[slot], state_, event_));
  now_[slot] = id == InternTable::kNone ? kUnknownNow : id;
  now_known_ |= 1u << slot;
  return now_[slot];
}

uint32_t CycleFacts::ResolveBefore(uint8_t slot) {
  const TriggerField field = kIdSlotFields[slot];
  std::string_view before = IdValue(field, event_.previous, event_);
  uint32_t id = compiled_.ids_.FindLowered(before);
  if (id == InternTable::kNone) {
    id = EqualsIgnoreCase(IdValue(field, event_.current, event_), before) ? kUnknownNow
                                                                          : kUnknownBefore;
  }
  before_[slot] = id;
  before_known_ |= 1u << slot;
  return id;
}

int64_t CycleFacts::Number(uint8_t slot) {
  if (slot == kStatusNumber || slot == kPriorityNumber) {
    int64_t& number = slot == kStatusNumber ? status_number_ : priority_number_;
    if ((numbers_known_ & (1u << slot)) == 0) {
      number = NumberValue(kNumberSlotFields[slot], state_, event_);
      numbers_known_ |= 1u << slot;
    }
    return number;
  }
  return NumberValue(kNumberSlotFields[slot], state_, event_);
}

const std::vector<uint32_t>& CycleFacts::ResolveTagIds() {
  // Tags no condition names cannot make one hold: only the others are kept.
  texts_.tag_ids.clear();
  for (const std::string& tag : state_.tags) {
    uint32_t id = compiled_.tags_.Find(tag);
    if (id != InternTable::kNone) texts_.tag_ids.push_back(id);
  }
  tags_known_ = true;
  return texts_.tag_ids;
}

std::string_view CycleFacts::Text(uint8_t slot) const {
  return TextValue(kTextSlotFields[slot], event_);
}

const std::string& CycleFacts::Lower(uint8_t slot) {
  std::string& lower = texts_.lower[slot];
  if ((lower_known_ & (1u << slot)) == 0) {
    std::string_view text = Text(slot);
    lower.resize(text.size());
    for (size_t i = 0; i < text.size(); ++i) {
      lower[i] = static_cast<char>(kAsciiLower[static_cast<unsigned char>(text[i])]);
    }
    lower_known_ |= 1u << slot;
  }
  return lower;
}

const WordSet& CycleFacts::Words(uint8_t slot) {
  WordSet& words = texts_.words[slot];
  if ((words_known_ & (1u << slot)) == 0) {
    words.Build(Text(slot));
    words_known_ |= 1u << slot;
  }
  return words;
}

}  // namespace postdesk
