#include "parser/smtp_command.h"

#include <array>
#include <cctype>
#include <charconv>

#include "parser/email_address.h"

namespace postdesk {
namespace {

struct VerbName {
  std::string_view name;
  SmtpVerb verb;
};

constexpr std::array<VerbName, 14> kVerbs = {{
    {"HELO", SmtpVerb::kHelo},
    {"EHLO", SmtpVerb::kEhlo},
    {"MAIL", SmtpVerb::kMail},
    {"RCPT", SmtpVerb::kRcpt},
    {"DATA", SmtpVerb::kData},
    {"BDAT", SmtpVerb::kBdat},
    {"RSET", SmtpVerb::kRset},
    {"NOOP", SmtpVerb::kNoop},
    {"QUIT", SmtpVerb::kQuit},
    {"VRFY", SmtpVerb::kVrfy},
    {"EXPN", SmtpVerb::kExpn},
    {"HELP", SmtpVerb::kHelp},
    {"STARTTLS", SmtpVerb::kStarttls},
    {"AUTH", SmtpVerb::kAuth},
}};

bool StartsWithIgnoreCase(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && EqualsIgnoreCase(text.substr(0, prefix.size()), prefix);
}

// RFC 5321 4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-").
bool IsKeyword(std::string_view keyword) {
  if (keyword.empty() || !std::isalnum(static_cast<unsigned char>(keyword[0]))) return false;
  for (char c : keyword) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
  }
  return true;
}

// RFC 5321 4.1.2: esmtp-value = 1*(%d33-60 / %d62-126), extended to UTF-8 by RFC 6531 3.3.
bool IsValue(std::string_view value) {
  if (value.empty()) return false;
  for (char c : value) {
    auto u = static_cast<unsigned char>(c);
    if (u < 33 || u == '=' || u == 127) return false;
  }
  return true;
}

// Finds the '>' that closes a path opened at `text[0] == '<'`, skipping quoted strings in the
// local part (RFC 5321 4.1.2 Quoted-string may hold '>'). Returns npos when unterminated.
size_t FindPathEnd(std::string_view text) {
  bool quoted = false;
  for (size_t i = 1; i < text.size(); ++i) {
    char c = text[i];
    if (quoted) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        quoted = false;
      }
    } else if (c == '"') {
      quoted = true;
    } else if (c == '>') {
      return i;
    }
  }
  return std::string_view::npos;
}

}  // namespace

SmtpCommand ParseSmtpCommand(std::string_view line) {
  SmtpCommand command;
  size_t space = line.find(' ');
  std::string_view verb = line.substr(0, space);
  for (const VerbName& v : kVerbs) {
    if (EqualsIgnoreCase(verb, v.name)) {
      command.verb = v.verb;
      break;
    }
  }
  if (space != std::string_view::npos) command.argument = line.substr(space + 1);
  return command;
}

Result<MailPath> ParseMailPath(std::string_view argument, std::string_view prefix,
                               bool allow_null) {
  if (!StartsWithIgnoreCase(argument, prefix)) {
    return Status::Error(std::string("Syntax: expected ") + std::string(prefix) + "<address>");
  }
  std::string_view rest = argument.substr(prefix.size());
  // Many clients write "MAIL FROM: <a@b>"; RFC 5321 forbids the space, but every MTA accepts it.
  while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
  if (rest.empty() || rest.front() != '<') {
    return Status::Error("Syntax: address must be in angle brackets");
  }
  size_t end = FindPathEnd(rest);
  if (end == std::string_view::npos) return Status::Error("Syntax: missing '>'");
  std::string_view path = rest.substr(1, end - 1);
  rest.remove_prefix(end + 1);

  // RFC 5321 4.1.2 / C.1: a source route "@a,@b:" is accepted and ignored.
  if (!path.empty() && path.front() == '@') {
    size_t colon = path.find(':');
    if (colon == std::string_view::npos) return Status::Error("Syntax: bad source route");
    path.remove_prefix(colon + 1);
  }

  MailPath result;
  if (path.empty()) {
    if (!allow_null) return Status::Error("Syntax: empty address");
  } else {
    if (path.size() > kMaxPathLength) return Status::Error("Address too long");
    if (!IsValidMailbox(path)) return Status::Error("Syntax: invalid address");
    result.address = path;
  }

  while (!rest.empty()) {
    if (rest.front() != ' ') return Status::Error("Syntax: parameters must follow a space");
    while (!rest.empty() && rest.front() == ' ') rest.remove_prefix(1);
    if (rest.empty()) break;
    size_t space = rest.find(' ');
    std::string_view param = rest.substr(0, space);
    rest = space == std::string_view::npos ? std::string_view() : rest.substr(space);
    size_t eq = param.find('=');
    std::string_view keyword = param.substr(0, eq);
    if (!IsKeyword(keyword)) return Status::Error("Syntax: bad parameter keyword");
    if (result.parameter_count == kMaxEsmtpParameters) {
      return Status::Error("Syntax: too many parameters");
    }
    EsmtpParameter& p = result.parameter_storage[result.parameter_count++];
    for (char c : keyword) p.keyword.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    if (eq != std::string_view::npos) {
      std::string_view value = param.substr(eq + 1);
      if (!IsValue(value)) return Status::Error("Syntax: bad parameter value");
      p.value = value;
    }
  }
  return result;
}

Result<BdatChunk> ParseBdatArgument(std::string_view argument) {
  BdatChunk chunk;
  const size_t digits = argument.find(' ');
  const std::string_view size = argument.substr(0, digits);
  auto [end, error] = std::from_chars(size.data(), size.data() + size.size(), chunk.size);
  if (size.empty() || error != std::errc() || end != size.data() + size.size()) {
    return Status::Error("Syntax: BDAT chunk-size [LAST]");
  }
  if (digits == std::string_view::npos) return chunk;
  const std::string_view marker = argument.substr(digits + 1);
  if (marker.size() != 4 || !EqualsIgnoreCase(marker, "LAST")) {
    return Status::Error("Syntax: BDAT chunk-size [LAST]");
  }
  chunk.last = true;
  return chunk;
}

}  // namespace postdesk
