#include "parser/email_address.h"

#include <cctype>
#include <cstring>

namespace postdesk {
namespace {

// RFC 5322 3.2.3 atext, plus any byte of a UTF-8 sequence (RFC 6531 3.3 UTF8-non-ascii).
bool IsAtext(unsigned char c) {
  if (c >= 0x80 || std::isalnum(c)) return true;
  return std::strchr("!#$%&'*+-/=?^_`{|}~", c) != nullptr && c != 0;
}

bool IsValidLocalPart(std::string_view local) {
  if (local.empty() || local.size() > 128) return false;
  if (local.front() == '"') {
    // RFC 5321 4.1.2 Quoted-string: qtextSMTP or quoted-pairSMTP between quotes.
    if (local.size() < 2 || local.back() != '"') return false;
    for (size_t i = 1; i + 1 < local.size(); ++i) {
      auto c = static_cast<unsigned char>(local[i]);
      if (c == '\\') {
        if (++i + 1 >= local.size()) return false;
        c = static_cast<unsigned char>(local[i]);
        if (c < 32 || c == 127) return false;
      } else if (c == '"' || c < 32 || c == 127) {
        return false;
      }
    }
    return true;
  }
  // Dot-string: atoms separated by single dots.
  if (local.front() == '.' || local.back() == '.') return false;
  for (size_t i = 0; i < local.size(); ++i) {
    auto c = static_cast<unsigned char>(local[i]);
    if (c == '.') {
      if (local[i - 1] == '.') return false;
    } else if (!IsAtext(c)) {
      return false;
    }
  }
  return true;
}

bool IsValidDomain(std::string_view domain) {
  if (domain.empty() || domain.size() > 255) return false;
  if (domain.front() == '[') {
    // Address literal (RFC 5321 4.1.3); the content is checked loosely: printable, no brackets.
    if (domain.back() != ']' || domain.size() < 3) return false;
    for (size_t i = 1; i + 1 < domain.size(); ++i) {
      auto c = static_cast<unsigned char>(domain[i]);
      if (c <= 32 || c >= 127 || c == '[' || c == ']' || c == '\\') return false;
    }
    return true;
  }
  if (domain.front() == '.' || domain.back() == '.' || domain.front() == '-') return false;
  for (size_t i = 0; i < domain.size(); ++i) {
    auto c = static_cast<unsigned char>(domain[i]);
    if (c == '.') {
      if (domain[i - 1] == '.') return false;
    } else if (!(c >= 0x80 || std::isalnum(c) || c == '-')) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool IsValidMailbox(std::string_view address) {
  AddressParts parts = SplitAddress(address);
  if (parts.domain.empty()) {
    return address.size() == 10 && LowerAscii(address) == "postmaster";
  }
  return IsValidLocalPart(parts.local) && IsValidDomain(parts.domain);
}

std::string LowerAscii(std::string_view text) {
  std::string out(text);
  for (char& c : out) c = LowerAsciiChar(c);
  return out;
}

LowerAsciiText::LowerAsciiText(std::string_view text) {
  char* out = inline_;
  if (text.size() > sizeof(inline_)) {
    heap_.resize(text.size());
    out = heap_.data();
  }
  for (size_t i = 0; i < text.size(); ++i) out[i] = LowerAsciiChar(text[i]);
  view_ = std::string_view(out, text.size());
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (LowerAsciiChar(a[i]) != LowerAsciiChar(b[i])) return false;
  }
  return true;
}

AddressParts SplitAddress(std::string_view address) {
  size_t at = address.rfind('@');
  if (at == std::string_view::npos) return {address, {}};
  return {address.substr(0, at), address.substr(at + 1)};
}

std::string_view StripPlusTag(std::string_view local) {
  return local.substr(0, local.find('+', 1));
}

std::optional<std::string_view> PlusTag(std::string_view local) {
  size_t plus = local.find('+', 1);
  if (plus == std::string_view::npos) return std::nullopt;
  return local.substr(plus + 1);
}

}  // namespace postdesk
