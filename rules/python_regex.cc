#include "rules/python_regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "parser/email_address.h"  // LowerAscii
#include "rules/regex_literal.h"

namespace postdesk {
namespace {

// Backtracking budget for one match. A million steps is well under a millisecond of work for
// an ordinary trigger, yet stops an exponential pattern long before it starves a worker.
constexpr uint32_t kMatchLimit = 1'000'000;
// The interpreter (used only where JIT is unavailable) also bounds nesting depth and the
// heap its backtracking frames use (in KiB), so a long subject cannot take unbounded memory.
constexpr uint32_t kDepthLimit = 100'000;
constexpr uint32_t kHeapLimitKib = 20 * 1024;
// JIT stack per thread: starts small and grows on demand up to the maximum, beyond which the
// match fails (counts as no match) instead of overflowing.
constexpr size_t kJitStackStart = 32 * 1024;
constexpr size_t kJitStackMax = 1024 * 1024;

bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsOctal(char c) { return c >= '0' && c <= '7'; }
bool IsAsciiLetter(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsHex(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }
// Python's verbose-mode white space (sre_parse.WHITESPACE).
bool IsPythonSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
bool IsPythonFlag(char c) { return std::string_view("aiLmsux").find(c) != std::string_view::npos; }

std::string CodePointEscape(uint32_t value) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string digits;
  do {
    digits.insert(digits.begin(), kHex[value & 0xf]);
    value >>= 4;
  } while (value != 0);
  return "\\x{" + digits + "}";
}

// The PCRE2 text of a Python pattern. origin[i] is the offset in the Python pattern that
// pcre[i] came from, with one more entry for the end, so PCRE2's error offsets can be reported
// in the pattern the user wrote.
struct Translation {
  std::string pcre;
  std::vector<uint32_t> origin;
  bool ascii = false;  // (?a): \d \w \s \b are ASCII-only, so compile without PCRE2_UCP
};

// One left-to-right pass over a Python pattern. Every token is emitted in a form PCRE2 reads
// the way Python reads the original (a literal "{" becomes "\{", a back-reference "\1" becomes
// "\g{1}"), so tokens cannot merge with their neighbours into something else. Each step
// consumes at least one byte and looks ahead a bounded distance, except "{" quantifiers and
// names, whose lookahead runs over bytes the pass then consumes or that no other lookahead
// reads; the pass is linear.
class Translator {
 public:
  explicit Translator(std::string_view pattern) : in_(pattern) {}

  Status Run(Translation* out) {
    out_ = out;
    out_->pcre.reserve(in_.size() + in_.size() / 2 + 16);
    out_->origin.reserve(in_.size() + in_.size() / 2 + 16);
    while (pos_ < in_.size()) {
      Status status = Step();
      if (!status.ok()) return status;
    }
    out_->origin.push_back(static_cast<uint32_t>(in_.size()));
    return Status::Ok();
  }

 private:
  Status Step() {
    const char c = in_[pos_];
    if (verbose_ && IsPythonSpace(c)) return Copy(1);  // PCRE2's (?x) skips it as Python does
    if (verbose_ && c == '#') {  // a comment to the end of the line; PCRE2's (?x) skips it too
      size_t end = in_.find('\n', pos_);
      return Copy((end == std::string_view::npos ? in_.size() : end) - pos_);
    }
    switch (c) {
      case '\\':
        at_start_ = false;
        return Escape(/*in_class=*/false);
      case '[':
        at_start_ = false;
        return CharacterClass();
      case '(':
        return GroupOpen();
      case ')':
        if (!verbose_stack_.empty()) {
          verbose_ = verbose_stack_.back();
          verbose_stack_.pop_back();
        }
        at_start_ = false;
        return Copy(1);
      case '{':
        at_start_ = false;
        return Brace();
      default:
        at_start_ = false;
        if (verbose_) {
          // PCRE2's (?x) in UTF mode also skips U+0085, U+200E, U+200F, U+2028 and U+2029;
          // Python's verbose mode keeps them as literals.
          std::string_view rest = in_.substr(pos_);
          if (rest.starts_with("\xc2\x85")) return EmitAndSkip(CodePointEscape(0x85), 2);
          if (rest.size() >= 3 && rest[0] == '\xe2' && rest[1] == '\x80' &&
              (rest[2] == '\x8e' || rest[2] == '\x8f' || rest[2] == '\xa8' || rest[2] == '\xa9')) {
            uint32_t value = 0x2000 + (static_cast<unsigned char>(rest[2]) - 0x80);
            return EmitAndSkip(CodePointEscape(value), 3);
          }
        }
        return Copy(1);
    }
  }

