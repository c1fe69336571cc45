// Internal to rules/: a TriggerSet's conditions compiled for the cycle (trigger_engine.cc).
//
// The Trigger structs the loader makes are strings in vectors behind pointers; with 10,000
// triggers an event's ~70 candidates are scattered over megabytes, and each condition compares
// strings. Compiled, every condition is 24 bytes in one array, in run order, its values interned
// to integers at load time: a cycle resolves the ticket's values to the same integers once
// (CycleFacts) and compares integers. Words become 64-bit hashes that a cycle looks up in a hash
// set of the text's words, confirmed byte for byte on a hit.
//
// What each compiled test computes is exactly what the direct evaluator (trigger_conditions.cc)
// computes for the condition it came from, which the differential test checks.
//
// Immutable once built; CycleFacts belongs to one cycle on one thread.
#ifndef POSTDESK_RULES_COMPILED_TRIGGERS_H_
#define POSTDESK_RULES_COMPILED_TRIGGERS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rules/intern_table.h"
#include "rules/python_regex.h"
#include "rules/ticket_state.h"
#include "rules/trigger.h"

namespace postdesk {

// The exact-match fields a condition compares by id.
enum IdSlot : uint8_t {
  kUpdateTypeSlot,
  kStatusSlot,
  kPrioritySlot,
  kTypeSlot,
  kGroupSlot,
  kAssigneeSlot,
  kBrandSlot,
  kReceivedAtSlot,
  kViaSlot,
  kRequesterSlot,
  kSenderTypeSlot,
  kIdSlotCount,
};

// What a compiled condition computes; the condition holds if the result differs from `negate`.
enum class ConditionTest : uint8_t {
  kFalse,
  kTrue,
  kIdEquals,       // Now(slot) == a
  kIdChanged,      // Now(slot) != Before(slot)
  kIdChangedTo,    // changed, and Now(slot) == a
  kIdChangedFrom,  // changed, and Before(slot) == a
  kNumberEquals,   // Number(slot) == number
  kNumberLess,
  kNumberGreater,
  kNumberLessEqual,
  kNumberGreaterEqual,
  kCommentPublic,  // bit comment_is_public of number
  kTagsAny,        // a tag id of payload [a, a + b) is the ticket's
  kWordsAny,       // a word of payload [a, a + 2b) is the text's, or the regex matches one
  kTextRegex,      // the regex matches the whole text
  kTextContains,   // the lowered text contains text [a, a + b)
  kTextEquals,     // the lowered text is text [a, a + b)
  kTextContainsCaseSensitive,
};

struct CompiledCondition {
  ConditionTest test;
  uint8_t slot;  // IdSlot, number slot or text slot, as the test reads
  bool negate;
  uint8_t field_bit;  // FieldBit of the condition's field
  // Offsets and sizes are 32-bit: a trigger file is at most 64 MiB (kMaxTriggerFileBytes).
  uint32_t a;      // value id, or offset in payload or text
  uint32_t b;      // count or size
  uint32_t regex;  // 1 + index in regexes, 0 for none
  int64_t number;
};
static_assert(sizeof(CompiledCondition) == 24);

struct CycleTexts;
struct WordSet;
class CycleFacts;

class CompiledTriggers {
 public:
  // keys[i] is the condition of triggers[i].all that the set's index selects it by, or -1; it is
  // compiled first, so that Matches can skip it. The regexes of `triggers` are referred to, not
  // copied: TriggerSet keeps both.
  CompiledTriggers(const std::vector<Trigger>& triggers, const std::vector<int32_t>& keys);

  // Id values (lower case) of every exact-match condition and index key, and of the values the
  // triggers' actions assign to status, priority, type, group and assignee.
  const InternTable& ids() const { return ids_; }
  // Tags of every current_tags condition, byte for byte.
  const InternTable& tags() const { return tags_; }

  // DirectMatches (trigger_conditions.h) for triggers()[index], on the compiled form. With
  // `key_holds` (the trigger is a candidate of an exact TriggerSet::CandidatesByIds), the
  // condition it is indexed by is taken as holding.
  bool Matches(uint32_t index, CycleFacts& facts, uint8_t& could_change, bool key_holds) const;

  // Asks the memory for a trigger's conditions, which a pass will evaluate shortly, and for its
  // actions, which it runs if it fires.
  void Prefetch(uint32_t index) const;

