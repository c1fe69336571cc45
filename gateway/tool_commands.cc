// The operator's subcommands: parse, tickets, check-config.
#include <cerrno>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <nlohmann/json.hpp>

#include "gateway/address_table.h"
#include "gateway/commands.h"
#include "gateway/config.h"
#include "gateway/tool_redis.h"
#include "storage/embedded_redis.h"
#include "storage/suspended_messages.h"
#include "storage/ticket_reader.h"

namespace postdesk {
namespace {

// A ticket or message id as the operator typed it: a positive decimal number.
std::optional<int64_t> PositiveId(std::string_view text) {
  int64_t id = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), id);
  if (ec != std::errc() || ptr != text.data() + text.size() || id <= 0) return std::nullopt;
  return id;
}

}  // namespace

void PrintJson(const nlohmann::json& json) {
  std::string text = json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "postdesk: %s\n", message.c_str());
  return 1;
}

std::optional<std::string> OptionValue(const Args& args, std::string_view name) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == name && i + 1 < args.size()) return std::string(args[i + 1]);
    if (args[i].size() > name.size() && args[i].substr(0, name.size()) == name &&
        args[i][name.size()] == '=') {
      return std::string(args[i].substr(name.size() + 1));
    }
  }
  return std::nullopt;
}

bool WantsHelp(const Args& args) {
  for (std::string_view a : args) {
    if (a == "--help" || a == "-h") return true;
  }
  return false;
}

int TicketsCommand(const Args& args) {
  static constexpr char kHelp[] =
      "usage: postdesk tickets get ID --config FILE\n"
      "       postdesk tickets raw ID --config FILE\n"
      "\n"
      "get: prints a stored ticket as JSON: id, subject, description, requester {email, name},\n"
      "received_at, brand, status, priority, tags, comments, created_at.\n"
      "raw: writes the ticket's message as stored, byte for byte: our Received: header, then\n"
      "the message as the sender sent it (postdesk parse /dev/stdin reads it again).\n"
      "With the embedded Redis either reads from the running gateway's server, or starts one\n"
      "on data_dir for the time of the read when the gateway is stopped.\n";
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  std::optional<int64_t> id;
  const bool raw = !args.empty() && args[0] == "raw";
  if (args.size() >= 2 && (args[0] == "get" || raw)) id = PositiveId(args[1]);
  if (!config_path || !id) {
    std::fprintf(stderr, "%s", kHelp);
    return 2;
  }
  Result<Config> config = LoadConfigFile(*config_path, ConfigParts::kWithoutTriggers);
  if (!config.ok()) return Fail(config.status().message());

  Result<AdminRedis> redis = OpenRedis(config.value());
  if (!redis.ok()) return Fail(redis.status().message());
  TicketReader reader(redis->connection.get());
  if (raw) {
    Result<std::string> message = reader.GetRawMessage(*id);
    if (!message.ok()) return Fail(message.status().message());
    if (std::fwrite(message->data(), 1, message->size(), stdout) != message->size() ||
        std::fflush(stdout) != 0) {
      return Fail("cannot write the message: " + std::string(std::strerror(errno)));
    }
    return 0;
  }
  Result<nlohmann::json> ticket = reader.GetTicket(*id);
  if (!ticket.ok()) return Fail(ticket.status().message());
  PrintJson(ticket.value());
  return 0;
}

int CheckConfigCommand(const Args& args) {
  static constexpr char kHelp[] =
      "usage: postdesk check-config --config FILE\n"
      "\n"
      "Validates FILE as 'serve' would and prints a summary; exit 1 with the reason if not.\n";
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  if (!config_path) {
    std::fprintf(stderr, "%s", kHelp);
    return 2;
  }
  Result<Config> config = LoadConfigFile(*config_path);
  if (!config.ok()) return Fail(config.status().message());
  std::string redis = "embedded";
  if (!config->redis_url.empty()) {
    Result<RedisAddress> parsed = ExternalRedisAddress(config.value());
    if (!parsed.ok()) return Fail(*config_path + ": " + parsed.status().message());
    redis = parsed->ToString();  // without the password
  }
  AddressTable table(config->brands);
  size_t triggers = config->triggers.set ? config->triggers.set->triggers().size() : 0;
  size_t inactive = config->triggers.set ? config->triggers.set->inactive_count() : 0;
  std::printf(
      "%s: ok: %zu brands, %zu addresses and wildcards; %zu active triggers (%zu "
      "inactive); redis %s\n",
      config_path->c_str(), config->brands.size(), table.size(), triggers, inactive, redis.c_str());
  return 0;
}

}  // namespace postdesk

namespace postdesk {

int SuspendedCommand(const Args& args) {
  static constexpr char kHelp[] =
      "usage: postdesk suspended list [--limit N] --config FILE\n"
      "       postdesk suspended show ID --config FILE\n"
      "       postdesk suspended recover ID --config FILE\n"
      "       postdesk suspended delete ID --config FILE\n"
      "\n"
      "Suspended messages (loops, auto-replies, bounces, system senders...) are kept with their\n"
      "cause and raw message for [classification] suspended_retention. 'list' prints the newest\n"
      "first, 'show' one with its raw message, 'recover' turns one into a ticket as if it had\n"
      "been clean, 'delete' removes it. Output is JSON.\n";
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  std::string_view verb = args.empty() ? "" : args[0];
  bool needs_id = verb == "show" || verb == "recover" || verb == "delete";
  std::optional<int64_t> parsed_id = args.size() >= 2 ? PositiveId(args[1]) : std::nullopt;
  if (!config_path || (verb != "list" && !needs_id) || (needs_id && !parsed_id)) {
    std::fprintf(stderr, "%s", kHelp);
    return 2;
  }
  Result<Config> config = LoadConfigFile(*config_path, ConfigParts::kWithoutTriggers);
  if (!config.ok()) return Fail(config.status().message());
  Result<AdminRedis> redis = OpenRedis(config.value());
  if (!redis.ok()) return Fail(redis.status().message());
  SuspendedMessages suspended(redis->connection.get());
  int64_t id = parsed_id.value_or(0);

  if (verb == "list") {
    size_t limit = 100;
    if (std::optional<std::string> l = OptionValue(args, "--limit")) {
      if (std::from_chars(l->data(), l->data() + l->size(), limit).ec != std::errc() || limit == 0) {
        return Fail("--limit: expected a positive number");
      }
    }
    Result<nlohmann::json> list = suspended.List(limit);
    if (!list.ok()) return Fail(list.status().message());
    PrintJson(list.value());
  } else if (verb == "show") {
    Result<nlohmann::json> entry = suspended.Show(id);
    if (!entry.ok()) return Fail(entry.status().message());
    PrintJson(entry.value());
  } else if (verb == "recover") {
    StoragePolicy policy;
    policy.suspended_retention_ms = config->classification.suspended_retention.count();
    Result<IngestOutcome> outcome = suspended.Recover(id, policy);
    if (!outcome.ok()) return Fail(outcome.status().message());
    PrintJson({{"recovered", id}, {"ticket", outcome->id}});
  } else {
    Status deleted = suspended.Delete(id);
    if (!deleted.ok()) return Fail(deleted.message());
    PrintJson({{"deleted", id}});
  }
  return 0;
}

}  // namespace postdesk
