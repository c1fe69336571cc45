// Structured MIME header values: Content-Type and Content-Disposition with their parameters
// (RFC 2045 5.1, RFC 2183 2), including RFC 2231 continuations, charsets and languages.
//
// Pure functions over string_views; thread-safe; never throw. Lenient the way mail clients are:
// unquoted values with blanks, missing semicolons between parameters, an unterminated quoted
// string (runs to the end), RFC 2047 encoded words inside quoted values (Outlook, Gmail) are all
// read. Bounded: at most kMaxParameters parameters and kMaxContinuations sections per parameter;
// the rest is ignored.
#ifndef POSTDESK_PARSER_MIME_PARAMETERS_H_
#define POSTDESK_PARSER_MIME_PARAMETERS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace postdesk {

inline constexpr size_t kMaxParameters = 64;
inline constexpr size_t kMaxContinuations = 64;

struct HeaderParameters {
  std::string value;  // the value before the first ';', lower case, blanks and comments removed
  // Parameter names lower case without RFC 2231 '*' sections; values decoded to UTF-8. A name
  // appears once: RFC 2231 forms win over plain ones (RFC 2231 4.1 lets senders send both).
  std::vector<std::pair<std::string, std::string>> parameters;

  // The value of `name` (lower case), or "" when absent.
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
};

// Parses `raw` (an unfolded or folded header field body). The pointer form overwrites `out`,
// whose strings keep their storage: a warm thread parses a header without allocating.
HeaderParameters ParseHeaderParameters(std::string_view raw);
void ParseHeaderParameters(std::string_view raw, HeaderParameters* out);

// The Content-Type value as RFC 2045 5.2 wants it: "type/subtype" in lower case, or "" when it is
// not of that form (the caller applies the default). A view of `value` (already lower case).
std::string_view NormalizeMediaType(std::string_view value);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_MIME_PARAMETERS_H_
