// SMTP command lines (RFC 5321 section 4.1) to structured commands.
//
// Pure functions over one command line, without its CRLF. The line must already be bounded by the
// caller (the session refuses lines over its limit before calling). Results are views into the
// line; nothing here allocates on success, and nothing throws. Syntax errors come back as a non-ok
// Result whose message is safe to put in a 501 reply (it never echoes client bytes).
#ifndef POSTDESK_PARSER_SMTP_COMMAND_H_
#define POSTDESK_PARSER_SMTP_COMMAND_H_

#include <array>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>

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

// More ESMTP parameters on one MAIL or RCPT than any extension defines together (SIZE, BODY,
// SMTPUTF8, RET, ENVID, AUTH, REQUIRETLS, MT-PRIORITY; NOTIFY, ORCPT) is a syntax error.
inline constexpr size_t kMaxEsmtpParameters = 16;

struct EsmtpParameter {
  std::string keyword;     // upper case (a keyword longer than 15 bytes is rare enough to allocate)
  std::string_view value;  // as given (xtext is not decoded); "" when the parameter has no value
};

// Views into the parsed argument: valid while it is. Held inline, so parsing a command
// allocates nothing.
struct MailPath {
  std::string_view address;  // the mailbox without brackets and source route; "" for <>
  std::array<EsmtpParameter, kMaxEsmtpParameters> parameter_storage;
  size_t parameter_count = 0;

  std::span<const EsmtpParameter> parameters() const {
    return {parameter_storage.data(), parameter_count};
  }
};

// Parses the argument of MAIL ("FROM:<a@b> SIZE=10") or RCPT ("TO:<a@b>"); `prefix` is "FROM:"
// or "TO:". Accepts a space after the colon and a source route (RFC 5321 4.1.2, C.1), which is
// dropped. The null path is allowed only when `allow_null` (MAIL FROM:<>).
Result<MailPath> ParseMailPath(std::string_view argument, std::string_view prefix,
                               bool allow_null);

// BDAT's argument (RFC 3030 2: "BDAT" SP chunk-size [SP "LAST"]): the octets that follow the
// command line, and whether they end the message. LAST is case-insensitive. A size that does
// not fit 64 bits, a missing size or anything after LAST is a syntax error.
struct BdatChunk {
  uint64_t size = 0;
  bool last = false;
};
Result<BdatChunk> ParseBdatArgument(std::string_view argument);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_SMTP_COMMAND_H_
