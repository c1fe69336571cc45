#include "storage/resp_command.h"

#include <cassert>
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

bool AppendRespBulkOrSplice(std::string_view argument, std::string* out, RespSplice* splice) {
  if (argument.size() < kRespSpliceBytes) {
    AppendRespBulk(argument, out);
    return false;
  }
  AppendFrame('$', argument.size(), out);
  *splice = {out->size(), argument};
  out->append("\r\n");
  return true;
}

void AppendSpliced(std::string_view text, const RespSplice* splices, size_t count,
                   std::string* out) {
  size_t done = 0;
  for (size_t i = 0; i < count; ++i) {
    assert(splices[i].at >= done && splices[i].at <= text.size());
    out->append(text.substr(done, splices[i].at - done)).append(splices[i].value);
    done = splices[i].at;
  }
  out->append(text.substr(done));
}

}  // namespace postdesk
