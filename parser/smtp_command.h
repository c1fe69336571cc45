// SMTP command lines (RFC 5321 section 4.1) to structured commands.
//
// Pure functions over one command line, without its CRLF. The line must already be bounded by the
// caller (the session refuses lines over its limit before calling). Nothing here allocates more
// than a copy of the line's parts; nothing throws. Syntax errors come back as a non-ok Result
// whose message is safe to put in a 501 reply (it never echoes client bytes).
#ifndef POSTDESK_PARSER_SMTP_COMMAND_H_
#define POSTDESK_PARSER_SMTP_COMMAND_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "parser/result.h"

namespace postdesk {

enum class SmtpVerb {
  kHelo,
  kEhlo,
  kMail,
  kRcpt,
  kData,
  kBdat,
  kRset,
  kNoop,
  kQuit,
  kVrfy,
  kExpn,
  kHelp,
  kStarttls,
  kAuth,
  kUnknown,
};

struct SmtpCommand {
  SmtpVerb verb = SmtpVerb::kUnknown;
  std::string_view argument;  // the text after the verb and its separating space, untrimmed
};

// Splits a line into verb and argument. Verbs are case-insensitive (RFC 5321 2.4). Never fails:
// an unknown verb is kUnknown.
SmtpCommand ParseSmtpCommand(std::string_view line);

// Longest addr-spec we accept (RFC 5321 4.5.3.1.3: a path is at most 256 octets with brackets).
inline constexpr size_t kMaxPathLength = 254;

struct EsmtpParameter {
  std::string keyword;  // upper case
  std::string value;    // as given (xtext is not decoded); "" when the parameter has no value
};

struct MailPath {
  std::string address;  // the mailbox without brackets and source route; "" for the null path <>
  std::vector<EsmtpParameter> parameters;
};

// Parses the argument of MAIL ("FROM:<a@b> SIZE=10") or RCPT ("TO:<a@b>"); `prefix` is "FROM:"
// or "TO:". Accepts a space after the colon and a source route (RFC 5321 4.1.2, C.1), which is
// dropped. The null path is allowed only when `allow_null` (MAIL FROM:<>).
Result<MailPath> ParseMailPath(std::string_view argument, std::string_view prefix,
                               bool allow_null);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_SMTP_COMMAND_H_