  // triggers()[index].actions, as an array of action_count.
  const TriggerAction* Actions(uint32_t index, uint32_t& action_count) const {
    action_count = headers_[index].action_count;
    return headers_[index].actions;
  }

 private:
  friend class CycleFacts;
  struct Header {
    uint32_t begin;    // first condition in conditions_
    uint32_t all_end;  // end of the "all" conditions, start of the "any" ones
    uint32_t any_end;
    uint32_t payload;  // first entry in payload_
    uint32_t key;      // 1 if conditions_[begin] is the index's key condition, else 0
    uint32_t action_count;
    // The Trigger's actions: a firing reads them from here, not through the Trigger (one cache
    // line fewer), and Prefetch can ask for them without reading the Trigger first.
    const TriggerAction* actions;
  };

  CompiledCondition Compile(const TriggerCondition& c);
  bool Holds(const CompiledCondition& c, CycleFacts& facts) const;
  bool AnyTag(const CompiledCondition& c, CycleFacts& facts) const;
  bool AnyWord(const CompiledCondition& c, CycleFacts& facts) const;

  InternTable ids_;
  InternTable tags_;
  std::vector<Header> headers_;  // by trigger index
  std::vector<CompiledCondition> conditions_;
  // Words: (hash, offset << 32 | size in text_) pairs; tags: ids.
  std::vector<uint64_t> payload_;
  std::string text_;  // values of text conditions and words, concatenated
  std::vector<const PythonRegex*> regexes_;
};

// The facts of one event that conditions read, resolved on first use and kept for the cycle: ids
// of the ticket's values, the status and priority ordinals, tag ids, lowered texts and word sets.
// The texts' buffers are per thread and reused by the next cycle.
class CycleFacts {
 public:
  // `state` is the cycle's ticket, which the cycle changes between evaluations and then reports
  // with Changed. All three must outlive the facts.
  CycleFacts(const CompiledTriggers& compiled, const TriggerEvent& event, const TicketState& state);
  ~CycleFacts();
  CycleFacts(const CycleFacts&) = delete;
  CycleFacts& operator=(const CycleFacts&) = delete;

  // The cycle changed these fields (FieldBit) of the state: their values are resolved again.
  void Changed(uint8_t field_bits);

  const TriggerEvent& event() const { return event_; }
  // Resolved on first use (a hash lookup), then read from here.
  uint32_t Now(uint8_t slot) { return (now_known_ >> slot & 1) ? now_[slot] : ResolveNow(slot); }
  uint32_t Before(uint8_t slot) {
    return (before_known_ >> slot & 1) ? before_[slot] : ResolveBefore(slot);
  }
  int64_t Number(uint8_t slot);
  const std::vector<uint32_t>& TagIds() { return tags_known_ ? *tag_ids_ : ResolveTagIds(); }

 private:
  friend class CompiledTriggers;
  uint32_t ResolveNow(uint8_t slot);
  uint32_t ResolveBefore(uint8_t slot);
  const std::vector<uint32_t>& ResolveTagIds();
  std::string_view Text(uint8_t slot) const;
  const std::string& Lower(uint8_t slot);
  const WordSet& Words(uint8_t slot);

  // The ids a ticket value outside the set's values resolves to: the event's current value, and
  // a previous value that differs from it. Every value an action assigns is in the set's ids, so
  // a current value outside them is still the one the event came with.
  static constexpr uint32_t kUnknownNow = UINT32_MAX;
  static constexpr uint32_t kUnknownBefore = UINT32_MAX - 1;

  const CompiledTriggers& compiled_;
  const TriggerEvent& event_;
  const TicketState& state_;
  CycleTexts& texts_;               // this thread's
  std::vector<uint32_t>* tag_ids_;  // in texts_
  uint32_t now_[kIdSlotCount];
  uint32_t before_[kIdSlotCount];
  uint32_t now_known_ = 0;  // bit per IdSlot
  uint32_t before_known_ = 0;
  int64_t status_number_ = 0;
  int64_t priority_number_ = 0;
  uint8_t numbers_known_ = 0;  // 1: status, 2: priority
  bool tags_known_ = false;
  uint8_t lower_known_ = 0;  // bit per text slot
  uint8_t words_known_ = 0;
};

}  // namespace postdesk

#endif  // POSTDESK_RULES_COMPILED_TRIGGERS_H_
