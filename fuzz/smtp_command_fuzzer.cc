// smtp_command_fuzzer: the SMTP command line parsers (parser/smtp_command.h) over arbitrary
// lines. Checks the contract: the argument is a view into the line, a parsed path is within
// kMaxPathLength and holds no CR, LF or NUL, ESMTP keywords are upper case, and nothing echoes
// client bytes into an error message.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "parser/smtp_command.h"

namespace {

void CheckPath(const postdesk::Result<postdesk::MailPath>& result, std::string_view argument) {
  if (!result.ok()) {
    // Error messages go into 501 replies (header contract): short printable ASCII, and never
    // the client's bytes. Our messages are plain words and "<address>", so an argument holding
    // any other byte cannot appear in them unless it was echoed.
    const std::string& message = result.status().message();
    FUZZ_CHECK(!message.empty() && message.size() <= 128);
    for (char c : message) FUZZ_CHECK(c >= 0x20 && c < 0x7F);
    bool distinctive = false;
    for (char c : argument) {
      const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                         (c >= '0' && c <= '9') || c == ' ' || c == ':' || c == '<' || c == '>' ||
                         c == '\'' || c == '-' || c == '.';
      distinctive = distinctive || !plain;
    }
    if (distinctive && argument.size() >= 4) {
      FUZZ_CHECK(message.find(argument) == std::string::npos);
    }
    return;
  }
  const postdesk::MailPath& path = result.value();
  FUZZ_CHECK(path.address.size() <= postdesk::kMaxPathLength);
  for (char c : path.address) FUZZ_CHECK(c != '\r' && c != '\n' && c != '\0');
  // The address is a view into the argument, never a copy.
  if (!path.address.empty()) {
    FUZZ_CHECK(path.address.data() >= argument.data());
    FUZZ_CHECK(path.address.data() + path.address.size() <= argument.data() + argument.size());
  }
  FUZZ_CHECK(path.parameter_count <= postdesk::kMaxEsmtpParameters);
  for (const auto& parameter : path.parameters()) {
    FUZZ_CHECK(!parameter.keyword.empty());
    for (char c : parameter.keyword) FUZZ_CHECK(!(c >= 'a' && c <= 'z'));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const postdesk::SmtpCommand command = postdesk::ParseSmtpCommand(line);
  // The argument is a view into the line (smtp_command.h), never a copy or a dangling view.
  if (!command.argument.empty()) {
    FUZZ_CHECK(command.argument.data() >= line.data());
    FUZZ_CHECK(command.argument.data() + command.argument.size() <= line.data() + line.size());
  }
  CheckPath(postdesk::ParseMailPath(command.argument, "FROM:", true), command.argument);
  CheckPath(postdesk::ParseMailPath(command.argument, "TO:", false), command.argument);
  CheckPath(postdesk::ParseMailPath(line, "FROM:", true), line);
  return 0;
}
