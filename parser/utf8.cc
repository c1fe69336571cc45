#include "parser/utf8.h"

#include <cstdint>
#include <cstring>

namespace postdesk {
namespace {

inline bool IsContinuation(unsigned char c) { return (c & 0xC0) == 0x80; }

}  // namespace

// Eight bytes at a time: mail text is mostly ASCII and this loop is the parser's hottest.
size_t AsciiPrefix(std::string_view text) {
  size_t i = 0;
  const char* p = text.data();
  const size_t n = text.size();
  while (i + 8 <= n) {
    uint64_t word;
    std::memcpy(&word, p + i, 8);
    if (word & 0x8080808080808080ULL) break;
    i += 8;
  }
  while (i < n && static_cast<unsigned char>(p[i]) < 0x80) ++i;
  return i;
}

size_t ValidSequenceLength(std::string_view text) {
  if (text.empty()) return 0;
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const unsigned char c = s[0];
  if (c < 0x80) return 1;
  // Table 3-7 of Unicode 15 (well-formed byte sequences), which is RFC 3629 section 4.
  if (c >= 0xC2 && c <= 0xDF) {
    return (n >= 2 && IsContinuation(s[1])) ? 2 : 0;
  }
  if (c >= 0xE0 && c <= 0xEF) {
    if (n < 3) return 0;
    const unsigned char lo = (c == 0xE0) ? 0xA0 : 0x80;
    const unsigned char hi = (c == 0xED) ? 0x9F : 0xBF;
    if (s[1] < lo || s[1] > hi || !IsContinuation(s[2])) return 0;
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (n < 4) return 0;
    const unsigned char lo = (c == 0xF0) ? 0x90 : 0x80;
    const unsigned char hi = (c == 0xF4) ? 0x8F : 0xBF;
    if (s[1] < lo || s[1] > hi || !IsContinuation(s[2]) || !IsContinuation(s[3])) return 0;
    return 4;
  }
  return 0;
}

bool IsValidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    i += AsciiPrefix(text.substr(i));
    if (i >= text.size()) break;
    const size_t len = ValidSequenceLength(text.substr(i));
    if (len == 0) return false;
    i += len;
  }
  return true;
}

// The "maximal subpart" of an invalid sequence (Unicode 15, 3.9, U+FFFD substitution): the lead
// byte plus those continuation bytes that could still have been part of a valid sequence.
static size_t MaximalSubpart(std::string_view text) {
  const auto* s = reinterpret_cast<const unsigned char*>(text.data());
  const size_t n = text.size();
  const unsigned char c = s[0];
  size_t need;
  unsigned char lo = 0x80, hi = 0xBF;
  if (c >= 0xC2 && c <= 0xDF) {
    need = 2;
  } else if (c >= 0xE0 && c <= 0xEF) {
    need = 3;
    if (c == 0xE0) lo = 0xA0;
    if (c == 0xED) hi = 0x9F;
  } else if (c >= 0xF0 && c <= 0xF4) {
    need = 4;
    if (c == 0xF0) lo = 0x90;
    if (c == 0xF4) hi = 0x8F;
  } else {
    return 1;
  }
  size_t i = 1;
  if (i < n && s[i] >= lo && s[i] <= hi) {
    ++i;
    while (i < need && i < n && IsContinuation(s[i])) ++i;
  }
  return i;
}

void AppendRepairedUtf8(std::string_view text, std::string* out) {
  size_t i = 0;
  while (i < text.size()) {
    const size_t ascii = AsciiPrefix(text.substr(i));
    size_t j = i + ascii;
    // Extend the run over valid multibyte sequences, so valid text is appended in one piece.
    while (j < text.size()) {
      const size_t len = ValidSequenceLength(text.substr(j));
      if (len == 0) break;
      j += len;
      j += AsciiPrefix(text.substr(j));
    }
    out->append(text.data() + i, j - i);
    if (j >= text.size()) break;
    out->append(kReplacementCharacter);
    i = j + MaximalSubpart(text.substr(j));
  }
}

void AppendCodePoint(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      out->append(kReplacementCharacter);
      return;
    }
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp <= 0x10FFFF) {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->append(kReplacementCharacter);
  }
}

size_t CountCodePoints(std::string_view utf8) {
  size_t count = 0;
  for (char c : utf8) count += !IsContinuation(static_cast<unsigned char>(c));
  return count;
}

size_t PrefixBytesForCodePoints(std::string_view utf8, size_t max_code_points) {
  if (utf8.size() <= max_code_points) return utf8.size();  // bytes >= code points
  size_t count = 0;
  for (size_t i = 0; i < utf8.size(); ++i) {
    if (!IsContinuation(static_cast<unsigned char>(utf8[i]))) {
      if (count == max_code_points) return i;
      ++count;
    }
  }
  return utf8.size();
}

bool TruncateToCodePoints(std::string* text, size_t max_code_points) {
  const size_t keep = PrefixBytesForCodePoints(*text, max_code_points);
  if (keep == text->size()) return false;
  text->resize(keep);
  return true;
}

}  // namespace postdesk
