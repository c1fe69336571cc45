// ParseMessage: raw RFC 5322 / MIME bytes to a ParsedMessage.
//
// Pure function: no I/O, no shared state (each thread keeps its own scratch buffers), safe to
// call from any thread at once. Never fails and
// never throws: malformed input is salvaged into the best ParsedMessage it allows, with a note in
// `warnings`. Every bound in ParseLimits is checked before the work it limits, so time and memory
// stay proportional to the input size.
#ifndef POSTDESK_PARSER_MESSAGE_PARSER_H_
#define POSTDESK_PARSER_MESSAGE_PARSER_H_

#include <cstddef>
#include <string_view>

#include "parser/message.h"

namespace postdesk {

struct ParseLimits {
  size_t max_depth = 16;                 // MIME nesting depth; deeper parts are not descended into
  size_t max_parts = 500;                // MIME parts in all; later parts are ignored
  size_t max_header_bytes = 256 * 1024;  // one header block; the rest is read as body
  size_t max_header_fields = 1000;       // fields in one header block; the rest is read as body
  size_t max_field_bytes = 64 * 1024;    // one (folded) header field; longer ones are cut
};

// `raw` may end lines with CRLF or bare LF. The pointer form overwrites `*message` (a message
// parsed before, or a new one) with the same result, keeping the storage of its strings and
// lists: with it, and the per-thread scratch it uses, a warm thread parses a small message
// without allocating.
ParsedMessage ParseMessage(std::string_view raw, const ParseLimits& limits = {});
void ParseMessage(std::string_view raw, const ParseLimits& limits, ParsedMessage* message);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_MESSAGE_PARSER_H_
