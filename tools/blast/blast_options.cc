#include "tools/blast/blast_options.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <string_view>

namespace postdesk::blast {
namespace {

constexpr uint64_t kDefaultCount = 1000;
constexpr size_t kMaxConnections = 1000000;
constexpr size_t kMaxThreads = 64;

bool ParseUnsigned(std::string_view text, uint64_t* value) {
  if (text.empty() || text.size() > 19) return false;
  uint64_t v = 0;
  for (char c : text) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *value = v;
  return true;
}

bool ParsePositiveDouble(const std::string& text, double* value) {
  if (text.empty()) return false;
  errno = 0;
  char* end = nullptr;
  double v = std::strtod(text.c_str(), &end);
  if (errno != 0 || end != text.c_str() + text.size() || !std::isfinite(v) || v <= 0) {
    return false;
  }
  *value = v;
  return true;
}

// An envelope address goes between < and > on a command line: <, >, spaces and control
// characters (CR and LF above all) would end it early or inject a command.
bool ValidAddress(std::string_view address) {
  if (address.empty()) return false;
  for (char c : address) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f || c == '<' || c == '>') return false;
  }
  return true;
}

// "host:port", "[v6]:port", or a bare host (port 2525).
bool ParseServer(std::string_view text, BlastOptions* options) {
  std::string_view host = text;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return false;
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
    }
  } else {
    size_t colon = text.rfind(':');
    if (colon != std::string_view::npos) {
      if (text.find(':') != colon) return false;  // a bare IPv6 address needs brackets
      host = text.substr(0, colon);
      port = text.substr(colon + 1);
    }
  }
  if (host.empty()) return false;
  options->host = std::string(host);
  if (!port.empty() || text.back() == ':') {
    uint64_t value = 0;
    if (!ParseUnsigned(port, &value) || value == 0 || value > 65535) return false;
    options->port = static_cast<uint16_t>(value);
  }
  return true;
}

}  // namespace

ParseOutcome ParseOptions(int argc, char** argv, BlastOptions* options, std::string* error) {
  bool count_set = false;
  bool duration_set = false;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    std::string value;
    bool has_inline_value = false;
    if (arg.rfind("--", 0) == 0) {
      size_t eq = arg.find('=');
      if (eq != std::string::npos) {
        value = arg.substr(eq + 1);
        arg = arg.substr(0, eq);
        has_inline_value = true;
      }
    }
    // Takes the option's value from "--opt=value" or the next argument.
    auto take = [&](std::string* out) {
      if (has_inline_value) {
        *out = value;
        return true;
      }
      if (i + 1 >= argc) {
        *error = arg + ": missing value";
        return false;
      }
      *out = argv[++i];
      return true;
    };
    auto take_unsigned = [&](uint64_t* out, uint64_t min) {
      std::string text;
      if (!take(&text)) return false;
      if (!ParseUnsigned(text, out) || *out < min) {
        *error = arg + ": \"" + text + "\" is not " + (min > 0 ? "a positive" : "an") + " integer";
        return false;
      }
      return true;
    };
    auto take_seconds = [&](double* out) {
      std::string text;
      if (!take(&text)) return false;
      if (!ParsePositiveDouble(text, out)) {
        *error = arg + ": \"" + text + "\" is not a positive number";
        return false;
      }
      return true;
    };
    auto take_address = [&](std::string* out) {
      if (!take(out)) return false;
      if (!ValidAddress(*out)) {
        *error = arg + ": \"" + *out + "\" is not a usable address (no spaces, <, > or controls)";
        return false;
      }
      return true;
    };
    uint64_t number = 0;
    std::string text;
    bool flag = !has_inline_value;  // "--json=1" is refused below as an unknown form
    if (arg == "-h" || arg == "--help") return ParseOutcome::kHelp;
    if (arg == "--server") {
      if (!take(&text)) return ParseOutcome::kError;
      if (!ParseServer(text, options)) {
        *error = "--server: \"" + text + "\" is not HOST:PORT ([IPv6]:PORT for an address)";
        return ParseOutcome::kError;
      }
    } else if (arg == "-c" || arg == "--connections") {
      if (!take_unsigned(&number, 1)) return ParseOutcome::kError;
      options->connections = static_cast<size_t>(number);
    } else if (arg == "-n" || arg == "--count") {
      if (!take_unsigned(&options->count, 1)) return ParseOutcome::kError;
      count_set = true;
    } else if (arg == "-d" || arg == "--duration") {
      if (!take_seconds(&options->duration_s)) return ParseOutcome::kError;
      duration_set = true;
    } else if (arg == "--size") {
      if (!take_unsigned(&number, 0)) return ParseOutcome::kError;
      options->size = static_cast<size_t>(number);
      options->size_set = true;
    } else if (arg == "--corpus") {
      if (!take(&options->corpus)) return ParseOutcome::kError;
    } else if (arg == "--from") {
      if (!take_address(&options->from)) return ParseOutcome::kError;
    } else if (arg == "--to") {
      if (!take_address(&options->to)) return ParseOutcome::kError;
    } else if (arg == "--helo") {
      if (!take_address(&options->helo)) return ParseOutcome::kError;
    } else if (arg == "--messages-per-connection") {
      if (!take_unsigned(&options->messages_per_connection, 0)) return ParseOutcome::kError;
    } else if (arg == "--rate") {
      if (!take_seconds(&options->rate)) return ParseOutcome::kError;
    } else if (arg == "--idle") {
      if (!take_unsigned(&number, 1)) return ParseOutcome::kError;
      options->idle = static_cast<size_t>(number);
    } else if (arg == "--timeout") {
      if (!take_seconds(&options->timeout_s)) return ParseOutcome::kError;
    } else if (arg == "--threads") {
      if (!take_unsigned(&number, 1)) return ParseOutcome::kError;
      options->threads = static_cast<size_t>(number);
    } else if (arg == "--tls-ca") {
      if (!take(&options->tls_ca)) return ParseOutcome::kError;
      options->tls_verify = true;
    } else if (arg == "--tls-name") {
      if (!take(&options->tls_name)) return ParseOutcome::kError;
    } else if (flag && arg == "--unique-senders") {
      options->unique_senders = true;
    } else if (flag && arg == "--pipelining") {
      options->pipelining = true;
    } else if (flag && arg == "--chunking") {
      options->chunking = true;
    } else if (flag && arg == "--starttls") {
      options->starttls = true;
    } else if (flag && arg == "--tls-verify") {
      options->tls_verify = true;
    } else if (flag && arg == "--json") {
      options->json = true;
    } else {
      *error = "unknown option \"" + std::string(argv[i]) + "\" (see --help)";
      return ParseOutcome::kError;
    }
  }

  auto refuse = [&](std::string why) {
    *error = std::move(why);
    return ParseOutcome::kError;
  };
  if (options->connections > kMaxConnections) return refuse("--connections: at most 1000000");
  if (options->threads > kMaxThreads) return refuse("--threads: at most 64");
  if (options->tls_verify && !options->starttls) {
    return refuse("--tls-verify and --tls-ca need --starttls");
  }
  if (!options->corpus.empty() && options->size_set) {
    return refuse("--size and --corpus: one or the other");
  }
  if (options->idle > 0) {
    if (count_set || options->rate > 0 || !options->corpus.empty() || options->size_set) {
      return refuse("--idle sends no message: no --count, --rate, --size or --corpus with it");
    }
    if (options->idle > kMaxConnections) return refuse("--idle: at most 1000000");
    if (options->threads > 1) return refuse("--idle runs on one loop: no --threads with it");
    return ParseOutcome::kRun;
  }
  if (options->threads > options->connections) {
    return refuse("--threads: more threads than --connections");
  }
  if (!count_set && !duration_set) options->count = kDefaultCount;
  return ParseOutcome::kRun;
}

