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

}  // namespace

void AppendRespArray(size_t argument_count, std::string* out) {
  AppendFrame('*', argument_count, out);
}

void AppendRespBulk(std::string_view argument, std::string* out) {
  AppendFrame('$', argument.size(), out);
  out->append(argument);
  out->append("\r\n");
}

void AppendRespCommand(std::initializer_list<std::string_view> arguments, std::string* out) {
  AppendRespArray(arguments.size(), out);
  for (std::string_view a : arguments) AppendRespBulk(a, out);
}

}  // namespace postdesk
