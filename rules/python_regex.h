// PythonRegex: a trigger condition's regular expression, written in Python `re` syntax (as
// Zendesk's `regex` and `regex_case_sensitive` operators take it) and run by PCRE2 with its JIT.
//
// Matching is re.fullmatch: the whole subject must match, never a part of it. Patterns are
// Unicode, as Python str patterns are: \d, \w, \s, \b and caseless matching know non-ASCII text
// ("école" matches "ÉCOLE" caselessly), unless the pattern starts with (?a).
//
// Compile translates the Python-only syntax to PCRE2 in one linear pass: \Z, \uXXXX,
// \UXXXXXXXX, \v, {,n}, octal escapes, (?#...) comments, the flags (?aimsux). It refuses what
// Python would refuse (bad escapes such as \p or \K, (?<name>...), (?R), (*VERB), (?L), global
// flags after the start) and what PCRE2 cannot do as Python does (\N{NAME}, scoped (?a:...)).
// Known differences that remain: under (?a), caseless matching of non-ASCII letters still
// follows Unicode (Python's would not); \B matches an empty subject (Python 3.11's never
// does); PCRE2 accepts a few patterns Python rejects (forward back-references, look-behind
// alternatives of different lengths); quantifiers stop at 65535; and a repeated group over a
// subject of tens of thousands of characters can exhaust the 1 MiB JIT stack, which counts as
// no match.
//
// Ownership: a PythonRegex owns its compiled PCRE2 code and frees it in its destructor. It is
// move-only; a moved-from PythonRegex matches nothing.
//
// Thread safety: after Compile, FullMatch is const and safe to call from any number of threads
// on one shared PythonRegex. Each thread keeps its own PCRE2 match data, match limits and JIT
// stack, created on its first match and freed when it exits, so a JIT match allocates nothing.
//
// Failure: Compile returns a Status naming what is wrong and its byte offset in the Python
// pattern ("regex: missing closing parenthesis at offset 7"), and refuses a pattern over
// kMaxPatternBytes before reading it. FullMatch cannot fail: a subject that is not valid UTF-8
// never matches (Python never sees such text, and no Python pattern could match all of it),
// and a match that runs into the backtracking limits (catastrophic patterns such as (a+)+$)
// counts as no match, so one bad trigger costs milliseconds, not a worker thread.
#ifndef POSTDESK_RULES_PYTHON_REGEX_H_
#define POSTDESK_RULES_PYTHON_REGEX_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "parser/result.h"

// PCRE2's compiled-pattern type (pcre2_code with 8-bit code units), declared here so that
// including this header needs neither pcre2.h nor its PCRE2_CODE_UNIT_WIDTH macro.
struct pcre2_real_code_8;

namespace postdesk {

class PythonRegex {
 public:
  // Longer patterns are refused: trigger conditions are short, and the bound keeps compile
  // time and memory small whatever an API client sends.
  static constexpr size_t kMaxPatternBytes = 8192;

  // Translates Python syntax to PCRE2 and compiles with JIT. Fails with a Status whose message
  // names what is wrong and the offset, e.g. "regex: bad escape \p at offset 3". A pattern is
  // case-insensitive unless case_sensitive; (?i) and (?-i:...) inside it still apply.
  static Result<PythonRegex> Compile(std::string_view pattern, bool case_sensitive);

  // True if the whole subject matches (re.fullmatch). Thread-safe. A match that hits the
  // backtracking limit counts as no match.
  bool FullMatch(std::string_view subject) const;

  PythonRegex(PythonRegex&& other) noexcept;
  PythonRegex& operator=(PythonRegex&& other) noexcept;
  PythonRegex(const PythonRegex&) = delete;
  PythonRegex& operator=(const PythonRegex&) = delete;
  ~PythonRegex();

 private:
  PythonRegex(pcre2_real_code_8* code, bool fast_path) : code_(code), fast_path_(fast_path) {}

  pcre2_real_code_8* code_ = nullptr;  // owned; null once moved from
  // JIT-compiled with PCRE2_MATCH_INVALID_UTF: pcre2_jit_match may run it on any bytes.
  // Otherwise pcre2_match checks the subject is UTF-8 first.
  bool fast_path_ = false;
  // ASCII letters and digits that every match contains (lower case if caseless_), which
  // FullMatch looks for before it runs PCRE2 (regex_literal.h); empty if none.
  std::string required_;
  bool caseless_ = false;
};

}  // namespace postdesk

#endif  // POSTDESK_RULES_PYTHON_REGEX_H_
