// Client text made safe for logs: a client must not be able to forge log lines or fill the disk.
//
// Pure functions; thread-safe.
#ifndef POSTDESK_GATEWAY_LOG_TEXT_H_
#define POSTDESK_GATEWAY_LOG_TEXT_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace postdesk {

// Printable ASCII is kept; every other byte (CR, LF, controls, 8-bit) becomes \xNN; a
// backslash becomes "\\". Output past `max_bytes` of input is cut and marked with "...".
// AppendEscapedForLog writes the same at the end of `out`.
std::string EscapeForLog(std::string_view text, size_t max_bytes = 200);
void AppendEscapedForLog(std::string_view text, size_t max_bytes, std::string* out);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_LOG_TEXT_H_
