// Unstructured header text to UTF-8: unfolding (RFC 5322 2.2.3), RFC 2047 encoded words and raw
// 8-bit text (RFC 6532).
//
// Pure functions; thread-safe; never throw. Output is valid UTF-8 and at most a few times the
// input size (one input byte never yields more than 3 output bytes, see charset.h), so callers
// bound it by bounding the header. Lenient where senders are sloppy and nothing is ambiguous:
// encoded words glued to text ("Re:=?utf-8?q?x?="), uppercase/lowercase B/Q, blanks inside Q text,
// RFC 2231 language suffixes ("=?utf-8*en?q?x?=", RFC 2231 section 5), and a multibyte character
// split across two adjacent encoded words of the same charset (the bytes are joined before the
// charset conversion, which RFC 2047 6.2 forbids senders to rely on but Outlook and others do).
#ifndef POSTDESK_PARSER_ENCODED_WORDS_H_
#define POSTDESK_PARSER_ENCODED_WORDS_H_

#include <string>
#include <string_view>

namespace postdesk {

// Decodes a header field body: CR and LF are removed (unfolding keeps the blank that follows
// them), encoded words are decoded and the blanks between two adjacent encoded words are dropped
// (RFC 2047 6.2). Text outside encoded words is UTF-8 when valid, else windows-1252. Leading and
// trailing blanks are trimmed. AssignDecodedHeaderText replaces `out` with the same, reusing its
// storage.
std::string DecodeHeaderText(std::string_view raw);
void AssignDecodedHeaderText(std::string_view raw, std::string* out);

// As DecodeHeaderText, appending to `out` without trimming.
void AppendDecodedHeaderText(std::string_view raw, std::string* out);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_ENCODED_WORDS_H_
