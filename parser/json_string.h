// JSON string literals (RFC 8259 section 7) and decimal integers, for the text that Postdesk
// writes by hand where a JSON library's object model (or a formatting library) would cost more
// than the text: log lines, SMTP reply texts, the comment records of the ingest script.
//
// Pure functions; thread-safe; never fail. Input that is not UTF-8 still gives valid JSON: each
// byte that starts no valid sequence becomes U+FFFD, so the output always parses.
#ifndef POSTDESK_PARSER_JSON_STRING_H_
#define POSTDESK_PARSER_JSON_STRING_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace postdesk {

// Appends `text` as a JSON string, quotes included: `"`, `\` and the control characters are
// escaped (\n, \r, \t, else \u00XX), DEL as \u007f; valid UTF-8 is copied as it is.
void AppendJsonString(std::string_view text, std::string* out);

// Appends `n` in decimal ("-12"), without a temporary string.
void AppendDecimal(int64_t n, std::string* out);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_JSON_STRING_H_
