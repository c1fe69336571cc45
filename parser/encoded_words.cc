#include "parser/encoded_words.h"

#include "parser/charset.h"
#include "parser/email_address.h"
#include "parser/transfer_decoding.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

// RFC 2047 2: an encoded word is at most 75 characters, but long ones are common in the wild;
// this only stops a stray "=?" from scanning far ahead.
constexpr size_t kMaxEncodedWordLength = 1024;

struct EncodedWord {
  std::string_view charset;  // without an RFC 2231 language suffix
  char encoding = 0;         // 'B' or 'Q'
  std::string_view text;
  size_t length = 0;  // bytes consumed from the "=?" on
};

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

constexpr size_t kMaxCharsetLength = 64;

// Parses "=?charset?E?text?=" at raw[at]. `close` caches the position of the next "?=" at or
// after some earlier point, so that a header full of stray "=?" is still scanned in linear time.
bool ParseEncodedWord(std::string_view raw, size_t at, size_t* close, EncodedWord* word) {
  const std::string_view in = raw.substr(at);
  if (in.size() < 8 || in[0] != '=' || in[1] != '?') return false;
  size_t charset_end = 2;
  while (charset_end < in.size() && charset_end < 2 + kMaxCharsetLength && in[charset_end] != '?') {
    const char c = in[charset_end];
    if (IsBlank(c) || c == '=') return false;
    ++charset_end;
  }
  if (charset_end == 2 || charset_end + 3 > in.size() || in[charset_end] != '?' ||
      in[charset_end + 2] != '?') {
    return false;
  }
  std::string_view charset = in.substr(2, charset_end - 2);
  const char encoding = in[charset_end + 1];
  if (encoding != 'B' && encoding != 'b' && encoding != 'Q' && encoding != 'q') return false;
  const size_t text_start = at + charset_end + 3;
  if (*close == std::string_view::npos || *close < text_start) {
    *close = raw.find("?=", text_start);
  }
  if (*close == std::string_view::npos) return false;
  if (*close - text_start > kMaxEncodedWordLength) return false;
  if (const size_t star = charset.find('*'); star != std::string_view::npos) {
    charset = charset.substr(0, star);
  }
  word->charset = charset;
  word->encoding = (encoding == 'B' || encoding == 'b') ? 'B' : 'Q';
  word->text = raw.substr(text_start, *close - text_start);
  word->length = *close + 2 - at;
  return true;
}

// Collects the decoded bytes of a run of adjacent encoded words in one charset and converts them
// once, so a character split between two words comes out whole.
class PendingWords {
 public:
  explicit PendingWords(std::string* out) : out_(out) {}

  void Add(const EncodedWord& word) {
    if (!bytes_.empty() && !EqualsIgnoreCase(word.charset, charset_)) Flush();
    charset_ = word.charset;
    if (word.encoding == 'B') {
      DecodeBase64(word.text, &bytes_);
    } else {
      DecodeQEncoding(word.text, &bytes_);
    }
  }

  void Flush() {
    if (bytes_.empty()) return;
    ConvertToUtf8(bytes_, charset_, out_);
    bytes_.clear();
  }

 private:
  std::string* out_;
  std::string_view charset_;
  std::string bytes_;
};

// Appends raw (not encoded) header text without CR/LF: UTF-8 kept, otherwise windows-1252.
void AppendRawText(std::string_view text, const CharsetInfo& raw_charset, std::string* out) {
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == '\r' || text[i] == '\n') {
      if (i > start) ConvertToUtf8(text.substr(start, i - start), raw_charset, out);
      start = i + 1;
    }
  }
}

}  // namespace

void AppendDecodedHeaderText(std::string_view raw, std::string* out) {
  // RFC 6532: raw UTF-8 is legal in headers. Anything else 8-bit is legacy; windows-1252 is the
  // best guess (WHATWG's default for an unknown label).
  const CharsetInfo raw_charset = IsValidUtf8(raw)
                                      ? CharsetInfo{Charset::kUtf8, "utf-8", ""}
                                      : CharsetInfo{Charset::kWindows1252, "windows-1252", ""};
  PendingWords pending(out);
  size_t i = 0;
  size_t text_start = 0;
  bool after_word = false;  // the last thing emitted was an encoded word
  size_t close = std::string_view::npos;
  while (i < raw.size()) {
    const size_t next = raw.find("=?", i);
    if (next == std::string_view::npos) break;
    EncodedWord word;
    if (!ParseEncodedWord(raw, next, &close, &word)) {
      i = next + 1;
      continue;
    }
    const std::string_view between = raw.substr(text_start, next - text_start);
    bool only_blanks = true;
    for (char c : between) only_blanks = only_blanks && IsBlank(c);
    if (!(after_word && only_blanks)) {
      // RFC 2047 6.2: blanks between two encoded words are dropped; other text is kept.
      pending.Flush();
      AppendRawText(between, raw_charset, out);
    }
    pending.Add(word);
    after_word = true;
    i = text_start = next + word.length;
  }
  pending.Flush();
  AppendRawText(raw.substr(text_start), raw_charset, out);
}

std::string DecodeHeaderText(std::string_view raw) {
  std::string out;
  AssignDecodedHeaderText(raw, &out);
  return out;
}

void AssignDecodedHeaderText(std::string_view raw, std::string* out_text) {
  while (!raw.empty() && IsBlank(raw.front())) raw.remove_prefix(1);
  while (!raw.empty() && IsBlank(raw.back())) raw.remove_suffix(1);
  std::string& out = *out_text;
  out.clear();
  AppendDecodedHeaderText(raw, &out);
  // Decoded text may itself begin or end with blanks ("=?utf-8?q?_x_?=").
  size_t end = out.size();
  while (end > 0 && (out[end - 1] == ' ' || out[end - 1] == '\t')) --end;
  out.resize(end);
  size_t begin = 0;
  while (begin < out.size() && (out[begin] == ' ' || out[begin] == '\t')) ++begin;
  out.erase(0, begin);
}

}  // namespace postdesk
