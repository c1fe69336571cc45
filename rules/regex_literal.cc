#include "rules/regex_literal.h"

#include <array>

#include "parser/utf8.h"

namespace postdesk {
namespace {

constexpr auto kLower = [] {
  std::array<char, 256> table{};
  for (int c = 0; c < 256; ++c) table[c] = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  return table;
}();

bool IsAsciiAlnum(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

// Python's flags, as "(?aiLmsux)", "(?i:...)" or "(?-i:...)" take them.
bool IsFlagStart(char c) {
  return c == '-' || c == 'a' || c == 'i' || c == 'L' || c == 'm' || c == 's' || c == 'u' ||
         c == 'x';
}

// Escapes of one letter after the backslash that match no letter or digit of their own: what
// follows them is literal again. Any other escape (\x41, \u00e9, \1, \012...) may continue over
// the letters and digits after it, which are then not taken.
bool IsShortEscape(char c) {
  return !IsAsciiAlnum(c) || c == 'b' || c == 'B' || c == 'd' || c == 'D' || c == 's' || c == 'S' ||
         c == 'w' || c == 'W' || c == 'A' || c == 'Z' || c == 'n' || c == 't' || c == 'r' ||
         c == 'f' || c == 'v' || c == 'a';
}

}  // namespace

std::string RequiredLiteral(std::string_view pattern) {
  std::string best;
  std::string run;  // letters and digits in a row at the top level, each required
  auto end_run = [&best, &run] {
    if (run.size() > best.size()) best = run;
    run.clear();
  };
  int depth = 0;         // groups open
  bool tainted = false;  // inside an escape whose length is not known: its letters are not taken
  for (size_t i = 0; i < pattern.size(); ++i) {
    const char c = pattern[i];
    if (tainted && IsAsciiAlnum(c)) continue;
    tainted = false;
    switch (c) {
      case '\\':
        end_run();
        if (++i < pattern.size() && !IsShortEscape(pattern[i])) tainted = true;
        continue;
      case '[': {
        end_run();
        // To the closing "]": a "]" first (after an optional "^") is a member.
        size_t j = i + 1;
        if (j < pattern.size() && pattern[j] == '^') ++j;
        if (j < pattern.size() && pattern[j] == ']') ++j;
        while (j < pattern.size() && pattern[j] != ']') j += pattern[j] == '\\' ? 2 : 1;
        if (j >= pattern.size()) return {};  // unterminated: an invalid pattern
        i = j;
        continue;
      }
      case '(':
        end_run();
        if (i + 2 < pattern.size() && pattern[i + 1] == '?' &&
            (IsFlagStart(pattern[i + 2]) || pattern[i + 2] == '#')) {
          return {};
        }
        ++depth;
        continue;
      case ')':
        end_run();
        --depth;
        continue;
      case '|':
        if (depth <= 0) return {};
        end_run();
        continue;
      case '?':
      case '*':
      case '+':
      case '{':
        // The quantifier applies to the character before it, which may then be absent.
        if (!run.empty()) run.pop_back();
        end_run();
        if (c == '{') {
          // Its bounds are digits, not literals; a "{" that is no quantifier is literal text,
          // which is merely not taken.
          const size_t close = pattern.find('}', i);
          if (close != std::string_view::npos) i = close;
        }
        continue;
      default:
        if (depth == 0 && IsAsciiAlnum(c)) {
          run += c;
        } else {
          end_run();
        }
    }
  }
  end_run();
  return best;
}

bool MayContain(std::string_view subject, std::string_view literal, bool caseless) {
  if (!caseless) return subject.find(literal) != std::string_view::npos;
  // Caselessly, Unicode folds "k" and "s" with non-ASCII letters (U+212A, U+017F): only an
  // ASCII subject is sure to hold the literal in ASCII.
  if (!IsAscii(subject)) return true;
  if (literal.empty()) return true;
  if (subject.size() < literal.size()) return false;
  const char first = literal[0];
  for (size_t at = 0; at + literal.size() <= subject.size(); ++at) {
    if (kLower[static_cast<unsigned char>(subject[at])] != first) continue;
    size_t k = 1;
    while (k < literal.size() &&
           kLower[static_cast<unsigned char>(subject[at + k])] == literal[k]) {
      ++k;
    }
    if (k == literal.size()) return true;
  }
  return false;
}

}  // namespace postdesk
