// RespCommand: a Redis command written in RESP (the Redis serialization protocol: an array of
// bulk strings) by our own code, for hiredis's *FormattedCommand calls.
//
// hiredis formats argv with a printf-like sdscatfmt per argument, which measured as a quarter of
// the gateway's own instructions per stored message; this writes the same bytes with one
// reserved buffer. Pure; no I/O; never fails.
#ifndef POSTDESK_STORAGE_RESP_COMMAND_H_
#define POSTDESK_STORAGE_RESP_COMMAND_H_

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace postdesk {

class RespCommand {
 public:
  // Reserves room for the arguments' bytes plus their framing, to be added with Arg().
  RespCommand(size_t argument_count, size_t argument_bytes);
  // A whole command from its arguments.
  RespCommand(std::initializer_list<std::string_view> arguments);

  // Adds the next argument; exactly `argument_count` of them make a valid command.
  void Arg(std::string_view argument);

  const std::string& text() const { return text_; }
  // The text, moved out (the command is empty afterwards).
  std::string Release() { return std::move(text_); }

 private:
  std::string text_;
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_RESP_COMMAND_H_