  // "\" and what follows, outside or inside a character class (sre_parse._escape and
  // _class_escape).
  Status Escape(bool in_class) {
    const size_t start = pos_;
    if (pos_ + 1 >= in_.size()) return Fail("bad escape (end of pattern)", start);
    const char c = in_[pos_ + 1];
    pos_ += 2;
    switch (c) {
      case 'd':
      case 'D':
      case 's':
      case 'S':
      case 'w':
      case 'W':
        return Emit(std::string{'\\', c}, start);
      case 'A':
      case 'B':
        if (in_class) return BadEscape(c, start);
        return Emit(std::string{'\\', c}, start);
      case 'b':  // a word boundary outside a class, a backspace inside one
        return Emit(in_class ? CodePointEscape(0x08) : std::string("\\b"), start);
      case 'Z':  // Python's \Z is the very end of the subject: PCRE2's \z, not its \Z
        if (in_class) return BadEscape(c, start);
        return Emit("\\z", start);
      case 'a':
        return Emit(CodePointEscape(0x07), start);
      case 'f':
        return Emit(CodePointEscape(0x0c), start);
      case 'n':
        return Emit(CodePointEscape(0x0a), start);
      case 'r':
        return Emit(CodePointEscape(0x0d), start);
      case 't':
        return Emit(CodePointEscape(0x09), start);
      case 'v':
        return Emit(CodePointEscape(0x0b), start);  // PCRE2's \v is a class of spaces
      case 'x':
        return HexEscape(2, start);
      case 'u':
        return HexEscape(4, start);
      case 'U':
        return HexEscape(8, start);
      case 'N':
        return Fail("\\N{...} named characters are not supported", start);
      default:
        break;
    }
    if (IsDigit(c)) return DigitEscape(c, in_class, start);
    if (IsAsciiLetter(c)) return BadEscape(c, start);
    // Any other character stands for itself, in Python and in PCRE2 alike; copy a non-ASCII
    // one whole.
    size_t length = 1;
    const auto lead = static_cast<unsigned char>(c);
    if (lead >= 0xf0) {
      length = 4;
    } else if (lead >= 0xe0) {
      length = 3;
    } else if (lead >= 0xc0) {
      length = 2;
    }
    length = std::min(length, in_.size() - (pos_ - 1));
    std::string text = "\\";
    text.append(in_.substr(pos_ - 1, length));
    pos_ += length - 1;
    return Emit(text, start);
  }

  // \xhh, \uhhhh, \Uhhhhhhhh: exactly `digits` hex digits, as Python requires.
  Status HexEscape(size_t digits, size_t start) {
    uint32_t value = 0;
    size_t taken = 0;
    while (taken < digits && pos_ < in_.size() && IsHex(in_[pos_])) {
      const char h = in_[pos_++];
      value = value * 16 + static_cast<uint32_t>(IsDigit(h) ? h - '0' : (h | 0x20) - 'a' + 10);
      ++taken;
    }
    const std::string text(in_.substr(start, pos_ - start));
    if (taken < digits) return Fail("incomplete escape " + text, start);
    if (value > 0x10ffff) return Fail("bad escape " + text, start);
    return Emit(CodePointEscape(value), start);
  }

  // \0, \12, \123: Python's octal escapes and group references, told apart as sre_parse does.
  Status DigitEscape(char first, bool in_class, size_t start) {
    size_t max_digits = 0;  // further octal digits an octal escape may take
    if (first == '0' || (in_class && IsOctal(first))) {
      max_digits = 2;
    } else if (in_class) {
      return BadEscape(first, start);
    } else if (pos_ + 1 < in_.size() && IsOctal(first) && IsOctal(in_[pos_]) &&
               IsOctal(in_[pos_ + 1])) {
      max_digits = 2;  // three octal digits: an octal escape, not a reference
    } else {
      int group = first - '0';
      if (pos_ < in_.size() && IsDigit(in_[pos_])) group = group * 10 + (in_[pos_++] - '0');
      // \g{n} cannot be misread as octal, and the braces end it before any following digit.
      return Emit("\\g{" + std::to_string(group) + "}", start);
    }
    uint32_t value = static_cast<uint32_t>(first - '0');
    for (size_t i = 0; i < max_digits && pos_ < in_.size() && IsOctal(in_[pos_]); ++i) {
      value = value * 8 + static_cast<uint32_t>(in_[pos_++] - '0');
    }
    if (value > 0377) {
      return Fail("octal escape value " + std::string(in_.substr(start, pos_ - start)) +
                      " outside of range 0-0o377",
                  start);
    }
    return Emit(CodePointEscape(value), start);
  }

