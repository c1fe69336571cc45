#include "parser/header_block.h"

#include <algorithm>
#include <cstring>

namespace postdesk {
namespace {

// RFC 5322 3.6.8: a field name is printable US-ASCII except ':'.
bool IsFieldNameChar(char c) { return c > 32 && c < 127 && c != ':'; }

// End of the line starting at `pos`: the index of its '\n', or text.size().
size_t LineEnd(std::string_view text, size_t pos) {
  const void* nl = std::memchr(text.data() + pos, '\n', text.size() - pos);
  return nl ? static_cast<size_t>(static_cast<const char*>(nl) - text.data()) : text.size();
}

}  // namespace

std::string_view TrimBlanks(std::string_view v) {
  auto blank = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
  while (!v.empty() && blank(v.front())) v.remove_prefix(1);
  while (!v.empty() && blank(v.back())) v.remove_suffix(1);
  return v;
}

// Room for a typical header block at once (a mail client's message has 10 to 30 fields), instead
// of growing through 1, 2, 4, 8... for each message.
constexpr size_t kExpectedFields = 32;

HeaderBlock ParseHeaderBlock(std::string_view text, const HeaderBlockLimits& limits) {
  HeaderBlock block;
  ParseHeaderBlock(text, limits, &block);
  return block;
}

void ParseHeaderBlock(std::string_view text, const HeaderBlockLimits& limits, HeaderBlock* out) {
  HeaderBlock& block = *out;
  block.fields.clear();  // views: the capacity stays for the next block
  block.body = {};
  block.truncated = block.field_cut = block.missing_separator = false;
  block.fields.reserve(std::min(kExpectedFields, limits.max_fields));
  size_t pos = 0;
  if (text.substr(0, 5) == "From ") pos = LineEnd(text, 0) + 1;  // mbox separator
  size_t field_start = std::string_view::npos;  // start of the current field's value
  size_t field_end = 0;                         // end of its last line, without the line end
  auto close_field = [&]() {
    if (field_start == std::string_view::npos) return;
    std::string_view value = text.substr(field_start, field_end - field_start);
    if (value.size() > limits.max_field_bytes) {
      value = value.substr(0, limits.max_field_bytes);
      block.field_cut = true;
    }
    block.fields.back().value = value;
    field_start = std::string_view::npos;
  };
  while (pos < text.size()) {
    if (pos >= limits.max_bytes || block.fields.size() >= limits.max_fields) {
      block.truncated = true;
      break;
    }
    size_t end = LineEnd(text, pos);
    const size_t next = end < text.size() ? end + 1 : end;
    if (end > pos && text[end - 1] == '\r') --end;
    const std::string_view line = text.substr(pos, end - pos);
    if (line.empty()) {  // the blank line between header and body
      close_field();
      block.body = text.substr(next);
      return;
    }
    if (line[0] == ' ' || line[0] == '\t') {
      // A continuation line (RFC 5322 2.2.3). One before any field has nothing to continue.
      if (field_start != std::string_view::npos) field_end = end;
      pos = next;
      continue;
    }
    size_t colon = 0;
    while (colon < line.size() && IsFieldNameChar(line[colon])) ++colon;
    size_t name_end = colon;
    while (colon < line.size() && (line[colon] == ' ' || line[colon] == '\t')) ++colon;  // obs
    if (colon >= line.size() || line[colon] != ':' || name_end == 0) {
      close_field();
      block.missing_separator = true;
      block.body = text.substr(pos);
      return;
    }
    close_field();
    block.fields.push_back({line.substr(0, name_end), {}});
    field_start = pos + colon + 1;
    field_end = end;
    pos = next;
  }
  close_field();
  block.body = text.substr(pos < text.size() ? pos : text.size());
}

}  // namespace postdesk
