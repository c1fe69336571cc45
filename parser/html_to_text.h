// HTML to plain text for ticket descriptions of HTML-only mail.
//
// Not a browser: a single forward pass over UTF-8 input that drops markup, skips the content of
// script, style and title elements and comments, decodes character references (the common named
// ones and all numeric ones, HTML 5.2 8.2.4.69 rules for invalid numbers), collapses white space
// as CSS "white-space: normal" does (kept inside <pre>), and turns block elements into line
// breaks (paragraph-like ones into blank lines, list items into "- " lines). Unterminated tags and
// comments end the text instead of swallowing the reader.
//
// Pure function; thread-safe; never throws; no recursion; output is valid UTF-8 when the input
// is, and never longer than about 4 times the input (a 2-byte "&amp;" style reference never
// yields more than 4 bytes).
#ifndef POSTDESK_PARSER_HTML_TO_TEXT_H_
#define POSTDESK_PARSER_HTML_TO_TEXT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace postdesk {

// Appends the text of `html` to `out`. Stops once more than `max_output_bytes` have been
// appended, and then returns true (the text was cut): at most the white space before a piece
// and one character past the limit, at a character boundary, however long the input's runs.
bool HtmlToText(std::string_view html, std::string* out, size_t max_output_bytes = SIZE_MAX);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_HTML_TO_TEXT_H_