  // [...]. Python has no POSIX classes: a "[" inside stays a literal rather than opening a
  // PCRE2 [:alpha:], and a ":", "." or "=" first is escaped, or PCRE2 would read the whole
  // set [:alpha:] as a misplaced POSIX class. A "]" first in the set is a literal in both.
  Status CharacterClass() {
    const size_t start = pos_;
    Status status = Copy(1);
    if (pos_ < in_.size() && in_[pos_] == '^') status = Copy(1);
    if (pos_ < in_.size() &&
        (in_[pos_] == ']' || in_[pos_] == ':' || in_[pos_] == '.' || in_[pos_] == '=')) {
      status = EmitAndSkip("\\" + std::string(1, in_[pos_]), 1);
    }
    while (status.ok() && pos_ < in_.size()) {
      const char c = in_[pos_];
      if (c == ']') return Copy(1);
      if (c == '\\') {
        status = Escape(/*in_class=*/true);
      } else if (c == '[') {
        status = EmitAndSkip("\\[", 1);
      } else {
        status = Copy(1);
      }
    }
    if (!status.ok()) return status;
    return Fail("unterminated character set", start);
  }

  // "{": a quantifier if Python reads one here ({n}, {n,}, {,n}, {n,m}, {,}), else a literal.
  Status Brace() {
    size_t p = pos_ + 1;
    const size_t low_begin = p;
    while (p < in_.size() && IsDigit(in_[p])) ++p;
    std::string_view low = in_.substr(low_begin, p - low_begin);
    std::string quantifier = "{" + std::string(low.empty() ? "0" : low);
    if (p < in_.size() && in_[p] == ',') {
      const size_t high_begin = ++p;
      while (p < in_.size() && IsDigit(in_[p])) ++p;
      quantifier += "," + std::string(in_.substr(high_begin, p - high_begin));
    } else if (low.empty()) {
      return EmitAndSkip("\\{", 1);  // "{}" or "{x": Python reads a literal "{"
    }
    if (p >= in_.size() || in_[p] != '}') return EmitAndSkip("\\{", 1);
    return EmitAndSkip(quantifier + "}", p + 1 - pos_);
  }

  // "(" and, after "(?", the extensions Python knows. Anything else is refused, as Python
  // refuses it, rather than handed to PCRE2 to mean something Python never meant.
  Status GroupOpen() {
    const size_t start = pos_;
    std::string_view rest = in_.substr(pos_);
    if (rest.size() < 2 || rest[1] != '?') {
      if (rest.size() >= 2 && rest[1] == '*') return Fail("nothing to repeat", start + 1);
      return OpenGroup("(", 1);
    }
    if (rest.size() < 3) return Fail("unexpected end of pattern", start + 2);
    const char kind = rest[2];
    switch (kind) {
      case ':':
      case '=':
      case '!':
      case '>':
        return OpenGroup(rest.substr(0, 3), 3);
      case '<':
        if (rest.size() >= 4 && (rest[3] == '=' || rest[3] == '!')) {
          return OpenGroup(rest.substr(0, 4), 4);
        }
        return Fail("unknown extension ?<" + std::string(rest.substr(3, 1)), start + 1);
      case 'P':
        if (rest.size() >= 4 && rest[3] == '<') {  // (?P<name>...): PCRE2 checks the name
          size_t end = 0;
          Status status = FindName(4, '>', &end);
          if (!status.ok()) return status;
          return OpenGroup(rest.substr(0, end + 1), end + 1);
        }
        if (rest.size() >= 4 && rest[3] == '=') {  // (?P=name): a named back-reference
          size_t end = 0;
          Status status = FindName(4, ')', &end);
          if (!status.ok()) return status;
          at_start_ = false;
          return EmitAndSkip(rest.substr(0, end + 1), end + 1);
        }
        return Fail("unknown extension ?P" + std::string(rest.substr(3, 1)), start + 1);
      case '#':
        return Comment();
      case '(': {  // (?(1)yes|no), (?(name)yes|no)
        size_t end = 0;
        Status status = FindName(3, ')', &end);
        if (!status.ok()) return status;
        std::string_view condition = rest.substr(3, end - 3);
        bool number = condition.find_first_not_of("0123456789") == std::string_view::npos;
        if (number && condition.find_first_not_of('0') == std::string_view::npos) {
          return Fail("bad group number", start + 3);
        }
        // (?(<name>)...) so that a group named R or DEFINE is not read as PCRE2's tests.
        std::string open =
            number ? "(?(" + std::string(condition) + ")" : "(?(<" + std::string(condition) + ">)";
        return OpenGroup(open, end + 1);
      }
      default:
        if (IsPythonFlag(kind) || kind == '-') return Flags();
        return Fail("unknown extension ?" + std::string(1, kind), start + 1);
    }
  }

