// Loading Zendesk trigger JSON into a TriggerSet (rules/trigger.h).
//
// Accepts what Zendesk's API exports, {"triggers": [...]}, or a bare list of triggers. Each
// trigger is {"title", "active", "position", "conditions": {"all": [...], "any": [...]},
// "actions": [...]}, each condition {"field", "operator", "value"} and each action
// {"field", "value"}; other keys Zendesk adds (url, created_at, raw_title...) are ignored.
//
// A set is all or nothing (design.md, "Triggers"): an unknown field, operator or placeholder, a
// value a field cannot take, a regex that does not compile, a message over 8,192 characters or
// two triggers with one id (a missing id is the trigger's position in the file)
// fails the whole load with a Status that names the source, the trigger and the place, e.g.
//   triggers.json: trigger 3 "VIP" (id 900): conditions.all[1]: unknown field "foo"
// Inactive triggers are checked too, so that activating one later cannot break a running set.
//
// Pure code; thread-safe; no exception escapes.
#ifndef POSTDESK_RULES_TRIGGER_LOADER_H_
#define POSTDESK_RULES_TRIGGER_LOADER_H_

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "parser/result.h"
#include "rules/trigger.h"

namespace postdesk {

// Trigger files are read whole; 10,000 triggers take a few megabytes.
inline constexpr size_t kMaxTriggerFileBytes = 64 * 1024 * 1024;

// Parses one file's triggers (active and inactive) without building a set, so that several files
// (the defaults and the operator's) can be joined. `source` names the file in errors.
Result<std::vector<Trigger>> ParseTriggers(std::string_view json, std::string_view source);

// Parses a JSON array of actions, as TriggerAction::json holds them, for delayed actions.
Result<std::vector<TriggerAction>> ParseTriggerActions(std::string_view json);

// ParseTriggers, then TriggerSet.
Result<std::shared_ptr<const TriggerSet>> LoadTriggerSet(std::string_view json,
                                                         std::string_view source);

}  // namespace postdesk

#endif  // POSTDESK_RULES_TRIGGER_LOADER_H_
