// `postdesk parse FILE.eml`: what the parser and the classifier make of a message, offline
// (design.md: "as JSON with the keys of shared/corpus/expected.json"). The parse is the
// gateway's own (parser/message_parser.h); the verdict is Classify's, under the envelope the
// corpus assumes (MAIL FROM the From address, RCPT one support address) and, with --config,
// that configuration's support addresses, hostname and token_secret. What only storage decides
// (duplicates, the rate guard, a suspended sender, a closed ticket) is not in it.
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gateway/address_table.h"
#include "gateway/bounded_file.h"
#include "gateway/commands.h"
#include "gateway/config.h"
#include "gateway/delivery.h"
#include "parser/classifier.h"
#include "parser/message_json.h"
#include "parser/message_parser.h"

namespace postdesk {
namespace {

// Larger files are not mail we would accept over SMTP either ([limits] max_message_size).
constexpr size_t kMaxParseFileBytes = 256 * 1024 * 1024;

constexpr char kHelp[] =
    "usage: postdesk parse FILE.eml [--config FILE] [--mail-from ADDRESS]\n"
    "\n"
    "Prints what the parser makes of a message, as JSON: subject, from_email, from_name,\n"
    "description, truncated, attachments [{filename, content_type, size, content_id}], the\n"
    "headers that classification and threading use, and what the gateway would do with it:\n"
    "verdict (ticket, comment, suspended), cause and reason (for suspended),\n"
    "auto_notifications_suppressed, thread_ticket (for comment). The envelope is MAIL FROM\n"
    "the From address (--mail-from ADDRESS instead; \"\" for a bounce's null sender). With\n"
    "--config, FILE's support addresses, hostname and token_secret decide loops and threading;\n"
    "without, no address is ours and no token verifies. Duplicates, the rate guard, suspended\n"
    "senders and closed tickets are decided in Redis and are not shown.\n";

}  // namespace

int ParseCommand(const Args& args) {
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  std::optional<std::string> mail_from = OptionValue(args, "--mail-from");
  // The one argument that is no option nor an option's value.
  std::vector<std::string_view> files;
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--config" || args[i] == "--mail-from") {
      ++i;
    } else if (args[i].substr(0, 2) != "--") {
      files.push_back(args[i]);
    }
  }
  if (files.size() != 1) {
    std::fprintf(stderr, "%s", kHelp);
    return 2;
  }
  Config config;  // without --config: no brands, no hostname, no token secret
  if (config_path) {
    Result<Config> loaded = LoadConfigFile(*config_path, ConfigParts::kWithoutTriggers);
    if (!loaded.ok()) return Fail(loaded.status().message());
    config = std::move(loaded).value();
  }
  std::string path(files[0]);
  Result<std::string> raw = ReadFileAtMost(path, kMaxParseFileBytes);
  if (!raw.ok()) return Fail(path + ": " + raw.status().message());
  ParsedMessage parsed = ParseMessage(raw.value());

  const AddressTable addresses(config.brands);
  const TicketTokens tokens(config.classification.token_secret);
  const ClassifierContext context = DeploymentClassifierContext(addresses, config.hostname, tokens);
  std::vector<std::string_view> recipients;
  if (!config.brands.empty() && !config.brands[0].addresses.empty()) {
    recipients.push_back(config.brands[0].addresses[0]);
  }
  Classification verdict =
      Classify(parsed, mail_from.value_or(parsed.from_email), recipients, context);

  nlohmann::json out = MessageToJson(parsed);
  if (verdict.cause != SuspensionCause::kNone) {
    out["verdict"] = "suspended";
    out["cause"] = SuspensionCauseName(verdict.cause);
    out["reason"] = verdict.reason;
  } else {
    out["verdict"] = verdict.thread_ticket ? "comment" : "ticket";
  }
  out["auto_notifications_suppressed"] = verdict.auto_notifications_suppressed;
  if (verdict.thread_ticket) out["thread_ticket"] = *verdict.thread_ticket;
  PrintJson(out);
  return 0;
}

}  // namespace postdesk
