#include "parser/html_to_text.h"

#include <cstring>

#include "parser/email_address.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

struct NamedReference {
  std::string_view name;
  char32_t code_point;
};

// The references mail actually carries: HTML 4's Latin-1, symbol and special sets (the HTML 5
// list has 2,231 names, nearly all mathematical). Unknown names are kept as written.
constexpr NamedReference kNamedReferences[] = {
    {"amp", '&'},       {"lt", '<'},        {"gt", '>'},       {"quot", '"'},
    {"apos", '\''},     {"nbsp", 0xA0},     {"iexcl", 0xA1},   {"cent", 0xA2},
    {"pound", 0xA3},    {"curren", 0xA4},   {"yen", 0xA5},     {"brvbar", 0xA6},
    {"sect", 0xA7},     {"uml", 0xA8},      {"copy", 0xA9},    {"ordf", 0xAA},
    {"laquo", 0xAB},    {"not", 0xAC},      {"shy", 0xAD},     {"reg", 0xAE},
    {"macr", 0xAF},     {"deg", 0xB0},      {"plusmn", 0xB1},  {"sup2", 0xB2},
    {"sup3", 0xB3},     {"acute", 0xB4},    {"micro", 0xB5},   {"para", 0xB6},
    {"middot", 0xB7},   {"cedil", 0xB8},    {"sup1", 0xB9},    {"ordm", 0xBA},
    {"raquo", 0xBB},    {"frac14", 0xBC},   {"frac12", 0xBD},  {"frac34", 0xBE},
    {"iquest", 0xBF},   {"Agrave", 0xC0},   {"Aacute", 0xC1},  {"Acirc", 0xC2},
    {"Atilde", 0xC3},   {"Auml", 0xC4},     {"Aring", 0xC5},   {"AElig", 0xC6},
    {"Ccedil", 0xC7},   {"Egrave", 0xC8},   {"Eacute", 0xC9},  {"Ecirc", 0xCA},
    {"Euml", 0xCB},     {"Igrave", 0xCC},   {"Iacute", 0xCD},  {"Icirc", 0xCE},
    {"Iuml", 0xCF},     {"ETH", 0xD0},      {"Ntilde", 0xD1},  {"Ograve", 0xD2},
    {"Oacute", 0xD3},   {"Ocirc", 0xD4},    {"Otilde", 0xD5},  {"Ouml", 0xD6},
    {"times", 0xD7},    {"Oslash", 0xD8},   {"Ugrave", 0xD9},  {"Uacute", 0xDA},
    {"Ucirc", 0xDB},    {"Uuml", 0xDC},     {"Yacute", 0xDD},  {"THORN", 0xDE},
    {"szlig", 0xDF},    {"agrave", 0xE0},   {"aacute", 0xE1},  {"acirc", 0xE2},
    {"atilde", 0xE3},   {"auml", 0xE4},     {"aring", 0xE5},   {"aelig", 0xE6},
    {"ccedil", 0xE7},   {"egrave", 0xE8},   {"eacute", 0xE9},  {"ecirc", 0xEA},
    {"euml", 0xEB},     {"igrave", 0xEC},   {"iacute", 0xED},  {"icirc", 0xEE},
    {"iuml", 0xEF},     {"eth", 0xF0},      {"ntilde", 0xF1},  {"ograve", 0xF2},
    {"oacute", 0xF3},   {"ocirc", 0xF4},    {"otilde", 0xF5},  {"ouml", 0xF6},
    {"divide", 0xF7},   {"oslash", 0xF8},   {"ugrave", 0xF9},  {"uacute", 0xFA},
    {"ucirc", 0xFB},    {"uuml", 0xFC},     {"yacute", 0xFD},  {"thorn", 0xFE},
    {"yuml", 0xFF},     {"OElig", 0x152},   {"oelig", 0x153},  {"Scaron", 0x160},
    {"scaron", 0x161},  {"Yuml", 0x178},    {"fnof", 0x192},   {"circ", 0x2C6},
    {"tilde", 0x2DC},   {"Alpha", 0x391},   {"Beta", 0x392},   {"Gamma", 0x393},
    {"Delta", 0x394},   {"Omega", 0x3A9},   {"alpha", 0x3B1},  {"beta", 0x3B2},
    {"gamma", 0x3B3},   {"delta", 0x3B4},   {"pi", 0x3C0},     {"mu", 0x3BC},
    {"omega", 0x3C9},   {"ensp", 0x2002},   {"emsp", 0x2003},  {"thinsp", 0x2009},
    {"zwnj", 0x200C},   {"zwj", 0x200D},    {"lrm", 0x200E},   {"rlm", 0x200F},
    {"ndash", 0x2013},  {"mdash", 0x2014},  {"lsquo", 0x2018}, {"rsquo", 0x2019},
    {"sbquo", 0x201A},  {"ldquo", 0x201C},  {"rdquo", 0x201D}, {"bdquo", 0x201E},
    {"dagger", 0x2020}, {"Dagger", 0x2021}, {"bull", 0x2022},  {"hellip", 0x2026},
    {"permil", 0x2030}, {"prime", 0x2032},  {"Prime", 0x2033}, {"lsaquo", 0x2039},
    {"rsaquo", 0x203A}, {"oline", 0x203E},  {"frasl", 0x2044}, {"euro", 0x20AC},
    {"trade", 0x2122},  {"larr", 0x2190},   {"uarr", 0x2191},  {"rarr", 0x2192},
    {"darr", 0x2193},   {"harr", 0x2194},   {"minus", 0x2212}, {"le", 0x2264},
    {"ge", 0x2265},     {"ne", 0x2260},     {"infin", 0x221E}, {"check", 0x2713},
    {"hearts", 0x2665}, {"loz", 0x25CA},
};

