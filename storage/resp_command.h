// RESP (the Redis serialization protocol: an array of bulk strings) written by our own code, for
// hiredis's *FormattedCommand calls, into a buffer the caller keeps.
//
// hiredis formats argv with a printf-like sdscatfmt per argument, which measured as a quarter of
// the gateway's own instructions per stored message; these write the same bytes with plain
// appends, and a buffer reused from one message to the next keeps its capacity, so that a warm
// loop allocates nothing here. A large argument (a raw message) may be left where it is: its
// frame goes into the buffer and a RespSplice says where its bytes belong, for a gathered
// write (writev) that does not copy them. Pure; no I/O; never fails.
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

// An argument's bytes that belong at `at` in a RESP buffer but stay in their owner's storage.
struct RespSplice {
  size_t at;
  std::string_view value;
};

// One argument as AppendRespBulk writes it, except that an argument of kRespSpliceBytes or more
// is not copied: its frame and final CRLF are, and `splice` gets where its bytes go. Returns
// whether it spliced. Below that size a copy costs less than one more piece of a write.
inline constexpr size_t kRespSpliceBytes = 32 * 1024;
bool AppendRespBulkOrSplice(std::string_view argument, std::string* out, RespSplice* splice);

// `text` with each splice's value put in at its place (splices in order of `at`), appended to
// `out`: the bytes that a gathered write of them sends.
void AppendSpliced(std::string_view text, const RespSplice* splices, size_t count,
                   std::string* out);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_RESP_COMMAND_H_