  // Finds `terminator` after a non-empty name starting `from` bytes after pos_; sets *end to
  // its distance from pos_.
  Status FindName(size_t from, char terminator, size_t* end) {
    size_t found = in_.find(terminator, pos_ + from);
    if (found == std::string_view::npos) {
      return Fail(std::string("missing ") + terminator + ", unterminated name", pos_ + from);
    }
    if (found == pos_ + from) return Fail("missing group name", pos_ + from);
    *end = found - pos_;
    return Status::Ok();
  }

  // (?#...): Python ends it at the first ")" not escaped by "\"; PCRE2 would end it at the
  // first ")" of all, so the comment is replaced by an empty one, which still separates the
  // tokens on either side as Python's did.
  Status Comment() {
    size_t p = pos_ + 3;
    while (p < in_.size() && in_[p] != ')') p += in_[p] == '\\' ? 2 : 1;
    if (p >= in_.size()) return Fail("missing ), unterminated comment", pos_);
    return EmitAndSkip("(?#)", p + 1 - pos_);
  }

  // (?aiLmsux) at the start of the pattern, or (?aimsux-imsx:...) anywhere
  // (sre_parse._parse_flags).
  Status Flags() {
    const size_t start = pos_;
    size_t p = pos_ + 2;
    std::string on;
    std::string off;
    bool ascii = false;
    bool unicode = false;
    auto at = [&](size_t i) { return i < in_.size() ? in_[i] : '\0'; };
    if (at(p) != '-') {
      while (true) {
        const char flag = at(p);
        if (flag == 'L') return Fail("bad inline flags: cannot use 'L' flag with a str pattern", p);
        if (flag == 'a') ascii = true;
        if (flag == 'u') unicode = true;
        if (ascii && unicode) {
          return Fail("bad inline flags: flags 'a', 'u' and 'L' are incompatible", p);
        }
        if (flag != 'a' && flag != 'u' && on.find(flag) == std::string::npos) on += flag;
        const char next = at(++p);
        if (next == ')' || next == '-' || next == ':') break;
        if (!IsPythonFlag(next)) {
          return Fail(IsAsciiLetter(next) ? "unknown flag" : "missing -, : or )", p);
        }
      }
    }
    if (at(p) == ')') {
      if (!at_start_) return Fail("global flags not at the start of the expression", start);
      global_unicode_ = global_unicode_ || unicode;
      out_->ascii = out_->ascii || ascii;
      if (out_->ascii && global_unicode_) {
        return Fail("ASCII and UNICODE flags are incompatible", start);
      }
      if (on.find('x') != std::string::npos) verbose_ = true;
      // (?u) is Python's default and (?a) a compile option, so neither is left in the text.
      return EmitAndSkip(on.empty() ? std::string() : "(?" + on + ")", p + 1 - pos_);
    }
    if (at(p) == '-') {
      char flag = at(++p);
      if (!IsPythonFlag(flag)) {
        return Fail(IsAsciiLetter(flag) ? "unknown flag" : "missing flag", p);
      }
      while (true) {
        if (flag == 'a' || flag == 'u' || flag == 'L') {
          return Fail("bad inline flags: cannot turn off flags 'a', 'u' and 'L'", p);
        }
        if (on.find(flag) != std::string::npos) {
          return Fail("bad inline flags: flag turned on and off", p);
        }
        if (off.find(flag) == std::string::npos) off += flag;
        flag = at(++p);
        if (flag == ':') break;
        if (!IsPythonFlag(flag)) return Fail(IsAsciiLetter(flag) ? "unknown flag" : "missing :", p);
      }
    }
    // PCRE2 10.42 has no scoped ASCII mode; refusing beats matching differently.
    if (ascii) {
      return Fail("(?a:...) is not supported; put (?a) at the start of the pattern", start);
    }
    if (unicode && out_->ascii) return Fail("(?u:...) is not supported after (?a)", start);
    const bool verbose =
        (verbose_ || on.find('x') != std::string::npos) && off.find('x') == std::string::npos;
    std::string open = "(?" + on + (off.empty() ? "" : "-" + off) + ":";
    Status status = OpenGroup(open, p + 1 - pos_);
    verbose_ = verbose;
    return status;
  }