// HTML 5.2 8.2.4.69: numeric references to 0x80..0x9F mean windows-1252.
constexpr char16_t kC1Replacements[32] = {
    0x20AC, 0x81,   0x201A, 0x0192, 0x201E, 0x2026, 0x2020, 0x2021, 0x02C6, 0x2030, 0x0160,
    0x2039, 0x0152, 0x8D,   0x017D, 0x8F,   0x90,   0x2018, 0x2019, 0x201C, 0x201D, 0x2022,
    0x2013, 0x2014, 0x02DC, 0x2122, 0x0161, 0x203A, 0x0153, 0x9D,   0x017E, 0x0178,
};

bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool IsAlnum(char c) { return IsAlpha(c) || (c >= '0' && c <= '9'); }
bool IsHtmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

enum class TagKind { kOther, kBreak, kLine, kParagraph, kListItem, kCell, kPre, kSkip };

struct TagRule {
  std::string_view name;
  TagKind kind;
};

constexpr TagRule kTagRules[] = {
    {"br", TagKind::kBreak},        {"p", TagKind::kParagraph},
    {"div", TagKind::kLine},        {"li", TagKind::kListItem},
    {"tr", TagKind::kLine},         {"td", TagKind::kCell},
    {"th", TagKind::kCell},         {"h1", TagKind::kParagraph},
    {"h2", TagKind::kParagraph},    {"h3", TagKind::kParagraph},
    {"h4", TagKind::kParagraph},    {"h5", TagKind::kParagraph},
    {"h6", TagKind::kParagraph},    {"ul", TagKind::kParagraph},
    {"ol", TagKind::kParagraph},    {"dl", TagKind::kParagraph},
    {"table", TagKind::kParagraph}, {"blockquote", TagKind::kParagraph},
    {"hr", TagKind::kParagraph},    {"pre", TagKind::kPre},
    {"dt", TagKind::kLine},         {"dd", TagKind::kLine},
    {"section", TagKind::kLine},    {"article", TagKind::kLine},
    {"header", TagKind::kLine},     {"footer", TagKind::kLine},
    {"nav", TagKind::kLine},        {"aside", TagKind::kLine},
    {"main", TagKind::kLine},       {"address", TagKind::kLine},
    {"figure", TagKind::kLine},     {"figcaption", TagKind::kLine},
    {"form", TagKind::kLine},       {"fieldset", TagKind::kLine},
    {"center", TagKind::kLine},     {"caption", TagKind::kLine},
    {"thead", TagKind::kLine},      {"tbody", TagKind::kLine},
    {"tfoot", TagKind::kLine},      {"body", TagKind::kLine},
    {"script", TagKind::kSkip},     {"style", TagKind::kSkip},
    {"title", TagKind::kSkip},      {"template", TagKind::kSkip},
};

TagKind ClassifyTag(std::string_view lower_name) {
  for (const auto& rule : kTagRules) {
    if (rule.name == lower_name) return rule.kind;
  }
  return TagKind::kOther;
}

// Finds `needle` (lower case ASCII) in `hay` ignoring case, from `pos`.
size_t FindIgnoreCase(std::string_view hay, std::string_view needle, size_t pos) {
  while (pos + needle.size() <= hay.size()) {
    const void* hit = std::memchr(hay.data() + pos, '<', hay.size() - pos);
    if (hit == nullptr) return std::string_view::npos;
    pos = static_cast<size_t>(static_cast<const char*>(hit) - hay.data());
    if (pos + needle.size() > hay.size()) return std::string_view::npos;
    bool match = true;
    for (size_t k = 0; k < needle.size() && match; ++k)
      match = LowerAsciiChar(hay[pos + k]) == needle[k];
    if (match) return pos;
    ++pos;
  }
  return std::string_view::npos;
}

