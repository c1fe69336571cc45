// postdesk-blast's command line: the options, their defaults, their checks and the --help text.
//
// Pure: ParseOptions reads argv and nothing else (no file, no network: --server is checked for
// form here and resolved by main). Runs on the main thread before any loop exists. A bad
// option is refused with a message naming it; nothing throws.
#ifndef POSTDESK_TOOLS_BLAST_BLAST_OPTIONS_H_
#define POSTDESK_TOOLS_BLAST_BLAST_OPTIONS_H_

#include <cstddef>
#include <cstdint>
#include <string>

namespace postdesk::blast {

struct BlastOptions {
  std::string host = "127.0.0.1";  // without brackets, for an IPv6 literal too
  uint16_t port = 2525;
  size_t connections = 20;
  uint64_t count = 0;     // messages in all; 0: not set
  double duration_s = 0;  // 0: not set
  size_t size = 2048;     // generated body bytes
  bool size_set = false;  // --size was given (it conflicts with --corpus)
  std::string corpus;     // folder of .eml files; "" generates messages
  std::string from = "bench@load.test";
  bool unique_senders = false;
  std::string to = "support@acme.test";
  std::string helo = "blast.load.test";
  uint64_t messages_per_connection = 0;  // 0: keep the connection for the whole run
  bool pipelining = false;
  bool chunking = false;  // BDAT LAST (RFC 3030) instead of DATA
  bool starttls = false;
  bool tls_verify = false;
  std::string tls_ca;    // implies tls_verify
  std::string tls_name;  // the certificate's expected name; "" means `host`
  double rate = 0;       // messages/s, open loop; 0: closed loop
  size_t idle = 0;       // idle mode: this many connections, no message
  double timeout_s = 30;
  size_t threads = 1;
  bool json = false;
};

enum class ParseOutcome { kRun, kHelp, kError };

// Fills `options` from argv. kError sets `*error` ("--connections: not a positive integer");
// kHelp means --help was asked (print HelpText(), exit 0). When neither --count nor --duration
// nor --idle is given, the run sends 1,000 messages.
ParseOutcome ParseOptions(int argc, char** argv, BlastOptions* options, std::string* error);

std::string HelpText();

}  // namespace postdesk::blast

#endif  // POSTDESK_TOOLS_BLAST_BLAST_OPTIONS_H_
