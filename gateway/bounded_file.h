// ReadFileAtMost and ReadFileHead: a file read into memory with its size bounded before it is
// held, for the files an operator names (configuration, triggers, a password, `postdesk
// parse`'s message). A file that grows while it is read, or a device that never ends, stops at
// the bound instead of filling memory.
//
// Plain blocking reads, for start-up, SIGHUP and command-line tools: never call them on a loop
// thread while it serves sessions. Thread-safe (no shared state). Fails with a Status whose
// message names no path (the caller says which file it is): "cannot open: <errno text>",
// "cannot read: <errno text>", or "larger than N bytes".
#ifndef POSTDESK_GATEWAY_BOUNDED_FILE_H_
#define POSTDESK_GATEWAY_BOUNDED_FILE_H_

#include <cstddef>
#include <string>

#include "parser/result.h"

namespace postdesk {

// The bytes of the file at `path`, at most max_bytes of them; a larger file is an error, and
// at most max_bytes + 1 bytes are ever held.
Result<std::string> ReadFileAtMost(const std::string& path, size_t max_bytes);

// The first max_bytes bytes of the file at `path` (all of it when it is shorter): for a caller
// that judges a longer file itself.
Result<std::string> ReadFileHead(const std::string& path, size_t max_bytes);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_BOUNDED_FILE_H_
