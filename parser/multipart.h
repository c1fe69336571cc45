// Multipart bodies (RFC 2046 5.1.1): the body parts between boundary delimiter lines.
//
// Our own bounded splitter instead of mimetic's: mimetic 0.9.8's boundary search reads out of
// bounds on some inputs and its parser recurses without a depth bound (design.md, "Parsing").
// One forward pass over a string_view with memchr-class searches; parts are views into the
// caller's buffer. Thread-safe; never throws; never fails (an unterminated or boundary-less body
// is reported, not refused).
#ifndef POSTDESK_PARSER_MULTIPART_H_
#define POSTDESK_PARSER_MULTIPART_H_

#include <cstddef>
#include <string_view>
#include <vector>

namespace postdesk {

// RFC 2046 5.1.1 allows 1-70 characters; we accept longer ones from sloppy senders up to this.
inline constexpr size_t kMaxBoundaryLength = 200;

struct MultipartBody {
  std::vector<std::string_view> parts;  // each without the line break before the next delimiter
  bool found_start = false;             // at least one delimiter line was found
  bool terminated = false;              // the close delimiter "--boundary--" was found
  bool parts_capped = false;            // more parts followed than `max_parts` allowed
};

// Splits `body` at lines "--" boundary [ "--" ] followed only by blanks (RFC 2046 5.1.1; the
// blanks are the "transport padding" it allows). Text before the first delimiter (preamble) and
// after the close delimiter (epilogue) is dropped. Keeps at most `max_parts` parts.
// The pointer form overwrites `out`, keeping the capacity of its part list.
MultipartBody SplitMultipart(std::string_view body, std::string_view boundary, size_t max_parts);
void SplitMultipart(std::string_view body, std::string_view boundary, size_t max_parts,
                    MultipartBody* out);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_MULTIPART_H_
