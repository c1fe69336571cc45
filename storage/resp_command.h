// RESP (the Redis serialization protocol: an array of bulk strings) written by our own code, for
// hiredis's *FormattedCommand calls, into a buffer the caller keeps.
//
// hiredis formats argv with a printf-like sdscatfmt per argument, which measured as a quarter of
// the gateway's own instructions per stored message; these write the same bytes with plain
// appends, and a buffer reused from one message to the next keeps its capacity, so that a warm
// loop allocates nothing here. Pure; no I/O; never fails.
#ifndef POSTDESK_STORAGE_RESP_COMMAND_H_
#define POSTDESK_STORAGE_RESP_COMMAND_H_

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace postdesk {

// The array header of a command of `argument_count` arguments; exactly that many
// AppendRespBulk calls must follow.
void AppendRespArray(size_t argument_count, std::string* out);
// One argument, as a bulk string.
void AppendRespBulk(std::string_view argument, std::string* out);
// A whole command.
void AppendRespCommand(std::initializer_list<std::string_view> arguments, std::string* out);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_RESP_COMMAND_H_