  Status OpenGroup(std::string_view text, size_t consumed) {
    verbose_stack_.push_back(verbose_);
    at_start_ = false;
    return EmitAndSkip(text, consumed);
  }

  Status BadEscape(char c, size_t offset) { return Fail(std::string("bad escape \\") + c, offset); }

  Status Fail(const std::string& what, size_t offset) {
    return Status::Error("regex: " + what + " at offset " + std::to_string(offset));
  }

  // Emits text standing for the pattern bytes from `from` up to pos_ (already advanced).
  Status Emit(std::string_view text, size_t from) {
    out_->pcre.append(text);
    out_->origin.insert(out_->origin.end(), text.size(), static_cast<uint32_t>(from));
    return Status::Ok();
  }
  Status EmitAndSkip(std::string_view text, size_t consumed) {
    const size_t from = pos_;
    pos_ += consumed;
    return Emit(text, from);
  }
  Status Copy(size_t length) { return EmitAndSkip(in_.substr(pos_, length), length); }

  std::string_view in_;
  size_t pos_ = 0;
  Translation* out_ = nullptr;
  bool verbose_ = false;             // inside (?x) or (?x:...): white space and # comments
  std::vector<bool> verbose_stack_;  // verbose_ to restore at each open group's ")"
  bool at_start_ = true;             // nothing but flags and comments so far (Python 3.11)
  bool global_unicode_ = false;      // a global (?u) seen, which (?a) contradicts
};

// What one thread needs to run matches: created on the thread's first match, freed at its exit.
// The match context carries the limits and points at the thread's JIT stack; the match data
// has a single ovector pair because FullMatch never reads captures (back-references work
// whatever its size).
class MatchState {
 public:
  MatchState()
      : context_(pcre2_match_context_create(nullptr)),
        stack_(pcre2_jit_stack_create(kJitStackStart, kJitStackMax, nullptr)),
        data_(pcre2_match_data_create(1, nullptr)) {
    if (context_ == nullptr) return;
    pcre2_set_match_limit(context_, kMatchLimit);
    pcre2_set_depth_limit(context_, kDepthLimit);
    pcre2_set_heap_limit(context_, kHeapLimitKib);
    if (stack_ != nullptr) pcre2_jit_stack_assign(context_, nullptr, stack_);
  }
  ~MatchState() {
    pcre2_match_data_free(data_);
    pcre2_jit_stack_free(stack_);
    pcre2_match_context_free(context_);
  }
  MatchState(const MatchState&) = delete;
  MatchState& operator=(const MatchState&) = delete;

  // False if an allocation failed; the thread then matches nothing rather than run unlimited.
  bool ready() const { return context_ != nullptr && data_ != nullptr; }
  pcre2_match_context* context() const { return context_; }
  pcre2_match_data* data() const { return data_; }

 private:
  pcre2_match_context* context_;
  pcre2_jit_stack* stack_;
  pcre2_match_data* data_;
};

MatchState& ThreadMatchState() {
  thread_local MatchState state;
  return state;
}

struct CompileContextFree {
  void operator()(pcre2_compile_context* context) const { pcre2_compile_context_free(context); }
};

// Compiles the translated text; on failure sets *status, with the offset in the Python pattern.
pcre2_code* CompileTranslation(const Translation& translation, uint32_t options,
                               pcre2_compile_context* context, Status* status) {
  int error = 0;
  PCRE2_SIZE error_offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(translation.pcre.data()), translation.pcre.size(),
                    options, &error, &error_offset, context);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    if (pcre2_get_error_message(error, message, sizeof(message)) < 0) message[0] = '\0';
    const size_t offset =
        translation.origin[std::min<size_t>(error_offset, translation.origin.size() - 1)];
    *status = Status::Error("regex: " + std::string(reinterpret_cast<const char*>(message)) +
                            " at offset " + std::to_string(offset));
  }
  return code;
}

}  // namespace

