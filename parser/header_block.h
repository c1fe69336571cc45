// RFC 5322 header blocks: a message's or a MIME part's header fields, split from its body.
//
// Pure functions over string_views into the caller's buffer (the views live as long as it does);
// thread-safe; never throw. Accepts CRLF and bare LF line ends. Bounded before work: the block
// stops at `max_bytes` or `max_fields`, whichever comes first, and what follows is the body
// (flagged in `truncated`); one field's value is capped at `max_field_bytes`.
#ifndef POSTDESK_PARSER_HEADER_BLOCK_H_
#define POSTDESK_PARSER_HEADER_BLOCK_H_

#include <cstddef>
#include <string_view>
#include <vector>

#include "parser/email_address.h"

namespace postdesk {

struct HeaderField {
  std::string_view name;   // as written, without the colon and blanks before it
  std::string_view value;  // after the colon, folding kept (CRLF + blank), may be cut
};

struct HeaderBlockLimits {
  size_t max_bytes = 256 * 1024;
  size_t max_fields = 1000;
  size_t max_field_bytes = 64 * 1024;
};

struct HeaderBlock {
  std::vector<HeaderField> fields;
  std::string_view body;   // everything after the blank line (or after where the block stopped)
  bool truncated = false;  // a limit ended the block
  bool field_cut = false;  // some field was longer than max_field_bytes
  bool missing_separator = false;  // a line that is no header field started the body
};

// Splits `text` into header fields and body. A line that is neither a field ("name:") nor a
// continuation (leading blank) ends the block and starts the body, as in Python's email package
// (RFC 5322 leaves this case to the receiver). An mbox "From " line at the very start is skipped.
// The pointer form overwrites `out`, keeping the capacity of its field list.
HeaderBlock ParseHeaderBlock(std::string_view text, const HeaderBlockLimits& limits);
void ParseHeaderBlock(std::string_view text, const HeaderBlockLimits& limits, HeaderBlock* out);

// The value with CR and LF removed (RFC 5322 2.2.3 unfolding) and blanks trimmed.
std::string_view TrimBlanks(std::string_view value);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_HEADER_BLOCK_H_
