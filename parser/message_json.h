// MessageToJson: a ParsedMessage as JSON, the output of `postdesk parse FILE.eml`.
//
// Keys follow shared/corpus/expected.json (subject, from_email, from_name, description,
// truncated, attachments) plus every header field ParsedMessage carries; optional fields that are
// absent are null. Pure function; thread-safe; never throws for a ParsedMessage from
// ParseMessage (all its text is valid UTF-8, which nlohmann::json::dump requires).
#ifndef POSTDESK_PARSER_MESSAGE_JSON_H_
#define POSTDESK_PARSER_MESSAGE_JSON_H_

#include <nlohmann/json.hpp>

#include "parser/message.h"

namespace postdesk {

nlohmann::json MessageToJson(const ParsedMessage& message);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_MESSAGE_JSON_H_
