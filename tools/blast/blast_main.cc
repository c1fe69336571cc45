// postdesk-blast: an SMTP load generator on libuv (see --help, and HelpText in blast_options.cc).
//
// main parses the options, resolves the server, raises RLIMIT_NOFILE, builds the shared
// read-only pieces (the TLS context, the message source), runs one BlastRunner per --threads
// loop (the first on the main thread; each watches SIGINT and SIGTERM), merges their counts and
// prints the report. Exit status: 0 a clean run, 1 failures or a fatal error, 2 usage.
#include <netdb.h>
#include <sys/resource.h>
#include <uv.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "gateway/tls_stream.h"
#include "tools/blast/blast_options.h"
#include "tools/blast/blast_report.h"
#include "tools/blast/blast_runner.h"
#include "tools/blast/message_source.h"

namespace postdesk::blast {
namespace {

// File descriptors besides the connections: stdio, the loops' own (epoll, the signal pipe, the
// async eventfds), a corpus file being read.
constexpr rlim_t kSpareDescriptors = 64;

bool Resolve(const BlastOptions& options, sockaddr_storage* address, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* result = nullptr;
  std::string port = std::to_string(options.port);
  int rc = getaddrinfo(options.host.c_str(), port.c_str(), &hints, &result);
  if (rc != 0) {
    *error = "--server " + options.host + ": " + gai_strerror(rc);
    return false;
  }
  bool found = false;
  for (addrinfo* ai = result; ai && !found; ai = ai->ai_next) {
    if ((ai->ai_family == AF_INET || ai->ai_family == AF_INET6) &&
        ai->ai_addrlen <= sizeof(sockaddr_storage)) {
      std::memcpy(address, ai->ai_addr, ai->ai_addrlen);
      found = true;
    }
  }
  freeaddrinfo(result);
  if (!found) *error = "--server " + options.host + ": no IPv4 or IPv6 address";
  return found;
}

// Every connection is a descriptor: 10,000 idle connections need more than the usual 1,024.
void RaiseDescriptorLimit(size_t connections) {
  rlim_t needed = static_cast<rlim_t>(connections) + kSpareDescriptors;
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur >= needed) return;
  rlimit wanted = limit;
  wanted.rlim_cur = needed;
  if (wanted.rlim_max < needed) wanted.rlim_max = needed;  // only root may raise the hard limit
  if (setrlimit(RLIMIT_NOFILE, &wanted) == 0) return;
  wanted = limit;
  wanted.rlim_cur = limit.rlim_max;
  setrlimit(RLIMIT_NOFILE, &wanted);
  std::fprintf(stderr,
               "postdesk-blast: warning: RLIMIT_NOFILE is %llu, %zu connections need %llu; "
               "some will fail (raise the hard limit: ulimit -Hn)\n",
               static_cast<unsigned long long>(limit.rlim_max), connections,
               static_cast<unsigned long long>(needed));
}

void Describe(const BlastOptions& options, const MessageSource* source, RunDescription* run) {
  std::string server =
      options.host.find(':') != std::string::npos ? "[" + options.host + "]" : options.host;
  run->server = server + ":" + std::to_string(options.port);
  run->connections = options.idle > 0 ? options.idle : options.connections;
  run->threads = options.threads;
  run->messages_per_connection = options.messages_per_connection;
  run->pipelining = options.pipelining;
  run->chunking = options.chunking;
  run->starttls = options.starttls;
  if (options.idle > 0) {
    run->mode = "idle";
  } else if (options.rate > 0) {
    char text[64];
    std::snprintf(text, sizeof(text), "open loop at %g msg/s", options.rate);
    run->mode = text;
  } else {
    run->mode = "closed loop";
  }
  if (source && source->is_corpus()) {
    run->messages = "corpus of " + std::to_string(source->files()) + " files";
  } else if (source) {
    run->messages = std::to_string(source->body_bytes()) + "-byte bodies";
  }
}

int Main(int argc, char** argv) {
  BlastOptions options;
  std::string error;
  switch (ParseOptions(argc, argv, &options, &error)) {
    case ParseOutcome::kHelp:
      std::fputs(HelpText().c_str(), stdout);
      return 0;
    case ParseOutcome::kError:
      std::fprintf(stderr, "postdesk-blast: %s\n", error.c_str());
      return 2;
    case ParseOutcome::kRun:
      break;
  }
  // A write to a connection the server has closed must be an error, not the end of us.
  std::signal(SIGPIPE, SIG_IGN);

  sockaddr_storage address{};
  if (!Resolve(options, &address, &error)) {
    std::fprintf(stderr, "postdesk-blast: %s\n", error.c_str());
    return 1;
  }
  RaiseDescriptorLimit(options.idle > 0 ? options.idle : options.connections);

  std::shared_ptr<const TlsContext> tls;
  if (options.starttls) {
    Result<std::shared_ptr<const TlsContext>> client =
        TlsContext::Client(options.tls_ca, options.tls_verify);
    if (!client.ok()) {
      std::fprintf(stderr, "postdesk-blast: %s\n", client.status().message().c_str());
      return 1;
    }
    tls = client.value();
  }
  std::unique_ptr<MessageSource> source;
  if (options.idle == 0) {
    source = options.corpus.empty() ? MessageSource::Generated(options.size, NewRunId())
                                    : MessageSource::LoadCorpus(options.corpus, NewRunId(), &error);
    if (!source) {
      std::fprintf(stderr, "postdesk-blast: %s\n", error.c_str());
      return 1;
    }
  }

  SharedRun shared;
  shared.limited = options.idle == 0 && options.count > 0;
  shared.budget = static_cast<int64_t>(options.count);
  size_t threads = options.threads;
  size_t total = options.idle > 0 ? options.idle : options.connections;
  std::vector<std::unique_ptr<BlastRunner>> runners;
  auto stop_all = [&runners](bool force) {
    for (auto& runner : runners) runner->RequestStop(force);
  };
  for (size_t i = 0; i < threads; ++i) {
    RunnerPlan plan;
    plan.options = &options;
    plan.source = source.get();
    plan.tls = tls;
    plan.tls_name = options.tls_name.empty() ? options.host : options.tls_name;
    plan.address = address;
    plan.connections = total / threads + (i < total % threads ? 1 : 0);
    plan.rate = options.rate / static_cast<double>(threads);
    plan.idle = options.idle > 0;
    plan.shared = &shared;
    plan.handle_signals = true;
    plan.stop_all = stop_all;
    runners.push_back(std::make_unique<BlastRunner>(std::move(plan)));
  }
  std::vector<std::thread> workers;
  for (size_t i = 1; i < threads; ++i) {
    workers.emplace_back([runner = runners[i].get()] { runner->Run(); });
  }
  runners[0]->Run();
  for (std::thread& worker : workers) worker.join();

  BlastStats stats;
  RunDescription run;
  uint64_t stop_ns = 0;
  for (const auto& runner : runners) {
    stats.Merge(runner->stats());
    stop_ns = std::max(stop_ns, runner->stop_ns());
    if (run.fatal.empty()) run.fatal = runner->fatal();
  }
  Describe(options, source.get(), &run);
  double elapsed = ElapsedSeconds(stats, stop_ns);
  std::fputs(FormatText(stats, run, elapsed).c_str(), stdout);
  if (options.json) std::printf("%s\n", FormatJson(stats, run, elapsed).c_str());
  std::fflush(stdout);

  if (!run.fatal.empty() || stats.ErrorCount() > 0) return 1;
  if (options.idle > 0) return stats.idle_open_peak == options.idle ? 0 : 1;
  return stats.sent > 0 && stats.accepted == stats.sent ? 0 : 1;
}

}  // namespace
}  // namespace postdesk::blast

int main(int argc, char** argv) { return postdesk::blast::Main(argc, argv); }