class TextWriter {
 public:
  TextWriter(std::string* out, size_t max_output_bytes)
      : out_(out), start_(out->size()), max_(max_output_bytes) {}

  bool full() const { return out_->size() - start_ > max_; }
  bool in_pre() const { return pre_depth_ > 0; }

  void Space() { space_ = true; }

  // At least `count` line breaks before the next text (1: new line, 2: blank line).
  void Lines(int count) {
    if (count > lines_) lines_ = count;
  }

  void Break() {
    if (lines_ > 0) FlushLines();
    out_->push_back('\n');
    trailing_newlines_++;
    space_ = false;
  }

  void Text(std::string_view text) {
    if (text.empty()) return;
    Flush();
    // A run longer than the room left is cut one byte past the limit (which makes full() true),
    // finishing the character there: the limit holds to within a character whatever the run.
    // The space or line breaks just flushed may have passed it already.
    const size_t used = out_->size() - start_;
    if (used > max_) return;
    if (text.size() - 1 > max_ - used) {
      size_t keep = max_ - used + 1;
      while (keep < text.size() && (static_cast<unsigned char>(text[keep]) & 0xC0) == 0x80) ++keep;
      text = text.substr(0, keep);
    }
    out_->append(text);
    trailing_newlines_ = 0;
  }

  void CodePoint(char32_t cp) {
    Flush();
    if (cp == 0xA0) cp = ' ';  // a ticket shows a plain space; nobody searches for U+00A0
    AppendCodePoint(cp, out_);
    trailing_newlines_ = 0;
  }

  void PreNewline() {
    Flush();
    out_->push_back('\n');
    trailing_newlines_++;
  }

  void EnterPre() { ++pre_depth_; }
  void LeavePre() {
    if (pre_depth_ > 0) --pre_depth_;
  }

 private:
  void FlushLines() {
    if (out_->size() > start_) {
      while (trailing_newlines_ < lines_) {
        out_->push_back('\n');
        ++trailing_newlines_;
      }
    }
    lines_ = 0;
    space_ = false;
  }

  void Flush() {
    if (lines_ > 0) FlushLines();
    if (space_ && out_->size() > start_ && trailing_newlines_ == 0) out_->push_back(' ');
    space_ = false;
  }

  std::string* out_;
  size_t start_;
  size_t max_;
  int lines_ = 0;
  int trailing_newlines_ = 0;
  int pre_depth_ = 0;
  bool space_ = false;
};

// Decodes the character reference at html[i] == '&'; returns bytes consumed, 0 when it is none.
size_t DecodeReference(std::string_view html, size_t i, char32_t* cp) {
  size_t j = i + 1;
  if (j < html.size() && html[j] == '#') {
    ++j;
    const bool hex = j < html.size() && (html[j] == 'x' || html[j] == 'X');
    if (hex) ++j;
    const size_t digits_start = j;
    uint32_t value = 0;
    while (j < html.size() && j - digits_start < 8) {
      const char c = html[j];
      int d = -1;
      if (c >= '0' && c <= '9') d = c - '0';
      if (hex && c >= 'a' && c <= 'f') d = c - 'a' + 10;
      if (hex && c >= 'A' && c <= 'F') d = c - 'A' + 10;
      if (d < 0) break;
      value = value * (hex ? 16 : 10) + static_cast<uint32_t>(d);
      ++j;
    }
    if (j == digits_start) return 0;
    while (j < html.size() && IsAlnum(html[j])) ++j;  // overlong number: consumed, replaced
    if (j < html.size() && html[j] == ';') ++j;
    if (j - digits_start > 8 + 1 || value == 0 || value > 0x10FFFF ||
        (value >= 0xD800 && value <= 0xDFFF)) {
      *cp = 0xFFFD;
    } else if (value >= 0x80 && value <= 0x9F) {
      *cp = kC1Replacements[value - 0x80];
    } else {
      *cp = value;
    }
    return j - i;
  }
  size_t name_end = j;
  while (name_end < html.size() && name_end - j < 10 && IsAlnum(html[name_end])) ++name_end;
  const std::string_view name = html.substr(j, name_end - j);
  if (name.empty()) return 0;
  const bool semicolon = name_end < html.size() && html[name_end] == ';';
  for (const auto& ref : kNamedReferences) {
    if (ref.name == name) {
      // Without ';' only the oldest references are recognised (HTML 5.2's legacy list holds
      // these among others), so that "&copyright" in a URL stays text.
      if (!semicolon && ref.code_point > 0xFF) return 0;
      *cp = ref.code_point;
      return name_end - i + (semicolon ? 1 : 0);
    }
  }
  return 0;
}

