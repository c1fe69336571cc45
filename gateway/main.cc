// postdesk: the SMTP ingestion gateway's one binary. Dispatches to a subcommand.
#include <malloc.h>
#include <signal.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstring>

#include "gateway/commands.h"
#include "gateway/log_format.h"

namespace {

constexpr char kUsage[] =
    "usage: postdesk COMMAND [OPTIONS]\n"
    "\n"
    "Postdesk turns mail to your support addresses into helpdesk tickets in Redis.\n"
    "\n"
    "commands:\n"
    "  serve --config FILE             run the SMTP gateway\n"
    "  parse FILE.eml [--config FILE]  what the parser and classifier make of a message, as JSON\n"
    "  tickets get ID --config FILE    print a stored ticket as JSON\n"
    "  tickets raw ID --config FILE    write a ticket's message as stored\n"
    "  check-config --config FILE      validate a configuration file\n"
    "  suspended list|show|recover|delete [ID] --config FILE\n"
    "                                  suspended messages (loops, auto-replies, bounces)\n"
    "  workers --config FILE           run trigger workers without the gateway\n"
    "  targets list|test|activate|deactivate [ID] --config FILE\n"
    "                                  email targets of notifications\n"
    "  senders list|suspend|unsuspend [BRAND ADDRESS] --config FILE\n"
    "                                  senders whose mail to a brand is suspended\n"
    "\n"
    "Run 'postdesk COMMAND --help' for a command's options.\n";

constexpr int kMmapThresholdBytes = 256 * 1024;

}  // namespace

int main(int argc, char** argv) {
  // A client that disconnects must cost an EPIPE, not the process.
  signal(SIGPIPE, SIG_IGN);
  // A large message's buffers come from mmap and go back to the system when it is stored. By
  // default glibc raises this threshold to the size of every mapped block freed, after which a
  // burst of 10 MB messages is served from the heap and its memory stays: measured, 288 MB
  // still resident after eight 10 MB senders stopped, 9 MB with the threshold fixed (README,
  // Performance). Fixing it also stops glibc raising the trim threshold with it.
  mallopt(M_MMAP_THRESHOLD, kMmapThresholdBytes);
  // Logs go to stderr: stdout is for the JSON that the tools print.
  spdlog::set_default_logger(spdlog::stderr_color_mt("postdesk"));
  postdesk::InstallLogFormat(postdesk::LogFormat::kText);  // [log] format may change it
  if (argc < 2 || std::strcmp(argv[1], "--help") == 0 || std::strcmp(argv[1], "-h") == 0 ||
      std::strcmp(argv[1], "help") == 0) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  postdesk::Args args(argv + 2, argv + argc);
  std::string_view command = argv[1];
  if (command == "serve") return postdesk::ServeCommand(args);
  if (command == "parse") return postdesk::ParseCommand(args);
  if (command == "tickets") return postdesk::TicketsCommand(args);
  if (command == "check-config") return postdesk::CheckConfigCommand(args);
  if (command == "suspended") return postdesk::SuspendedCommand(args);
  if (command == "workers") return postdesk::WorkersCommand(args);
  if (command == "targets") return postdesk::TargetsCommand(args);
  if (command == "senders") return postdesk::SendersCommand(args);
  std::fprintf(stderr, "postdesk: unknown command '%s'\n\n%s", argv[1], kUsage);
  return 2;
}
