// The subcommands of the `postdesk` binary. Each takes its arguments after the subcommand name,
// prints its own --help, and returns the process exit status: 0 done, 1 failed (the reason on
// stderr), 2 usage error. They run on the main thread.
#ifndef POSTDESK_GATEWAY_COMMANDS_H_
#define POSTDESK_GATEWAY_COMMANDS_H_

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postdesk {

using Args = std::vector<std::string_view>;

int ServeCommand(const Args& args);
int ParseCommand(const Args& args);
int TicketsCommand(const Args& args);
int CheckConfigCommand(const Args& args);
int SuspendedCommand(const Args& args);
int WorkersCommand(const Args& args);
int TargetsCommand(const Args& args);
int SendersCommand(const Args& args);

// Shared option handling: "--config FILE" or "--config=FILE"; true if args hold -h/--help.
std::optional<std::string> OptionValue(const Args& args, std::string_view name);
bool WantsHelp(const Args& args);
// A tool's failure: "postdesk: MESSAGE" on stderr; returns 1, the exit status.
int Fail(const std::string& message);
// A tool's result on stdout, indented; invalid UTF-8 in it is replaced, not thrown on.
void PrintJson(const nlohmann::json& json);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_COMMANDS_H_