// Reads the tag at html[i] == '<'. Returns the index after it (after '>' or at the end), and
// the lower-case name and whether it is an end tag. Quoted attribute values may hold '>'.
size_t ReadTag(std::string_view html, size_t i, char* name, size_t name_capacity, size_t* name_size,
               bool* end_tag) {
  size_t j = i + 1;
  *end_tag = j < html.size() && html[j] == '/';
  if (*end_tag) ++j;
  *name_size = 0;
  while (j < html.size() && IsAlnum(html[j])) {
    if (*name_size < name_capacity) name[(*name_size)++] = LowerAsciiChar(html[j]);
    ++j;
  }
  while (j < html.size() && html[j] != '>') {
    if (html[j] == '=') {
      ++j;
      while (j < html.size() && IsHtmlSpace(html[j])) ++j;
      if (j < html.size() && (html[j] == '"' || html[j] == '\'')) {
        const void* close = std::memchr(html.data() + j + 1, html[j], html.size() - j - 1);
        if (close == nullptr) return html.size();
        j = static_cast<size_t>(static_cast<const char*>(close) - html.data()) + 1;
      }
      continue;
    }
    ++j;
  }
  return j < html.size() ? j + 1 : j;
}

}  // namespace

bool HtmlToText(std::string_view html, std::string* out, size_t max_output_bytes) {
  TextWriter writer(out, max_output_bytes);
  size_t i = 0;
  while (i < html.size()) {
    if (writer.full()) return true;
    const char c = html[i];
    if (c == '<') {
      const char next = i + 1 < html.size() ? html[i + 1] : '\0';
      if (html.substr(i, 4) == "<!--") {
        const size_t end = html.find("-->", i + 4);
        i = (end == std::string_view::npos) ? html.size() : end + 3;
        continue;
      }
      if (next == '!' || next == '?') {  // doctype, CDATA, processing instruction
        const void* end = std::memchr(html.data() + i, '>', html.size() - i);
        i = end ? static_cast<size_t>(static_cast<const char*>(end) - html.data()) + 1
                : html.size();
        continue;
      }
      if (!IsAlpha(next) && !(next == '/' && i + 2 < html.size() && IsAlpha(html[i + 2]))) {
        writer.Text("<");  // a lone '<' is text (HTML 5.2 8.2.4.6)
        ++i;
        continue;
      }
      char name_buffer[16];
      size_t name_size = 0;
      bool end_tag = false;
      i = ReadTag(html, i, name_buffer, sizeof(name_buffer), &name_size, &end_tag);
      const TagKind kind = ClassifyTag(std::string_view(name_buffer, name_size));
      switch (kind) {
        case TagKind::kSkip:
          if (!end_tag) {
            // Raw text elements: their content is not markup, skip to the matching end tag.
            char closing[20] = "</";
            std::memcpy(closing + 2, name_buffer, name_size);
            const size_t end = FindIgnoreCase(html, std::string_view(closing, name_size + 2), i);
            if (end == std::string_view::npos) return writer.full();
            size_t name_size2 = 0;
            bool end_tag2 = false;
            char ignored[16];
            i = ReadTag(html, end, ignored, sizeof(ignored), &name_size2, &end_tag2);
          }
          break;
        case TagKind::kBreak:
          writer.Break();
          break;
        case TagKind::kLine:
          writer.Lines(1);
          break;
        case TagKind::kParagraph:
          writer.Lines(2);
          break;
        case TagKind::kListItem:
          writer.Lines(1);
          if (!end_tag) writer.Text("- ");
          break;
        case TagKind::kCell:
          if (!end_tag) writer.Space();
          break;
        case TagKind::kPre:
          writer.Lines(2);
          if (end_tag) {
            writer.LeavePre();
          } else {
            writer.EnterPre();
          }
          break;
        case TagKind::kOther:
          break;
      }
      continue;
    }
    if (c == '&') {
      char32_t cp = 0;
      const size_t used = DecodeReference(html, i, &cp);
      if (used > 0) {
        writer.CodePoint(cp);
        i += used;
        continue;
      }
      writer.Text("&");
      ++i;
      continue;
    }
    if (IsHtmlSpace(c)) {
      if (writer.in_pre()) {
        if (c == '\n') {
          writer.PreNewline();
        } else if (c != '\r') {
          writer.Text(std::string_view(&html[i], 1));
        }
      } else {
        writer.Space();
      }
      ++i;
      continue;
    }
    // A run of ordinary text, appended in one piece.
    size_t j = i + 1;
    while (j < html.size() && html[j] != '<' && html[j] != '&' && !IsHtmlSpace(html[j])) ++j;
    writer.Text(html.substr(i, j - i));
    i = j;
  }
  return writer.full();
}

}  // namespace postdesk
