#include "parser/json_string.h"

#include <charconv>

#include "parser/utf8.h"

namespace postdesk {
namespace {

// Bytes that are copied as they are: printable ASCII but the quote and the backslash. The rest
// (controls, DEL, and bytes of multi-byte sequences) take the slow path.
constexpr bool IsPlain(unsigned char c) { return c >= 0x20 && c < 0x7f && c != '"' && c != '\\'; }

}  // namespace

void AppendJsonString(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->reserve(out->size() + text.size() + 2);
  out->push_back('"');
  size_t i = 0;
  while (i < text.size()) {
    size_t run = i;
    while (run < text.size() && IsPlain(static_cast<unsigned char>(text[run]))) ++run;
    out->append(text.data() + i, run - i);
    i = run;
    if (i == text.size()) break;
    auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      size_t n = ValidSequenceLength(text.substr(i));
      if (n == 0) {
        out->append("\\ufffd");  // one per byte that starts no valid sequence
        n = 1;
      } else {
        out->append(text.data() + i, n);
      }
      i += n;
      continue;
    }
    switch (c) {
      case '"':
        out->append("\\\"");
        break;
      case '\\':
        out->append("\\\\");
        break;
      case '\n':
        out->append("\\n");
        break;
      case '\r':
        out->append("\\r");
        break;
      case '\t':
        out->append("\\t");
        break;
      default:  // the other controls and DEL
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
    ++i;
  }
  out->push_back('"');
}

void AppendDecimal(int64_t n, std::string* out) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof(digits), n);
  out->append(digits, end);
}

}  // namespace postdesk
