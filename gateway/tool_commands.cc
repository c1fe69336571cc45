// The operator's subcommands: parse, tickets, check-config.
#include <charconv>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "gateway/address_table.h"
#include "gateway/commands.h"
#include "gateway/config.h"
#include "parser/message_json.h"
#include "parser/message_parser.h"
#include "storage/embedded_redis.h"
#include "storage/ticket_reader.h"

namespace postdesk {
namespace {

// Larger files are not mail we would accept over SMTP either ([limits] max_message_size).
constexpr size_t kMaxParseFileBytes = 256 * 1024 * 1024;

void PrintJson(const nlohmann::json& json) {
  std::string text = json.dump(2, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(text.data(), 1, text.size(), stdout);
  std::fputc('\n', stdout);
}

int Fail(const std::string& message) {
  std::fprintf(stderr, "postdesk: %s\n", message.c_str());
  return 1;
}

}  // namespace

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

int ParseCommand(const Args& args) {
  static constexpr char kHelp[] =
      "usage: postdesk parse FILE.eml\n"
      "\n"
      "Prints what the parser makes of a message, as JSON: subject, from_email, from_name,\n"
      "description, truncated, attachments [{filename, content_type, size, content_id}], and\n"
      "the headers that classification and threading use.\n";
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  if (args.size() != 1) {
    std::fprintf(stderr, "%s", kHelp);
    return 2;
  }
  std::string path(args[0]);
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(path + ": cannot open");
  in.seekg(0, std::ios::end);
  std::streamoff size = in.tellg();
  if (size < 0 || static_cast<size_t>(size) > kMaxParseFileBytes) {
    return Fail(path + ": larger than 256 MiB");
  }
  in.seekg(0);
  std::string raw(static_cast<size_t>(size), '\0');
  in.read(raw.data(), size);
  PrintJson(MessageToJson(ParseMessage(raw)));
  return 0;
}

int TicketsCommand(const Args& args) {
  static constexpr char kHelp[] =
      "usage: postdesk tickets get ID --config FILE\n"
      "\n"
      "Prints a stored ticket as JSON: id, subject, description, requester {email, name},\n"
      "received_at, brand, status, priority, tags, comments, created_at. With the embedded\n"
      "Redis it reads from the running gateway's server, or starts one on data_dir for the\n"
      "time of the read when the gateway is stopped.\n";
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  int64_t id = 0;
  bool have_id = args.size() >= 2 && args[0] == "get" &&
                 std::from_chars(args[1].data(), args[1].data() + args[1].size(), id).ec ==
                     std::errc() &&
                 id > 0;
  if (!config_path || !have_id) {
    std::fprintf(stderr, "%s", kHelp);
    return 2;
  }
  Result<Config> config = LoadConfigFile(*config_path);
  if (!config.ok()) return Fail(config.status().message());

  std::unique_ptr<EmbeddedRedis> embedded;
  RedisAddress address;
  if (config->redis_url.empty()) {
    address.unix_path = EmbeddedRedis::SocketPath(config->data_dir);
    if (!RedisAnswers(address, std::chrono::milliseconds(500))) {
      Result<std::unique_ptr<EmbeddedRedis>> started = EmbeddedRedis::Start(config->data_dir);
      if (!started.ok()) return Fail(started.status().message());
      embedded = std::move(started).value();
      address = embedded->address();
    }
  } else {
    Result<RedisAddress> parsed = ParseRedisUrl(config->redis_url);
    if (!parsed.ok()) return Fail(parsed.status().message());
    address = parsed.value();
  }
  Result<std::unique_ptr<TicketReader>> reader = TicketReader::Connect(address);
  if (!reader.ok()) return Fail(reader.status().message());
  Result<nlohmann::json> ticket = reader.value()->GetTicket(id);
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
  if (!config->redis_url.empty()) {
    Result<RedisAddress> parsed = ParseRedisUrl(config->redis_url);
    if (!parsed.ok()) return Fail(*config_path + ": [redis] " + parsed.status().message());
  }
  AddressTable table(config->brands);
  std::printf("%s: ok: %zu brands, %zu addresses and wildcards; redis %s\n", config_path->c_str(),
              config->brands.size(), table.size(),
              config->redis_url.empty() ? "embedded" : config->redis_url.c_str());
  return 0;
}

}  // namespace postdesk
