// ingest_blocks: writes to stdout (optionally after the FUNCTION LOAD of the gateway's library)
// the ingest blocks (MULTI, SET, FCALL postdesk_ingest, EXEC)
// that the gateway's TicketStore sends Redis for `--count` generated messages, for
// tools/bench/redis_ingest_cost.py to pipeline into a Redis under callgrind.
//
// Each message is made as postdesk-blast makes it (tools/blast/message_source.h: a unique From,
// Message-ID and Subject, a body of `--size` bytes), gets a Received: header as a session's,
// and goes through the gateway's own steps: ParseMessage, ClassifyTransaction,
// BuildIngestRequest with the configuration of `--config`, then IngestCommands::Build. So the
// measured blocks are the gateway's, byte for byte, and follow any change of their format.
// Exit status 0, or 2 with a message for bad options or a configuration that does not load.
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "gateway/delivery.h"
#include "gateway/smtp_transaction.h"
#include "parser/message_parser.h"
#include "storage/ingest_request.h"
#include "storage/redis_functions.h"
#include "tools/blast/message_source.h"

namespace {

constexpr char kUsage[] =
    "usage: ingest_blocks --config FILE --to ADDRESS [--count N] [--first I] [--size BYTES]\n"
    "                     [--unique-senders yes] [--function-load yes]\n"
    "  writes the RESP of N ingest blocks (messages I to I+N-1, 2048-byte bodies by default)\n"
    "  from bench@load.test (bench+I@load.test with --unique-senders yes) to ADDRESS, one of\n"
    "  FILE's support addresses; with --function-load yes, the gateway's FUNCTION LOAD REPLACE\n"
    "  of its Functions library first\n";

struct Options {
  std::string config;
  std::string to;
  uint64_t count = 1000;
  uint64_t first = 0;
  size_t size = 2048;
  bool unique_senders = false;  // one sender, as smtp-source's
  bool function_load = false;
};

bool ParseOptions(int argc, char** argv, Options* options) {
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string_view name = argv[i];
    const char* value = argv[i + 1];
    if (name == "--config") {
      options->config = value;
    } else if (name == "--to") {
      options->to = value;
    } else if (name == "--count") {
      options->count = std::strtoull(value, nullptr, 10);
    } else if (name == "--first") {
      options->first = std::strtoull(value, nullptr, 10);
    } else if (name == "--size") {
      options->size = std::strtoull(value, nullptr, 10);
    } else if (name == "--unique-senders") {
      options->unique_senders = std::string_view(value) == "yes";
    } else if (name == "--function-load") {
      options->function_load = std::string_view(value) == "yes";
    } else {
      return false;
    }
  }
  return argc % 2 == 1 && !options->config.empty() && !options->to.empty();
}

}  // namespace

int main(int argc, char** argv) {
  using namespace postdesk;
  Options options;
  if (!ParseOptions(argc, argv, &options)) {
    std::fputs(kUsage, stderr);
    return 2;
  }
  Result<Config> config = LoadConfigFile(options.config);
  if (!config.ok()) {
    std::fprintf(stderr, "ingest_blocks: %s\n", config.status().message().c_str());
    return 2;
  }
  auto state = std::make_shared<const ServingState>(std::move(config).value());
  std::optional<AddressMatch> match = state->addresses.FindRecipient(options.to);
  if (!match) {
    std::fprintf(stderr, "ingest_blocks: %s is no support address of %s\n", options.to.c_str(),
                 options.config.c_str());
    return 2;
  }
  std::unique_ptr<blast::MessageSource> source =
      blast::MessageSource::Generated(options.size, blast::NewRunId());
  SmtpTransaction tx;
  tx.client_ip = "127.0.0.1";
  tx.helo = "load.test";
  tx.state = state;
  tx.recipients.push_back({options.to, *match});
  if (options.function_load) {
    std::string text;
    FunctionLoadCommand().AppendResp(&text);
    std::fwrite(text.data(), 1, text.size(), stdout);
  }
  IngestRequest request;
  IngestCommands block;
  for (uint64_t i = options.first; i < options.first + options.count; ++i) {
    tx.id = "b." + std::to_string(i);
    tx.mail_from = options.unique_senders ? blast::UniqueSender("bench@load.test", i)
                                          : std::string("bench@load.test");
    tx.message = "Received: from load.test ([127.0.0.1])\r\n\tby " + state->config.hostname +
                 " (Postdesk) with ESMTP id " + tx.id + "\r\n\tfor <" + options.to +
                 ">; Thu, 3 Dec 2026 18:00:00 +0000\r\n";
    tx.message += blast::ChunkOctets(source->Build(i, tx.mail_from, options.to).wire);
    ParsedMessage parsed = ParseMessage(tx.message);
    BuildIngestRequest(tx, &parsed, ClassifyTransaction(tx, parsed), &request);
    request.raw = tx.message;
    block.Build(request, NewStorageKey());
    for (const std::string& command : block.commands()) {
      std::fwrite(command.data(), 1, command.size(), stdout);
    }
  }
  return std::fflush(stdout) == 0 ? 0 : 1;
}
