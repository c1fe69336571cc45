// JSON string literals (RFC 8259 section 7) for the JSON that Postdesk writes by hand where a
// JSON library's object model would cost more than the text: log lines, the comment records of
// the ingest script.
//
// Pure functions; thread-safe; never fail. Input that is not UTF-8 still gives valid JSON: each
// byte that starts no valid sequence becomes U+FFFD, so the output always parses.
#ifndef POSTDESK_PARSER_JSON_STRING_H_
#define POSTDESK_PARSER_JSON_STRING_H_

#include <string>
#include <string_view>

namespace postdesk {

// Appends `text` as a JSON string, quotes included: `"`, `\` and the control characters are
// escaped (\n, \r, \t, else \u00XX), DEL as \u007f; valid UTF-8 is copied as it is.
void AppendJsonString(std::string_view text, std::string* out);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_JSON_STRING_H_
