// Internal to rules/: what the two condition evaluators share.
//
// TriggerMatches (trigger_engine.h) evaluates a Trigger's conditions as the loader wrote them,
// string by string (trigger_conditions.cc): it is the definition, and what the tests compare the
// cycle with. The cycle evaluates the set's compiled form instead (compiled_triggers.h), which
// must give the same answers; both read the ticket's values through the functions below, so that
// they cannot disagree on which value a field has.
#ifndef POSTDESK_RULES_TRIGGER_CONDITIONS_H_
#define POSTDESK_RULES_TRIGGER_CONDITIONS_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "rules/ticket_state.h"
#include "rules/trigger.h"

namespace postdesk {

// ASCII lower case, by byte.
inline constexpr std::array<unsigned char, 256> kAsciiLower = [] {
  std::array<unsigned char, 256> table{};
  for (int c = 0; c < 256; ++c) {
    table[c] = static_cast<unsigned char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return table;
}();

// The ticket fields that actions change, as bits. A condition reads one field, so its result can
// only change during a cycle when that field does; a condition on any other field (the event's
// text, the brand, the address...) keeps its result for the whole cycle.
inline constexpr uint8_t kStatusBit = 1;
inline constexpr uint8_t kPriorityBit = 2;
inline constexpr uint8_t kTypeBit = 4;
inline constexpr uint8_t kGroupBit = 8;
inline constexpr uint8_t kAssigneeBit = 16;
inline constexpr uint8_t kTagsBit = 32;
inline constexpr uint8_t kFieldBits = 63;
// Not a field: a tag that the set's index looks up came or went, so the candidates may change.
inline constexpr uint8_t kIndexedTagBit = 64;

// The bit above of the field a condition reads; 0 for the fields no action changes.
uint8_t FieldBit(TriggerField field);

// The value of an exact-match field (update type, status... sender type) in `state`, the
// cycle's current ticket or event.previous; empty for the other fields.
std::string_view IdValue(TriggerField field, const TicketState& state, const TriggerEvent& event);

// The number an ordering operator compares: the status's or priority's ordinal (-1 for a value
// outside the lifecycle), the hour, the day, or the requester's previous tickets.
int64_t NumberValue(TriggerField field, const TicketState& state, const TriggerEvent& event);

// The text a text or words condition reads.
std::string_view TextValue(TriggerField field, const TriggerEvent& event);

// The words that *_includes_word compares, as the loader splits a condition's value: runs of
// ASCII letters and digits and non-ASCII bytes, ASCII lowered. `lowered` receives the text with
// those runs lowered and `words` views into it, in text order (not sorted, not unique).
void SplitWordViews(std::string_view text, std::string& lowered,
                    std::vector<std::string_view>& words);

// True if every condition of `trigger` holds, evaluated directly. If not, `could_change` gets the
// fields (FieldBit) whose change could make them hold: the failing "all" condition's, or else
// every "any" condition's.
bool DirectMatches(const Trigger& trigger, const TriggerEvent& event, const TicketState& state,
                   uint8_t& could_change);

}  // namespace postdesk

#endif  // POSTDESK_RULES_TRIGGER_CONDITIONS_H_
