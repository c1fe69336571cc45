// BuildNotificationMessage and its header encoders.
//
// Header values are built token by token through a HeaderFolder, which decides where lines
// break: folding only ever turns a blank that separates two tokens into CRLF + blank, so
// unfolding (RFC 5322 2.2.3) gives back exactly the text written, and a token (a word, an
// encoded word, "<address>", "<msg-id>") is never cut. What may be a token is bounded so that a
// line never passes 998 octets, whatever the input.
#include "parser/notification_message.h"

#include <algorithm>
#include <chrono>
#include <cstdio>

#include "parser/utf8.h"

namespace postdesk {
namespace {

constexpr size_t kFoldColumn = 78;            // RFC 5322 2.1.1: lines SHOULD be at most 78
constexpr size_t kEncodedWordColumn = 76;     // RFC 2047 2: lines holding encoded words
constexpr size_t kMaxEncodedWordLength = 75;  // RFC 2047 2
constexpr size_t kQpLineLength = 76;          // RFC 2045 6.7 rule 5
constexpr std::string_view kCrlf = "\r\n";
constexpr std::string_view kEncodedWordSuffix = "?=";
constexpr size_t kEncodedWordOverhead = 10 + 2;  // "=?utf-8?q?" and "?="
// The longest encoding of one code point: four bytes as "=XX" in Q.
constexpr size_t kMaxCodePointCost = 12;
constexpr char kHex[] = "0123456789ABCDEF";
constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

bool IsBlank(char c) { return c == ' ' || c == '\t'; }
// RFC 5322 VCHAR.
bool IsVisibleAscii(char c) { return c >= 0x21 && c <= 0x7E; }

// Valid UTF-8 with every control character (C0 and DEL) a space, CRLF one space, and no blanks
// at either end: what a header field may show of untrusted text.
std::string CleanHeaderText(std::string_view text) {
  std::string repaired;
  AppendRepairedUtf8(text, &repaired);
  std::string out;
  out.reserve(repaired.size());
  for (size_t i = 0; i < repaired.size(); ++i) {
    const auto c = static_cast<unsigned char>(repaired[i]);
    if (c == '\r' && i + 1 < repaired.size() && repaired[i + 1] == '\n') continue;
    out.push_back(c < 0x20 || c == 0x7F ? ' ' : static_cast<char>(c));
  }
  const size_t begin = out.find_first_not_of(' ');
  if (begin == std::string::npos) return "";
  return out.substr(begin, out.find_last_not_of(' ') + 1 - begin);
}

// Cuts valid UTF-8 to at most `max_bytes` without splitting a character.
void CutToBytes(std::string* text, size_t max_bytes) {
  if (text->size() <= max_bytes) return;
  size_t end = max_bytes;
  while (end > 0 && (static_cast<unsigned char>((*text)[end]) & 0xC0) == 0x80) --end;
  text->resize(end);
}

// An address as one token: valid UTF-8, no controls, no blanks outside a quoted local part, no
// angle brackets (RFC 5322 3.4.1 addr-spec; the caller validates the rest).
std::string CleanAddress(std::string_view address) {
  std::string repaired;
  AppendRepairedUtf8(address, &repaired);
  std::string out;
  bool quoted = false;
  for (size_t i = 0; i < repaired.size(); ++i) {
    const auto c = static_cast<unsigned char>(repaired[i]);
    if (c < 0x20 || c == 0x7F || c == '<' || c == '>') continue;
    if (c == ' ' && !quoted) continue;
    if (c == '"') quoted = !quoted;
    if (c == '\\' && quoted && i + 1 < repaired.size()) {
      const auto next = static_cast<unsigned char>(repaired[i + 1]);
      if (next >= 0x20 && next != 0x7F) {
        out.push_back('\\');
        out.push_back(static_cast<char>(next));
      }
      ++i;
      continue;
    }
    out.push_back(static_cast<char>(c));
  }
  if (quoted) out.push_back('"');  // a quote left open would swallow the '>' after it
  CutToBytes(&out, kMaxHeaderTokenLength);
  return out;
}

// A msg-id's content (RFC 5322 3.6.4) from "<id>" or "id": no blanks, controls or angle
// brackets; "" when nothing is left.
std::string CleanMessageId(std::string_view id) {
  while (!id.empty() && IsBlank(id.front())) id.remove_prefix(1);
  if (!id.empty() && id.front() == '<') {
    id.remove_prefix(1);
    id = id.substr(0, id.find('>'));
  }
  std::string repaired;
  AppendRepairedUtf8(id, &repaired);
  std::string out;
  for (const char ch : repaired) {
    const auto c = static_cast<unsigned char>(ch);
    if (c <= 0x20 || c == 0x7F || c == '<' || c == '>') continue;
    out.push_back(ch);
  }
  return out;
}

// Places the tokens of one header field body on lines. The caller writes "Name: " and then the
// folded text; `column` is where the text starts.
class HeaderFolder {
 public:
  explicit HeaderFolder(size_t column) : column_(column) {}

