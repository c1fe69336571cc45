#include "parser/mime_parameters.h"

#include <algorithm>
#include <span>

#include "parser/charset.h"
#include "parser/email_address.h"
#include "parser/encoded_words.h"
#include "parser/transfer_decoding.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

bool IsBlank(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

// Sections read before grouping; grouping is quadratic in this, so it stays small.
constexpr size_t kMaxRawParameters = 256;

std::string_view Trim(std::string_view s) {
  while (!s.empty() && IsBlank(s.front())) s.remove_prefix(1);
  while (!s.empty() && IsBlank(s.back())) s.remove_suffix(1);
  return s;
}

// RFC 2231 7: "%XX" escapes in an extended value.
void AppendPercentDecoded(std::string_view in, std::string* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] == '%' && i + 2 < in.size() && HexDigitValue(in[i + 1]) >= 0 &&
        HexDigitValue(in[i + 2]) >= 0) {
      out->push_back(static_cast<char>(HexDigitValue(in[i + 1]) * 16 + HexDigitValue(in[i + 2])));
      i += 2;
    } else {
      out->push_back(in[i]);
    }
  }
}

// Skips a comment "( ... )" starting at s[*i] == '('; nesting is counted, not recursed into.
void SkipComment(std::string_view s, size_t* i) {
  size_t depth = 0;
  while (*i < s.size()) {
    const char c = s[*i];
    if (c == '\\') {
      *i += 2;
      continue;
    }
    ++*i;
    if (c == '(') ++depth;
    if (c == ')' && --depth == 0) return;
  }
}

// One raw "name=value" as read from the header, before RFC 2231 assembly.
struct RawParameter {
  std::string name;       // lower case, sections stripped
  int section = -1;       // RFC 2231 3 "*N"; -1 when absent
  bool extended = false;  // RFC 2231 4 trailing '*': charset'language'%XX
  bool quoted = false;
  std::string value;  // unquoted, backslash escapes resolved
};

// Reads a parameter value at s[*i] into `value`: a quoted string or everything up to the
// next ';'.
void ReadValue(std::string_view s, size_t* i, bool* quoted, std::string* value_out) {
  std::string& value = *value_out;
  value.clear();
  while (*i < s.size() && IsBlank(s[*i])) ++*i;
  if (*i < s.size() && s[*i] == '"') {
    *quoted = true;
    ++*i;
    while (*i < s.size() && s[*i] != '"') {
      if (s[*i] == '\\' && *i + 1 < s.size()) ++*i;                // RFC 5322 3.2.4 quoted-pair
      if (s[*i] != '\r' && s[*i] != '\n') value.push_back(s[*i]);  // folding inside quotes
      ++*i;
    }
    if (*i < s.size()) ++*i;                     // closing quote
    while (*i < s.size() && s[*i] != ';') ++*i;  // junk after the quote is ignored
    return;
  }
  *quoted = false;
  const size_t start = *i;
  while (*i < s.size() && s[*i] != ';') ++*i;
  std::string_view token = Trim(s.substr(start, *i - start));
  // RFC 2045 5.1 allows comments around a token ("charset=koi8-r (Russian)"); a token cannot
  // hold "(" after a blank, so drop everything from there.
  for (size_t k = 1; k < token.size(); ++k) {
    if (token[k] == '(' && IsBlank(token[k - 1])) {
      token = Trim(token.substr(0, k));
      break;
    }
  }
  value.assign(token);
}

// Splits "name*2*" into name, section 2, extended.
void SplitName(std::string_view raw, RawParameter* param) {
  raw = Trim(raw);
  if (!raw.empty() && raw.back() == '*') {
    param->extended = true;
    raw.remove_suffix(1);
  }
  if (const size_t star = raw.find('*'); star != std::string_view::npos) {
    const std::string_view digits = raw.substr(star + 1);
    int section = 0;
    bool ok = !digits.empty() && digits.size() <= 3;
    for (char c : digits) {
      ok = ok && c >= '0' && c <= '9';
      if (ok) section = section * 10 + (c - '0');
    }
    param->section = ok ? section : -1;
    raw = raw.substr(0, star);
  }
  param->name.clear();
  for (char c : raw) param->name.push_back(LowerAsciiChar(c));
}

