// Charsets to UTF-8: label lookup by the WHATWG Encoding Standard, conversion by iconv.
//
// Labels follow https://encoding.spec.whatwg.org/#names-and-labels: ASCII case-insensitive, blanks
// trimmed, and "us-ascii", "iso-8859-1" and "latin1" all mean windows-1252 (what senders actually
// emit under those labels). Two mail-specific additions the Web does not need: UTF-7 (RFC 2152,
// still sent by old Exchange) and the ISO-2022-KR/CN family, which WHATWG maps to "replacement"
// but which iconv decodes fine. An unknown or absent label decodes as UTF-8 when the bytes are
// valid UTF-8 (RFC 6532 mail) and as windows-1252 otherwise.
//
// Output is always valid UTF-8: bytes the charset cannot decode become U+FFFD. Thread-safe: each
// thread keeps its own small cache of iconv descriptors (iconv_t is not safe to share), closed at
// thread exit. Never throws; iconv failures degrade to U+FFFD, never to an error.
#ifndef POSTDESK_PARSER_CHARSET_H_
#define POSTDESK_PARSER_CHARSET_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace postdesk {

// The encodings we decode. kUnknown is "no usable label".
enum class Charset : uint8_t {
  kUnknown,
  kUtf8,
  kWindows1252,
  kIconv,  // anything else: decoded by iconv under the name CharsetInfo::iconv_name
};

struct CharsetInfo {
  Charset charset = Charset::kUnknown;
  std::string_view name;        // WHATWG canonical name, e.g. "windows-1252"; "" when unknown
  const char* iconv_name = "";  // glibc iconv name for kIconv
};

// Looks a label up ("ISO-8859-1", " utf8 ", "koi8-r"). Unknown labels give Charset::kUnknown.
CharsetInfo LookupCharset(std::string_view label);

// Appends `bytes` in charset `label` to `out` as UTF-8. Stops once more than `max_output_bytes`
// have been appended (the caller only keeps a bounded prefix) and then returns true; false when
// everything was converted.
bool ConvertToUtf8(std::string_view bytes, std::string_view label, std::string* out,
                   size_t max_output_bytes = SIZE_MAX);
bool ConvertToUtf8(std::string_view bytes, const CharsetInfo& charset, std::string* out,
                   size_t max_output_bytes = SIZE_MAX);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_CHARSET_H_
