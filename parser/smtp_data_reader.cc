#include "parser/smtp_data_reader.h"

#include <algorithm>
#include <cassert>
#include <cstring>

namespace postdesk {
namespace {

// The first allocation holds a typical message and the trace header the session puts before
// it (SmtpDataReader::kHeadroom), so that most messages are received into one buffer; bigger
// ones grow it by doubling.
constexpr size_t kInitialCapacity = 8 * 1024;

}  // namespace

void SmtpDataReader::Append(std::string_view bytes) {
  total_bytes_ += bytes.size();
  if (oversized_) return;
  if (total_bytes_ > max_bytes_) {
    oversized_ = true;
    std::string().swap(message_);  // release what was held: the message is refused anyway
    return;
  }
  if (message_.empty()) {
    message_.reserve(std::min(max_bytes_, kInitialCapacity - kHeadroom) + kHeadroom);
  }
  message_.append(bytes);
}

size_t SmtpDataReader::Consume(std::string_view input) {
  assert(state_ != State::kDone);
  size_t i = 0;
  while (i < input.size()) {
    char c = input[i];
    switch (state_) {
      case State::kLineStart:
        if (c == '.') {
          state_ = State::kDot;  // RFC 5321 4.5.2: the first dot of a line is removed
          ++i;
          continue;
        }
        state_ = State::kText;
        continue;  // handle c as text
      case State::kDot:
        if (c == '\r') {
          state_ = State::kDotCr;
          ++i;
          continue;
        }
        state_ = State::kText;
        continue;
      case State::kDotCr:
        if (c == '\n') {
          state_ = State::kDone;
          return i + 1;
        }
        // ".\r" followed by anything else: the dot was stuffing, the CR is data.
        Append("\r");
        state_ = State::kCr;
        continue;
      case State::kText: {
        // Fast path: copy up to the next CR in one piece.
        const void* cr = std::memchr(input.data() + i, '\r', input.size() - i);
        size_t end = cr ? static_cast<const char*>(cr) - input.data() : input.size();
        Append(input.substr(i, end - i));
        i = end;
        if (cr) {
          Append("\r");
          state_ = State::kCr;
          ++i;
        }
        continue;
      }
      case State::kCr:
        if (c == '\n') {
          Append("\n");
          state_ = State::kLineStart;
          ++i;
        } else if (c == '\r') {
          Append("\r");
          ++i;
        } else {
          state_ = State::kText;
        }
        continue;
      case State::kDone:
        return i;
    }
  }
  return i;
}

}  // namespace postdesk