// Joins the sections of one parameter (RFC 2231 3 and 4.1) and decodes it to UTF-8.
std::string Assemble(std::vector<const RawParameter*>& sections) {
  std::stable_sort(
      sections.begin(), sections.end(),
      [](const RawParameter* a, const RawParameter* b) { return a->section < b->section; });
  std::string charset;
  std::string bytes;
  bool any_extended = false;
  for (size_t k = 0; k < sections.size(); ++k) {
    const RawParameter& p = *sections[k];
    if (k > 0 && p.section == sections[k - 1]->section) continue;  // duplicate section
    std::string_view value = p.value;
    if (p.extended) {
      any_extended = true;
      if (k == 0) {
        // charset'language'text; both may be empty. Without the two quotes, take it all as text.
        const size_t q1 = value.find('\'');
        const size_t q2 = (q1 == std::string_view::npos) ? q1 : value.find('\'', q1 + 1);
        if (q2 != std::string_view::npos) {
          charset = std::string(value.substr(0, q1));
          value = value.substr(q2 + 1);
        }
      }
      AppendPercentDecoded(value, &bytes);
    } else {
      bytes.append(value);
    }
  }
  if (!any_extended) {
    // Plain values may carry RFC 2047 encoded words (not allowed by RFC 2047 5, sent anyway).
    return DecodeHeaderText(bytes);
  }
  std::string out;
  ConvertToUtf8(bytes, charset, &out);
  return out;
}

}  // namespace

std::string_view HeaderParameters::Get(std::string_view name) const {
  for (const auto& [key, entry_value] : parameters) {
    if (key == name) return entry_value;
  }
  return {};
}

bool HeaderParameters::Has(std::string_view name) const {
  for (const auto& entry : parameters) {
    if (entry.first == name) return true;
  }
  return false;
}

HeaderParameters ParseHeaderParameters(std::string_view s) {
  HeaderParameters result;
  ParseHeaderParameters(s, &result);
  return result;
}

void ParseHeaderParameters(std::string_view s, HeaderParameters* out) {
  // Each thread's scratch: the raw parameters keep their strings from one header to the next.
  thread_local std::vector<RawParameter> raw_storage;
  thread_local std::vector<bool> used;
  thread_local std::vector<const RawParameter*> rfc2231;
  size_t raw_count = 0;
  size_t out_count = 0;
  out->value.clear();
  size_t i = 0;
  // The main value, comments removed (RFC 2045 5.1 allows CFWS around tokens).
  while (i < s.size() && s[i] != ';') {
    const char c = s[i];
    if (c == '(') {
      SkipComment(s, &i);
      continue;
    }
    if (!IsBlank(c) && c != '"') out->value.push_back(LowerAsciiChar(c));
    ++i;
  }
  while (i < s.size() && raw_count < kMaxRawParameters) {
    ++i;  // ';'
    while (i < s.size() && (IsBlank(s[i]) || s[i] == ';')) ++i;
    const size_t name_start = i;
    while (i < s.size() && s[i] != '=' && s[i] != ';') ++i;
    if (i >= s.size() || s[i] == ';') continue;  // "name" without a value: ignored
    if (raw_count == raw_storage.size()) raw_storage.emplace_back();
    RawParameter& param = raw_storage[raw_count];
    param.section = -1;
    param.extended = false;
    SplitName(s.substr(name_start, i - name_start), &param);
    ++i;  // '='
    ReadValue(s, &i, &param.quoted, &param.value);
    if (param.name.empty()) continue;
    // A parameter name may not hold blanks or specials; a bogus one is a broken header.
    bool valid = true;
    for (char c : param.name) valid = valid && !IsBlank(c) && c != '"' && c != '(';
    if (valid) ++raw_count;
  }
  const std::span<const RawParameter> raw(raw_storage.data(), raw_count);
  // Group sections by name, in order of first appearance.
  used.assign(raw.size(), false);
  for (size_t a = 0; a < raw.size() && out_count < kMaxParameters; ++a) {
    if (used[a]) continue;
    rfc2231.clear();
    const RawParameter* plain = nullptr;
    for (size_t b = a; b < raw.size(); ++b) {
      if (used[b] || raw[b].name != raw[a].name) continue;
      used[b] = true;
      if (raw[b].section >= 0 || raw[b].extended) {
        if (rfc2231.size() < kMaxContinuations) rfc2231.push_back(&raw[b]);
      } else if (plain == nullptr) {
        plain = &raw[b];  // RFC 2045 says a name appears once; the first one counts
      }
    }
    if (out_count == out->parameters.size()) out->parameters.emplace_back();
    auto& [name, value] = out->parameters[out_count++];
    name.assign(raw[a].name);
    if (!rfc2231.empty()) {
      value = Assemble(rfc2231);  // RFC 2231 continuations: rare enough to allocate
    } else {
      AssignDecodedHeaderText(plain->value, &value);
    }
  }
  out->parameters.resize(out_count);
}

std::string_view NormalizeMediaType(std::string_view value) {
  const size_t slash = value.find('/');
  if (slash == std::string_view::npos || slash == 0 || slash + 1 == value.size()) return {};
  for (char c : value) {
    // RFC 2045 5.1 token characters only (the value is already lower case without blanks).
    const bool token = c > 32 && c < 127 && c != '(' && c != ')' && c != '<' && c != '>' &&
                       c != '@' && c != ',' && c != ';' && c != ':' && c != '\\' && c != '"' &&
                       c != '[' && c != ']' && c != '?' && c != '=';
    if (!token) return {};
  }
  if (value.find('/', slash + 1) != std::string_view::npos) return {};
  return value;
}

}  // namespace postdesk