  // Room for a token of the given kind on the current line, after a blank when `separate`.
  size_t Room(bool encoded, bool separate) const {
    const size_t limit = (encoded || line_has_encoded_word_) ? kEncodedWordColumn : kFoldColumn;
    const size_t used = column_ + (separate ? 1 : 0);
    return used < limit ? limit - used : 0;
  }

  // Appends `token`, after a blank when `separate`: on this line if it fits, else on a new one.
  void Add(std::string_view token, bool separate, bool encoded) {
    if (separate) {
      if (token.size() > Room(encoded, true) && column_ > 1) {
        out_.append(kCrlf);
        column_ = 0;
        line_has_encoded_word_ = false;
      }
      out_.push_back(' ');
      ++column_;
    }
    out_.append(token);
    column_ += token.size();
    line_has_encoded_word_ = line_has_encoded_word_ || encoded;
  }

  std::string Take() { return std::move(out_); }

 private:
  std::string out_;
  size_t column_;
  bool line_has_encoded_word_ = false;
};

// RFC 2047 5(3): the characters a 'Q' encoded word may show as themselves in a phrase, a subset
// of what 5(1) allows in unstructured text; one set serves both.
bool IsQLiteral(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '!' ||
         c == '*' || c == '+' || c == '-' || c == '/';
}

size_t QCost(unsigned char c) { return (IsQLiteral(c) || c == ' ') ? 1 : 3; }

size_t Base64Length(size_t bytes) { return (bytes + 2) / 3 * 4; }

void AppendQ(std::string_view bytes, std::string* out) {
  for (const char ch : bytes) {
    const auto c = static_cast<unsigned char>(ch);
    if (IsQLiteral(c)) {
      out->push_back(ch);
    } else if (c == ' ') {
      out->push_back('_');  // RFC 2047 4.2 (2)
    } else {
      out->push_back('=');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    }
  }
}

void AppendBase64(std::string_view bytes, std::string* out) {
  size_t i = 0;
  for (; i + 3 <= bytes.size(); i += 3) {
    const uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16 |
                       static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8 |
                       static_cast<unsigned char>(bytes[i + 2]);
    out->push_back(kBase64[v >> 18]);
    out->push_back(kBase64[(v >> 12) & 63]);
    out->push_back(kBase64[(v >> 6) & 63]);
    out->push_back(kBase64[v & 63]);
  }
  const size_t rest = bytes.size() - i;
  if (rest == 0) return;
  uint32_t v = static_cast<uint32_t>(static_cast<unsigned char>(bytes[i])) << 16;
  if (rest == 2) v |= static_cast<uint32_t>(static_cast<unsigned char>(bytes[i + 1])) << 8;
  out->push_back(kBase64[v >> 18]);
  out->push_back(kBase64[(v >> 12) & 63]);
  out->push_back(rest == 2 ? kBase64[(v >> 6) & 63] : '=');
  out->push_back('=');
}

// Writes valid UTF-8 `text` as encoded words, each filling what is left of its line. Blanks
// between adjacent encoded words are dropped by decoders (RFC 2047 6.2), so the blanks of
// `text` travel inside the words and the ones the folder puts between them vanish again.
void AddEncodedWords(std::string_view text, bool separate, HeaderFolder* folder) {
  size_t q_length = 0;
  for (const char c : text) q_length += QCost(static_cast<unsigned char>(c));
  const bool base64 = Base64Length(text.size()) < q_length;
  size_t i = 0;
  while (i < text.size()) {
    size_t room = folder->Room(true, separate);
    if (room < kEncodedWordOverhead + kMaxCodePointCost) room = kEncodedWordColumn - 1;
    const size_t budget = std::min(room, kMaxEncodedWordLength) - kEncodedWordOverhead;
    // Whole code points only (RFC 2047 5: "each 'encoded-word' MUST represent an integral number
    // of characters"), at least one per word.
    size_t end = i;
    size_t cost = 0;
    while (end < text.size()) {
      size_t length = ValidSequenceLength(text.substr(end));
      if (length == 0) length = 1;  // not reached: `text` is valid UTF-8
      size_t next_cost = cost;
      if (base64) {
        next_cost = Base64Length(end + length - i);
      } else {
        for (size_t k = end; k < end + length; ++k) {
          next_cost += QCost(static_cast<unsigned char>(text[k]));
        }
      }
      if (next_cost > budget && end > i) break;
      cost = next_cost;
      end += length;
    }
    // Where the text goes on, end the word after a blank of its second half if there is one.
    // Decoders that wrongly keep a blank between encoded words in a phrase (Python's email
    // package does) then only double a blank instead of splitting a word.
    if (end < text.size()) {
      const size_t blank = text.substr(i, end - i).rfind(' ');
      if (blank != std::string_view::npos && 2 * (blank + 1) >= end - i) end = i + blank + 1;
    }
    std::string word = base64 ? "=?utf-8?b?" : "=?utf-8?q?";
    if (base64) {
      AppendBase64(text.substr(i, end - i), &word);
    } else {
      AppendQ(text.substr(i, end - i), &word);
    }
    word.append(kEncodedWordSuffix);
    folder->Add(word, separate, true);
    separate = true;
    i = end;
  }
}

// The tokens of trimmed text, which one blank separates: each is a word with the blanks beyond
// that one in front of it ("a   b" is "a" and "  b"). Folding happens only at the separating
// blank, so a continuation line never holds blanks alone (RFC 5322 3.2.2 forbids it) and the
// blanks of a run stay together.
std::vector<std::string_view> SplitTokens(std::string_view text) {
  std::vector<std::string_view> tokens;
  size_t i = 0;
  while (i < text.size()) {
    const size_t begin = i;
    while (i < text.size() && text[i] == ' ') ++i;
    while (i < text.size() && text[i] != ' ') ++i;
    tokens.push_back(text.substr(begin, i - begin));
    ++i;  // the separating blank
  }
  return tokens;
}

// Whether every token fits on a line of its own, the first one after "Name: ".
bool FitsOnLines(const std::vector<std::string_view>& tokens, size_t start) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    if ((i == 0 ? start : 1) + tokens[i].size() > kFoldColumn) return false;
  }
  return true;
}