std::string HelpText() {
  return R"(Usage: postdesk-blast [OPTIONS]

Load generator for an SMTP server (Postdesk's gateway, or any other). N
connections send messages as fast as the server answers (closed loop) or at a
fixed rate (open loop); at the end it prints messages sent, accepted (2xx to
the final dot), refused (4xx, 5xx), errors, messages/s, and the latency from
the final dot to its reply (p50, p99, p99.9, max, in milliseconds).

Target and load:
  --server HOST:PORT        default 127.0.0.1:2525; [IPv6]:PORT for an address
                            (a name is resolved once; its first address is used)
  -c, --connections N       connections at once (default 20)
  -n, --count N             N messages in all (default 1000 without --duration)
  -d, --duration SECONDS    send for this long; with --count, whichever ends
                            first
  --rate MSGS_PER_SECOND    open loop: start messages at this fixed rate across
                            the connections; a message due while every
                            connection is busy waits (the report counts those
                            as late). Default: closed loop
  --messages-per-connection N
                            QUIT and reconnect after N messages (1: a new
                            connection per message, like smtp-source without
                            -d); 0 (default) keeps the connections
  --threads N               spread the connections over N event loops
                            (default 1)
  --timeout SECONDS         for the connect, each reply and the TLS handshake
                            (default 30)

Messages:
  --size BYTES              a generated body of BYTES bytes (default 2048),
                            plus about 300 bytes of headers; From, Subject,
                            Date and Message-ID are unique per message, so the
                            gateway's duplicate detection never fires
  --corpus DIR              send DIR's .eml files in turn instead: line ends
                            become CRLF, lines starting with '.' are
                            dot-stuffed, and each copy gets a unique
                            Message-ID (its other headers, From included, are
                            kept)
  --from ADDR               envelope sender and From (default bench@load.test)
  --unique-senders          a sender per message (bench+N@load.test), so the
                            gateway's per-sender rate guard does not trip
  --to ADDR                 recipient (default support@acme.test)
  --helo NAME               EHLO name (default blast.load.test)

Protocol:
  --pipelining              send MAIL, RCPT and DATA in one write when the
                            server offers PIPELINING (RFC 2920); lockstep
                            otherwise
  --chunking                send each message as one BDAT LAST chunk (RFC
                            3030) instead of DATA; a server without CHUNKING
                            is an error. With --pipelining, MAIL, RCPT and
                            the chunk go in one write
  --starttls                STARTTLS (RFC 3207) on every connection, then EHLO
                            again; a server without it is an error. The
                            certificate is not checked unless:
  --tls-verify              verify it against the system's CAs, and its name
  --tls-ca FILE             verify it against FILE's CAs (implies --tls-verify)
  --tls-name NAME           the name it must carry (default: the --server host)

Idle connections:
  --idle N                  open N connections, EHLO (and STARTTLS) each, and
                            keep them idle for --duration or until Ctrl-C,
                            reporting how many are open: the server's memory
                            per idle connection. Raises RLIMIT_NOFILE as far
                            as it needs and may.

Output:
  --json                    also print the summary as one JSON object (the last
                            line)
  -h, --help                this text

Ctrl-C (or SIGTERM) stops starting messages, lets those in flight finish, and
reports; a second Ctrl-C abandons them. A connection that fails or that the
server closes is opened again (after a pause when it could not be set up);
20 setups failing in a row end the run.

Exit status: 0 when every message sent was accepted and nothing failed (with
--idle: every connection opened), 1 otherwise or on a fatal error, 2 for a
usage error.
)";
}

}  // namespace postdesk::blast
