#include "gateway/log_text.h"

namespace postdesk {

void AppendEscapedForLog(std::string_view text, size_t max_bytes, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  bool cut = text.size() > max_bytes;
  if (cut) text = text.substr(0, max_bytes);
  out->reserve(out->size() + text.size() + 3);
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (u == '\\') {
      out->append("\\\\");
    } else if (u >= 0x20 && u < 0x7f) {
      out->push_back(c);
    } else {
      out->append("\\x");
      out->push_back(kHex[u >> 4]);
      out->push_back(kHex[u & 15]);
    }
  }
  if (cut) out->append("...");
}

std::string EscapeForLog(std::string_view text, size_t max_bytes) {
  std::string out;
  AppendEscapedForLog(text, max_bytes, &out);
  return out;
}

}  // namespace postdesk
