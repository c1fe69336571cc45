// SMTP reply lines (RFC 5321 4.2), as the clients read them: the outbound notifier
// (gateway/smtp_client.h) and the load generator (tools/blast).
//
// Pure; no I/O; thread-safe.
#ifndef POSTDESK_PARSER_SMTP_REPLY_H_
#define POSTDESK_PARSER_SMTP_REPLY_H_

#include <optional>
#include <string_view>

namespace postdesk {

struct SmtpReplyLine {
  int code = 0;           // 200..599 in practice; any three digits here
  bool last = true;       // no '-' after the code: the reply ends with this line
  std::string_view text;  // after the code and its separator
};

// A line without its line end: three digits, then nothing, ' ' and text, or '-' and text
// (every line but the last); nullopt for anything else.
std::optional<SmtpReplyLine> ParseSmtpReplyLine(std::string_view line);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_SMTP_REPLY_H_
