// BlastStats: what one load loop counted (messages, refusals, errors, latencies, connections),
// and the end-of-run report made from the merged counts, as text and as one JSON object.
//
// Each BlastRunner owns one BlastStats and writes it from its loop thread only; the main thread
// reads and merges them after every loop has stopped (std::thread::join orders the accesses).
// Formatting is pure and cannot fail.
#ifndef POSTDESK_TOOLS_BLAST_BLAST_REPORT_H_
#define POSTDESK_TOOLS_BLAST_BLAST_REPORT_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "tools/blast/blast_client.h"
#include "tools/blast/latency_histogram.h"

namespace postdesk::blast {

// The first few errors and refusals are kept with the server's reply text, to be shown.
inline constexpr size_t kShownSamples = 5;

struct BlastStats {
  uint64_t sent = 0;         // transactions started (MAIL sent)
  uint64_t accepted = 0;     // 2xx to the final dot
  uint64_t refused_4xx = 0;  // a 4xx to MAIL, RCPT, DATA or the final dot
  uint64_t refused_5xx = 0;  // a 5xx to any of them
  uint64_t lost = 0;         // in flight when their connection failed (counted in `errors`)
  uint64_t abandoned = 0;    // in flight at a forced stop (second Ctrl-C)
  std::array<uint64_t, kErrorKinds> errors{};  // by ErrorKind
  uint64_t connections = 0;                    // set up (greeted, EHLO, TLS when asked)
  uint64_t server_closes = 0;                  // idle connections the server closed (no error)
  uint64_t late = 0;                           // --rate: messages that waited for a free connection
  uint64_t max_backlog = 0;                    // --rate: most messages waiting at once
  uint64_t unsent = 0;              // --rate: due, but still waiting when the run stopped
  uint64_t idle_open_peak = 0;      // --idle: most connections open at once
  uint64_t idle_open_at_end = 0;    // --idle: still open when the run stopped
  uint64_t first_start_ns = 0;      // uv_hrtime() of the run's start
  uint64_t last_done_ns = 0;        // uv_hrtime() of the last message's outcome
  std::string tls;                  // e.g. "TLSv1.3 TLS_AES_256_GCM_SHA384" (the first seen)
  bool pipelining_refused = false;  // --pipelining, but the server does not offer it
  LatencyHistogram latency;         // final dot to its reply, ns (accepted and refused at the dot)
  std::vector<std::string> first_errors;    // up to kShownSamples
  std::vector<std::string> first_refusals;  // up to kShownSamples

  uint64_t ErrorCount() const;
  // Adds `other` (another loop's counts) to these.
  void Merge(const BlastStats& other);
};

// What the report says about the run, besides the counts.
struct RunDescription {
  std::string server;      // "127.0.0.1:2525"
  std::string mode;        // "closed loop", "open loop at 500 msg/s", "idle"
  std::string messages;    // "2048-byte bodies", "corpus of 12 files"
  size_t connections = 0;  // asked for (--connections or --idle)
  size_t threads = 1;
  uint64_t messages_per_connection = 0;
  bool pipelining = false;
  bool chunking = false;
  bool starttls = false;
  std::string fatal;  // why the run ended early, if it did
};

// The seconds from the start to the last outcome (or `stop_ns` when nothing completed).
double ElapsedSeconds(const BlastStats& stats, uint64_t stop_ns);

// Human-readable lines, ending with a newline.
std::string FormatText(const BlastStats& stats, const RunDescription& run, double elapsed_s);
// One line of JSON (no trailing newline): every count, the latencies in ms, the samples.
std::string FormatJson(const BlastStats& stats, const RunDescription& run, double elapsed_s);

// Exposed for tests: `text` as a JSON string literal, quotes included.
std::string JsonString(const std::string& text);

}  // namespace postdesk::blast

#endif  // POSTDESK_TOOLS_BLAST_BLAST_REPORT_H_