void AddTokens(const std::vector<std::string_view>& tokens, HeaderFolder* folder) {
  for (size_t i = 0; i < tokens.size(); ++i) folder->Add(tokens[i], i > 0, false);
}

// A word that may be written as it is in unstructured text: printable ASCII that no decoder
// would take for (the start of) an encoded word.
bool IsPlainWord(std::string_view word) {
  for (const char c : word) {
    if (!IsVisibleAscii(c)) return false;
  }
  return word.find("=?") == std::string_view::npos;
}

// RFC 5322 3.2.3 atext.
bool IsAtext(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-/=?^_`{|}~").find(c) != std::string_view::npos;
}

std::string QuotedString(std::string_view text) {
  std::string out = "\"";
  for (const char c : text) {
    if (c == '"' || c == '\\') out.push_back('\\');  // RFC 5322 3.2.4 quoted-pair
    out.push_back(c);
  }
  out.push_back('"');
  return out;
}

// RFC 5322 3.3: "Thu, 01 Jan 2026 12:00:00 +0000".
std::string FormatDate(int64_t unix_seconds) {
  using std::chrono::days;
  using std::chrono::seconds;
  using std::chrono::sys_days;
  using std::chrono::sys_seconds;
  constexpr int64_t kLatest = 253402300799;  // 9999-12-31 23:59:59: date-time has 4-digit years
  const sys_seconds time{seconds{std::clamp<int64_t>(unix_seconds, 0, kLatest)}};
  const sys_days day = std::chrono::floor<days>(time);
  const std::chrono::year_month_day date{day};
  const std::chrono::weekday weekday{day};
  const std::chrono::hh_mm_ss clock{time - day};
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  char buffer[40];
  const int n = std::snprintf(
      buffer, sizeof(buffer), "%s, %02u %s %04d %02d:%02d:%02d +0000", kDays[weekday.c_encoding()],
      static_cast<unsigned>(date.day()), kMonths[static_cast<unsigned>(date.month()) - 1],
      static_cast<int>(date.year()), static_cast<int>(clock.hours().count()),
      static_cast<int>(clock.minutes().count()), static_cast<int>(clock.seconds().count()));
  return std::string(buffer, static_cast<size_t>(n));
}

void AppendField(std::string_view name, std::string_view value, std::string* out) {
  out->append(name);
  out->push_back(':');
  if (!value.empty()) {
    out->push_back(' ');
    out->append(value);
  }
  out->append(kCrlf);
}

// A list of "<msg-id>" tokens, folded between them.
std::string MessageIdList(const std::vector<std::string>& ids, std::string_view field_name) {
  HeaderFolder folder(field_name.size() + 2);
  bool first = true;
  for (const std::string& id : ids) {
    folder.Add("<" + id + ">", !first, false);
    first = false;
  }
  return folder.Take();
}

// References (RFC 5322 3.6.4): the parent's References, then the parent itself. Trimmed like
// RFC 5537 3.4.4 does it: the first id (the thread's root) and the latest ones.
std::vector<std::string> ReferenceIds(const NotificationEmail& email,
                                      const std::string& in_reply_to) {
  std::vector<std::string> ids;
  for (const std::string& raw : email.references) {
    std::string id = CleanMessageId(raw);
    if (!id.empty() && id.size() <= kMaxHeaderTokenLength) ids.push_back(std::move(id));
  }
  if (!in_reply_to.empty() && std::find(ids.begin(), ids.end(), in_reply_to) == ids.end()) {
    ids.push_back(in_reply_to);
  }
  if (ids.size() > kMaxReferences) {
    ids.erase(ids.begin() + 1, ids.end() - static_cast<std::ptrdiff_t>(kMaxReferences - 1));
  }
  return ids;
}

// X-Loop is compared as written (classifier.h), never decoded: printable ASCII only, folded at
// its blanks.
std::string LoopMarker(std::string_view marker) {
  std::string text = CleanHeaderText(marker);
  for (char& c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) c = '?';
  }
  CutToBytes(&text, kMaxHeaderTokenLength);
  HeaderFolder folder(sizeof("X-Loop: ") - 1);
  AddTokens(SplitTokens(text), &folder);
  return folder.Take();
}

// Lines of `text` split at CRLF, CR or LF; a final line break ends the last line rather than
// starting an empty one.
std::vector<std::string_view> SplitLines(std::string_view text) {
  std::vector<std::string_view> lines;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r' && text[i] != '\n') continue;
    lines.push_back(text.substr(start, i - start));
    if (text[i] == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
    start = i + 1;
  }
  if (start < text.size()) lines.push_back(text.substr(start));
  return lines;
}

// Whether the lines can travel as they are (RFC 2045 2.7 7bit data), and survive transport
// unchanged: short, no trailing blanks (RFC 2045 6.7 (3) says why), and no "From " at the start,
// which mbox writers turn into ">From " (RFC 2049 3 (8)).
bool IsSevenBitSafe(const std::vector<std::string_view>& lines) {
  for (const std::string_view line : lines) {
    if (line.size() > kQpLineLength) return false;
    if (!line.empty() && IsBlank(line.back())) return false;
    if (line.starts_with("From ")) return false;
    for (const char c : line) {
      if (!IsVisibleAscii(c) && !IsBlank(c)) return false;
    }
  }
  return true;
}

// One line of text as quoted-printable (RFC 2045 6.7), soft line breaks included, without the
// final CRLF.
void AppendQuotedPrintableLine(std::string_view line, std::string* out) {
  size_t column = 0;
  for (size_t i = 0; i < line.size(); ++i) {
    const auto c = static_cast<unsigned char>(line[i]);
    const bool last = i + 1 == line.size();
    // Rule 2 (literal representation) for printable ASCII but '='; rule 3: a blank only when
    // something follows it on the encoded line, else it could be stripped in transport.
    bool literal = (c >= 33 && c <= 126 && c != '=') || (IsBlank(static_cast<char>(c)) && !last);
    size_t length = literal ? 1 : 3;
    // Rule 5: at most 76 characters per encoded line, the '=' of a soft break included.
    if (column + length > (last ? kQpLineLength : kQpLineLength - 1)) {
      out->append("=\r\n");
      column = 0;
    }
    if (column == 0 && c == 'F' && line.substr(i).starts_with("From ")) {
      literal = false;  // "=46rom ", as RFC 2049 3 (8) advises
      length = 3;
    }
    if (literal) {
      out->push_back(static_cast<char>(c));
    } else {
      out->push_back('=');
      out->push_back(kHex[c >> 4]);
      out->push_back(kHex[c & 0xF]);
    }
    column += length;
  }
}

}  // namespace

std::string EncodeHeaderText(std::string_view utf8, std::string_view field_name) {
  const std::string text = CleanHeaderText(utf8);
  const std::string_view view = text;
  const size_t start = field_name.size() + 2;
  const std::vector<std::string_view> tokens = SplitTokens(view);
  const size_t n = tokens.size();
  // Which tokens become encoded words: the ones a decoder would not read back as written, and
  // the ones too long for a line (folding cannot cut them, an encoded word can be cut).
  std::vector<bool> encode(n);
  for (size_t i = 0; i < n; ++i) {
    const std::string_view word = tokens[i].substr(tokens[i].find_first_not_of(' '));
    encode[i] = !IsPlainWord(word) || (i == 0 ? start : 1) + tokens[i].size() > kFoldColumn;
  }
  HeaderFolder folder(start);
  for (size_t i = 0; i < n;) {
    if (!encode[i]) {
      folder.Add(tokens[i], i > 0, false);
      ++i;
      continue;
    }
    // Adjacent tokens to encode become one text, blanks included: decoders drop the blanks
    // between two encoded words (RFC 2047 6.2), so they must travel inside them.
    size_t j = i;
    while (j + 1 < n && encode[j + 1]) ++j;
    const size_t begin = static_cast<size_t>(tokens[i].data() - view.data());
    const size_t end = static_cast<size_t>(tokens[j].data() - view.data()) + tokens[j].size();
    AddEncodedWords(view.substr(begin, end - begin), i > 0, &folder);
    i = j + 1;
  }
  return folder.Take();
}

std::string FormatMailbox(std::string_view display_name, std::string_view address,
                          std::string_view field_name) {
  const std::string name = CleanHeaderText(display_name);
  const std::string addr = CleanAddress(address);
  const size_t start = field_name.size() + 2;
  HeaderFolder folder(start);
  if (name.empty()) {
    folder.Add(addr, false, false);
    return folder.Take();
  }
  // "=?" stays out of atoms and quoted strings: decoders (ours included) decode encoded words
  // there, which RFC 2047 5(3) forbids but Outlook relies on.
  const bool printable =
      std::all_of(name.begin(), name.end(), [](char c) { return c == ' ' || IsVisibleAscii(c); }) &&
      name.find("=?") == std::string::npos;
  const std::vector<std::string_view> words = SplitTokens(name);
  const bool atoms = printable && std::all_of(words.begin(), words.end(), [](std::string_view w) {
                       return std::all_of(w.begin(), w.end(), IsAtext);
                     });
  const std::string quoted = QuotedString(name);
  const std::vector<std::string_view> quoted_words = SplitTokens(quoted);
  if (atoms && FitsOnLines(words, start)) {
    AddTokens(words, &folder);  // RFC 5322 3.2.5 phrase
  } else if (printable && FitsOnLines(quoted_words, start)) {
    // RFC 5322 3.2.4: a quoted-string may be folded at its blanks too.
    AddTokens(quoted_words, &folder);
  } else {
    AddEncodedWords(name, false, &folder);
  }
  folder.Add("<" + addr + ">", true, false);
  return folder.Take();
}

std::string BuildNotificationMessage(const NotificationEmail& email) {
  std::string out;
  AppendField("Date", FormatDate(email.date_unix_seconds), &out);
  AppendField("From", FormatMailbox(email.from_name, email.from_address, "From"), &out);
  if (!CleanAddress(email.reply_to).empty()) {
    AppendField("Reply-To", FormatMailbox(email.from_name, email.reply_to, "Reply-To"), &out);
  }
  if (CleanAddress(email.to_address).empty()) {
    AppendField("To", "undisclosed-recipients:;", &out);  // RFC 5322 A.1.3's empty group
  } else {
    AppendField("To", FormatMailbox(email.to_name, email.to_address, "To"), &out);
  }
  AppendField("Subject", EncodeHeaderText(email.subject, "Subject"), &out);
  std::string message_id = CleanMessageId(email.message_id);
  CutToBytes(&message_id, kMaxHeaderTokenLength);
  if (!message_id.empty()) AppendField("Message-ID", "<" + message_id + ">", &out);
  std::string in_reply_to = CleanMessageId(email.in_reply_to);
  if (in_reply_to.size() > kMaxHeaderTokenLength) in_reply_to.clear();
  if (!in_reply_to.empty()) AppendField("In-Reply-To", "<" + in_reply_to + ">", &out);
  const std::vector<std::string> references = ReferenceIds(email, in_reply_to);
  if (!references.empty()) {
    AppendField("References", MessageIdList(references, "References"), &out);
  }

  std::string body;
  AppendRepairedUtf8(email.body, &body);
  if (!email.ticket_token.empty()) {
    std::string marker;
    AppendRepairedUtf8("[" + email.ticket_token + "]", &marker);
    if (body.find(marker) == std::string::npos) {
      // One blank line before the token, however the text ended.
      const size_t end = body.find_last_not_of("\r\n");
      body.resize(end == std::string::npos ? 0 : end + 1);
      if (!body.empty()) body.append("\n\n");
      body.append(marker);
    }
  }
  const std::vector<std::string_view> lines = SplitLines(body);
  const bool seven_bit = IsSevenBitSafe(lines);

  AppendField("MIME-Version", "1.0", &out);
  AppendField("Content-Type", "text/plain; charset=utf-8", &out);
  AppendField("Content-Transfer-Encoding", seven_bit ? "7bit" : "quoted-printable", &out);
  AppendField("Auto-Submitted", "auto-generated", &out);
  AppendField("X-Auto-Response-Suppress", "All", &out);
  const std::string loop = LoopMarker(email.loop_marker);
  if (!loop.empty()) AppendField("X-Loop", loop, &out);
  out.append(kCrlf);

  out.reserve(out.size() + body.size() * (seven_bit ? 1 : 3) + 2 * lines.size() + 16);
  for (const std::string_view line : lines) {
    if (seven_bit) {
      out.append(line);
    } else {
      AppendQuotedPrintableLine(line, &out);
    }
    out.append(kCrlf);
  }
  return out;
}

}  // namespace postdesk