Result<PythonRegex> PythonRegex::Compile(std::string_view pattern, bool case_sensitive) {
  if (pattern.size() > kMaxPatternBytes) {
    return Status::Error("regex: pattern is " + std::to_string(pattern.size()) +
                         " bytes, over the limit of " + std::to_string(kMaxPatternBytes));
  }
  Translation translation;
  Status status = Translator(pattern).Run(&translation);
  if (!status.ok()) return status;

  std::unique_ptr<pcre2_compile_context, CompileContextFree> context(
      pcre2_compile_context_create(nullptr));
  if (context == nullptr) return Status::Error("regex: out of memory");
  // Python's "." stops at "\n" only, and "$" matches before a final "\n" only.
  pcre2_set_newline(context.get(), PCRE2_NEWLINE_LF);

  // ANCHORED | ENDANCHORED: re.fullmatch. ALT_CIRCUMFLEX: (?m)^ also matches after a final
  // newline, as in Python. NEVER_BACKSLASH_C: no \C, which could split a UTF-8 sequence.
  uint32_t options = PCRE2_ANCHORED | PCRE2_ENDANCHORED | PCRE2_UTF | PCRE2_ALT_CIRCUMFLEX |
                     PCRE2_NEVER_BACKSLASH_C;
  if (!translation.ascii) options |= PCRE2_UCP;
  if (!case_sensitive) options |= PCRE2_CASELESS;

  // MATCH_INVALID_UTF lets the JIT fast path take any bytes without a UTF-8 check per call.
  // PCRE2 10.42 gets it wrong elsewhere, so it is used only with JIT and UCP: without UCP its
  // JIT \D and \W miss non-ASCII characters (PCRE2 issue 224), and its interpreter takes the
  // end of a valid stretch for the end of the subject ("A" would fullmatch "A\x80B"). Other
  // patterns go through pcre2_match, which checks the subject is UTF-8 and still uses JIT.
  const bool try_fast_path = !translation.ascii;
  pcre2_code* code = CompileTranslation(
      translation, options | (try_fast_path ? PCRE2_MATCH_INVALID_UTF : 0), context.get(), &status);
  if (code == nullptr) return status;
  // Without JIT (an unsupported CPU, or a system that forbids executable memory) the
  // interpreter gives the same answers more slowly, under the same limits.
  bool jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  if (try_fast_path && !jit) {
    pcre2_code_free(code);
    code = CompileTranslation(translation, options, context.get(), &status);
    if (code == nullptr) return status;
    jit = pcre2_jit_compile(code, PCRE2_JIT_COMPLETE) == 0;
  }
  PythonRegex regex(code, try_fast_path && jit);
  // A literal of one or two characters turns too few subjects down to pay for the search.
  if (std::string literal = RequiredLiteral(pattern); literal.size() >= 3) {
    regex.caseless_ = !case_sensitive;
    regex.required_ = regex.caseless_ ? LowerAscii(literal) : std::move(literal);
  }
  return regex;
}

bool PythonRegex::FullMatch(std::string_view subject) const {
  if (code_ == nullptr) return false;
  if (!required_.empty() && !MayContain(subject, required_, caseless_)) return false;
  MatchState& state = ThreadMatchState();
  if (!state.ready()) return false;
  // PCRE2 10.42 refuses a null subject even when it is empty.
  const char* data = subject.data() != nullptr ? subject.data() : "";
  const auto* text = reinterpret_cast<PCRE2_SPTR>(data);
  // Any negative result counts as no match: PCRE2_ERROR_NOMATCH, a UTF-8 error in the subject,
  // or a limit (match, depth, heap, JIT stack) reached. 0 would mean a match whose captures did
  // not fit: still a match.
  const int rc =
      fast_path_ ? pcre2_jit_match(code_, text, subject.size(), 0, 0, state.data(), state.context())
                 : pcre2_match(code_, text, subject.size(), 0, 0, state.data(), state.context());
  return rc >= 0;
}

PythonRegex::PythonRegex(PythonRegex&& other) noexcept
    : code_(std::exchange(other.code_, nullptr)),
      fast_path_(std::exchange(other.fast_path_, false)),
      required_(std::move(other.required_)),
      caseless_(other.caseless_) {}

PythonRegex& PythonRegex::operator=(PythonRegex&& other) noexcept {
  if (this != &other) {
    pcre2_code_free(code_);
    code_ = std::exchange(other.code_, nullptr);
    fast_path_ = std::exchange(other.fast_path_, false);
    required_ = std::move(other.required_);
    caseless_ = other.caseless_;
  }
  return *this;
}

PythonRegex::~PythonRegex() { pcre2_code_free(code_); }

}  // namespace postdesk
