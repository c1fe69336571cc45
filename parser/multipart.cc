#include "parser/multipart.h"

#include <cstring>

namespace postdesk {
namespace {

struct Delimiter {
  size_t line_start = 0;   // where the "--boundary" line begins
  size_t content_end = 0;  // where the preceding part ends (before the CRLF / LF)
  size_t next = 0;         // first byte after the delimiter line
  bool close = false;      // "--boundary--"
};

// Checks that "--boundary" at `pos` (already matched) is a whole delimiter line.
bool CompleteDelimiter(std::string_view body, size_t pos, size_t boundary_size, Delimiter* d) {
  size_t i = pos + 2 + boundary_size;
  bool close = false;
  if (body.substr(i, 2) == "--") {
    close = true;
    i += 2;
  }
  while (i < body.size() && (body[i] == ' ' || body[i] == '\t')) ++i;
  if (i < body.size() && body[i] == '\r') ++i;
  if (i < body.size() && body[i] != '\n') return false;
  d->line_start = pos;
  d->close = close;
  d->next = i < body.size() ? i + 1 : i;
  // RFC 2046 5.1.1: the CRLF before the delimiter belongs to the delimiter, not to the part.
  size_t end = pos;
  if (end > 0 && body[end - 1] == '\n') --end;
  if (end > 0 && body[end - 1] == '\r') --end;
  d->content_end = end;
  return true;
}

// Finds the next delimiter line at or after `from`. Only a line start can hold one, so this
// searches for "\n--boundary" with glibc's memmem (two-way, vectorised), plus a check at 0.
bool FindDelimiter(std::string_view body, std::string_view boundary, size_t from, Delimiter* d) {
  if (from == 0 && body.substr(0, 2) == "--" && body.substr(2, boundary.size()) == boundary &&
      CompleteDelimiter(body, 0, boundary.size(), d)) {
    return true;
  }
  char needle[3 + kMaxBoundaryLength];
  needle[0] = '\n';
  needle[1] = '-';
  needle[2] = '-';
  std::memcpy(needle + 3, boundary.data(), boundary.size());
  const size_t needle_size = 3 + boundary.size();
  size_t pos = from == 0 ? 0 : from - 1;  // the '\n' ending the previous line sits at from-1
  while (pos < body.size()) {
    const void* hit = memmem(body.data() + pos, body.size() - pos, needle, needle_size);
    if (hit == nullptr) return false;
    const size_t nl = static_cast<size_t>(static_cast<const char*>(hit) - body.data());
    if (nl + 1 >= from && CompleteDelimiter(body, nl + 1, boundary.size(), d)) return true;
    pos = nl + 1;
  }
  return false;
}

}  // namespace

MultipartBody SplitMultipart(std::string_view body, std::string_view boundary, size_t max_parts) {
  MultipartBody result;
  SplitMultipart(body, boundary, max_parts, &result);
  return result;
}

void SplitMultipart(std::string_view body, std::string_view boundary, size_t max_parts,
                    MultipartBody* out) {
  MultipartBody& result = *out;
  result.parts.clear();  // views: the capacity stays
  result.found_start = result.terminated = result.parts_capped = false;
  if (boundary.empty() || boundary.size() > kMaxBoundaryLength) return;
  Delimiter d;
  if (!FindDelimiter(body, boundary, 0, &d)) return;
  result.found_start = true;
  while (!d.close) {
    const size_t part_start = d.next;
    Delimiter next;
    const bool found = FindDelimiter(body, boundary, part_start, &next);
    if (result.parts.size() >= max_parts) {
      result.parts_capped = true;
      return;
    }
    if (!found) {
      // RFC 2046 says the close delimiter is required; salvage the last part up to the end.
      result.parts.push_back(body.substr(part_start));
      return;
    }
    const size_t end = next.content_end < part_start ? part_start : next.content_end;
    result.parts.push_back(body.substr(part_start, end - part_start));
    d = next;
  }
  result.terminated = true;
}

}  // namespace postdesk
