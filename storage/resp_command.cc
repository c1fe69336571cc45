#include "storage/resp_command.h"

#include <charconv>

namespace postdesk {
namespace {

// "*<count>\r\n" and "$<length>\r\n" frame at most 20 digits and 3 bytes each.
constexpr size_t kFrameBytes = 24;

void AppendFrame(char kind, size_t number, std::string* out) {
  char buffer[kFrameBytes];
  buffer[0] = kind;
  char* end = std::to_chars(buffer + 1, buffer + sizeof(buffer) - 2, number).ptr;
  *end++ = '\r';
  *end++ = '\n';
  out->append(buffer, static_cast<size_t>(end - buffer));
}

size_t TotalBytes(std::initializer_list<std::string_view> arguments) {
  size_t bytes = 0;
  for (std::string_view a : arguments) bytes += a.size();
  return bytes;
}

}  // namespace

RespCommand::RespCommand(size_t argument_count, size_t argument_bytes) {
  text_.reserve(kFrameBytes + argument_count * (kFrameBytes + 2) + argument_bytes);
  AppendFrame('*', argument_count, &text_);
}

RespCommand::RespCommand(std::initializer_list<std::string_view> arguments)
    : RespCommand(arguments.size(), TotalBytes(arguments)) {
  for (std::string_view a : arguments) Arg(a);
}

void RespCommand::Arg(std::string_view argument) {
  AppendFrame('$', argument.size(), &text_);
  text_.append(argument);
  text_.append("\r\n");
}

}  // namespace postdesk
