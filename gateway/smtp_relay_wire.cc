#include "gateway/smtp_relay_wire.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

namespace postdesk::relay {

std::string Reply::Text() const {
  std::string text;
  for (const std::string& line : lines) {
    if (!text.empty()) text += '\n';
    text += line;
  }
  return text;
}

Extensions ParseExtensions(const Reply& ehlo) {
  Extensions ext;
  for (size_t i = 1; i < ehlo.lines.size(); ++i) {
    std::string_view line = ehlo.lines[i];
    line.remove_prefix(std::min<size_t>(4, line.size()));
    std::string_view param;
    size_t space = line.find(' ');
    if (space != std::string_view::npos) {
      param = line.substr(space + 1);
      line = line.substr(0, space);
    }
    std::string keyword(line);
    for (char& c : keyword) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    if (keyword == "PIPELINING") {
      ext.pipelining = true;
    } else if (keyword == "STARTTLS") {
      ext.starttls = true;
    } else if (keyword == "SIZE") {
      ext.size = true;
      ext.max_size = std::strtoull(std::string(param).c_str(), nullptr, 10);
    } else if (keyword == "8BITMIME") {
      ext.eight_bit_mime = true;
    } else if (keyword == "SMTPUTF8") {
      ext.smtputf8 = true;
    }
  }
  return ext;
}

bool ValidAddress(std::string_view address) {
  for (char c : address) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f || c == '<' || c == '>') return false;
  }
  return true;
}

bool HasNonAscii(std::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) >= 0x80) return true;
  }
  return false;
}

void PrepareData(std::string_view data, std::string* wire, uint64_t* size, bool* eight_bit) {
  wire->clear();
  wire->reserve(data.size() + data.size() / 32 + 8);
  bool line_start = true;
  uint64_t stuffed = 0;
  for (size_t i = 0; i < data.size(); ++i) {
    char c = data[i];
    if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < data.size() && data[i + 1] == '\n') ++i;
      wire->append("\r\n");
      line_start = true;
      continue;
    }
    if (line_start && c == '.') {
      wire->push_back('.');
      ++stuffed;
    }
    line_start = false;
    if (static_cast<unsigned char>(c) >= 0x80) *eight_bit = true;
    wire->push_back(c);
  }
  if (!line_start) wire->append("\r\n");
  *size = wire->size() - stuffed;
  wire->append(".\r\n");
}

DeliveryResult Failure(DeliveryResult::Kind kind, int code, std::string reply) {
  DeliveryResult result;
  result.kind = kind;
  result.code = code;
  result.reply = std::move(reply);
  return result;
}

DeliveryResult FromReply(const Reply& reply) {
  DeliveryResult::Kind kind = DeliveryResult::Kind::kTemporary;
  if (reply.Class() == 2) kind = DeliveryResult::Kind::kDelivered;
  if (reply.Class() == 5) kind = DeliveryResult::Kind::kPermanent;
  return Failure(kind, reply.code, reply.Text());
}

}  // namespace postdesk::relay
