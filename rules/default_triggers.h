// The default triggers of the email channel (design.md, "Triggers"), as Zendesk ships them,
// in Zendesk's own JSON so that they load through the same path as an operator's file.
//
// Enabled by `[triggers] defaults = true`. Constant data; thread-safe; nothing fails (the
// tests load them).
#ifndef POSTDESK_RULES_DEFAULT_TRIGGERS_H_
#define POSTDESK_RULES_DEFAULT_TRIGGERS_H_

#include <string_view>

namespace postdesk {

// {"triggers": [...]}: notify the requester of a received request, of a comment update and of a
// solved request; notify the assignee of a comment update, of an assignment and of a reopened
// ticket; notify the group of an assignment; notify all agents of a received request. Their
// positions (1-8) run before an operator's triggers that use larger ones.
extern const std::string_view kDefaultTriggersJson;

}  // namespace postdesk

#endif  // POSTDESK_RULES_DEFAULT_TRIGGERS_H_
