// UTF-8 helpers: validation, repair, counting and cutting at a code point boundary.
//
// Pure functions over byte strings; thread-safe; never throw, never fail. "Valid" follows
// RFC 3629 section 4 exactly: no overlong forms, no surrogates (U+D800..U+DFFF), nothing above
// U+10FFFF. Repair replaces each maximal invalid subpart with one U+FFFD, the practice of the
// WHATWG encoding standard ("utf-8 decode") and Unicode 15 section 3.9, so that every decoder in
// the pipeline agrees on the same text.
#ifndef POSTDESK_PARSER_UTF8_H_
#define POSTDESK_PARSER_UTF8_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace postdesk {

inline constexpr std::string_view kReplacementCharacter = "\xEF\xBF\xBD";  // U+FFFD

// Length of the run of ASCII bytes (below 0x80) at the start of `text`.
size_t AsciiPrefix(std::string_view text);

// True when every byte of `text` is ASCII.
inline bool IsAscii(std::string_view text) { return AsciiPrefix(text) == text.size(); }

// Length of the valid UTF-8 sequence that starts at text[0], or 0 when text[0] does not start
// one (invalid lead byte, truncated or overlong sequence, surrogate, above U+10FFFF).
size_t ValidSequenceLength(std::string_view text);

// True when every byte of `text` belongs to a valid UTF-8 sequence.
bool IsValidUtf8(std::string_view text);

// Appends `text` to `out`, replacing each invalid subpart by U+FFFD.
void AppendRepairedUtf8(std::string_view text, std::string* out);

// Appends the UTF-8 encoding of `code_point`; surrogates and values above U+10FFFF become U+FFFD.
void AppendCodePoint(char32_t code_point, std::string* out);

// Number of code points in valid UTF-8 text (counts bytes that are not continuation bytes).
size_t CountCodePoints(std::string_view utf8);

// Byte length of the longest prefix of valid UTF-8 `utf8` that holds at most `max_code_points`
// code points. Never splits a character.
size_t PrefixBytesForCodePoints(std::string_view utf8, size_t max_code_points);

// Cuts valid UTF-8 `text` to at most `max_code_points` code points; true when it was cut.
bool TruncateToCodePoints(std::string* text, size_t max_code_points);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_UTF8_H_
