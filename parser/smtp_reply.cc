#include "parser/smtp_reply.h"

namespace postdesk {

std::optional<SmtpReplyLine> ParseSmtpReplyLine(std::string_view line) {
  auto digit = [&line](size_t i) { return line[i] >= '0' && line[i] <= '9'; };
  if (line.size() < 3 || !digit(0) || !digit(1) || !digit(2)) return std::nullopt;
  if (line.size() > 3 && line[3] != ' ' && line[3] != '-') return std::nullopt;
  SmtpReplyLine out;
  out.code = (line[0] - '0') * 100 + (line[1] - '0') * 10 + (line[2] - '0');
  out.last = line.size() == 3 || line[3] == ' ';
  if (line.size() > 4) out.text = line.substr(4);
  return out;
}

}  // namespace postdesk
