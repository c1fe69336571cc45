#include "tools/blast/blast_report.h"

#include <algorithm>
#include <cstdio>

namespace postdesk::blast {
namespace {

std::string Fixed(double value, int decimals) {
  char text[64];
  std::snprintf(text, sizeof(text), "%.*f", decimals, value);
  return text;
}

double Millis(uint64_t nanos) { return static_cast<double>(nanos) / 1e6; }

void AppendSamples(std::vector<std::string>* into, const std::vector<std::string>& from) {
  for (const std::string& sample : from) {
    if (into->size() >= kShownSamples) return;
    into->push_back(sample);
  }
}

std::string JsonList(const std::vector<std::string>& items) {
  std::string out = "[";
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) out += ",";
    out += JsonString(items[i]);
  }
  return out + "]";
}

double PerSecond(uint64_t count, double elapsed_s) {
  return elapsed_s > 0 ? static_cast<double>(count) / elapsed_s : 0.0;
}

}  // namespace

uint64_t BlastStats::ErrorCount() const {
  uint64_t total = 0;
  for (uint64_t n : errors) total += n;
  return total;
}

void BlastStats::Merge(const BlastStats& other) {
  sent += other.sent;
  accepted += other.accepted;
  refused_4xx += other.refused_4xx;
  refused_5xx += other.refused_5xx;
  lost += other.lost;
  abandoned += other.abandoned;
  for (size_t i = 0; i < errors.size(); ++i) errors[i] += other.errors[i];
  connections += other.connections;
  server_closes += other.server_closes;
  late += other.late;
  max_backlog = std::max(max_backlog, other.max_backlog);
  unsent += other.unsent;
  idle_open_peak += other.idle_open_peak;
  idle_open_at_end += other.idle_open_at_end;
  if (other.first_start_ns != 0 && (first_start_ns == 0 || other.first_start_ns < first_start_ns)) {
    first_start_ns = other.first_start_ns;
  }
  last_done_ns = std::max(last_done_ns, other.last_done_ns);
  if (tls.empty()) tls = other.tls;
  pipelining_refused = pipelining_refused || other.pipelining_refused;
  latency.Merge(other.latency);
  AppendSamples(&first_errors, other.first_errors);
  AppendSamples(&first_refusals, other.first_refusals);
}

double ElapsedSeconds(const BlastStats& stats, uint64_t stop_ns) {
  uint64_t end = stats.last_done_ns != 0 ? stats.last_done_ns : stop_ns;
  if (end <= stats.first_start_ns) return 0;
  return static_cast<double>(end - stats.first_start_ns) / 1e9;
}

std::string JsonString(const std::string& text) {
  std::string out = "\"";
  for (char c : text) {
    auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (u < 0x20 || u == 0x7f) {
      char escape[8];
      std::snprintf(escape, sizeof(escape), "\\u%04x", u);
      out += escape;
    } else if (u >= 0x80) {
      out.push_back('?');  // server text is not promised to be UTF-8; JSON must be
    } else {
      out.push_back(c);
    }
  }
  return out + "\"";
}

std::string FormatText(const BlastStats& stats, const RunDescription& run, double elapsed_s) {
  std::string out = "postdesk-blast: " + run.server + ", " + run.mode + ", " +
                    std::to_string(run.connections) + " connections";
  if (run.threads > 1) out += " on " + std::to_string(run.threads) + " loops";
  if (run.mode != "idle") {
    out += run.messages_per_connection == 0
               ? " (kept)"
               : " (" + std::to_string(run.messages_per_connection) +
                     (run.messages_per_connection == 1 ? " message each)" : " messages each)");
    out += ", " + run.messages;
    if (run.pipelining) {
      out += stats.pipelining_refused ? ", PIPELINING asked but not offered" : ", pipelining";
    }
    if (run.chunking) out += ", BDAT";
  }
  if (run.starttls) out += ", STARTTLS (" + (stats.tls.empty() ? "none" : stats.tls) + ")";
  out += "\n";

  std::string errors = std::to_string(stats.ErrorCount()) + " (";
  for (size_t i = 0; i < kErrorKinds; ++i) {
    if (i > 0) errors += ", ";
    errors += std::string(ErrorKindName(static_cast<ErrorKind>(i))) + " " +
              std::to_string(stats.errors[i]);
  }
  errors += ")";

  if (run.mode == "idle") {
    out += "idle connections: " + std::to_string(run.connections) + " asked, " +
           std::to_string(stats.idle_open_peak) + " open at peak, " +
           std::to_string(stats.idle_open_at_end) + " still open at the end, " +
           std::to_string(stats.server_closes) + " closed by the server\n";
    out += "errors:          " + errors + "\n";
    out += "elapsed:         " + Fixed(elapsed_s, 3) + " s\n";
  } else {
    const LatencyHistogram& h = stats.latency;
    out += "messages sent:   " + std::to_string(stats.sent) + "\n";
    out += "accepted (2xx):  " + std::to_string(stats.accepted) + "\n";
    out += "refused 4xx:     " + std::to_string(stats.refused_4xx) + "\n";
    out += "refused 5xx:     " + std::to_string(stats.refused_5xx) + "\n";
    out += "errors:          " + errors + "; messages lost " + std::to_string(stats.lost);
    if (stats.abandoned > 0) out += ", abandoned " + std::to_string(stats.abandoned);
    out += "\n";
    out += "elapsed:         " + Fixed(elapsed_s, 3) + " s\n";
    out += "messages/s:      " + Fixed(PerSecond(stats.accepted, elapsed_s), 1) + " accepted\n";
    out += "latency (ms, final dot to reply, " + std::to_string(h.count()) + " samples): p50 " +
           Fixed(Millis(h.Percentile(50)), 3) + "  p99 " + Fixed(Millis(h.Percentile(99)), 3) +
           "  p99.9 " + Fixed(Millis(h.Percentile(99.9)), 3) + "  max " +
           Fixed(Millis(h.max()), 3) + "  mean " + Fixed(h.Mean() / 1e6, 3) + "\n";
    out += "connections:     " + std::to_string(stats.connections) + " set up, " +
           std::to_string(stats.server_closes) + " closed by the server while idle\n";
    if (stats.late > 0 || stats.max_backlog > 0) {
      out += "open loop:       " + std::to_string(stats.late) +
             " messages waited for a connection (at most " + std::to_string(stats.max_backlog) +
             " at once), " + std::to_string(stats.unsent) +
             " still waited at the end: the rate was not met\n";
    }
  }
  if (!stats.first_errors.empty()) {
    out += "first errors:\n";
    for (const std::string& e : stats.first_errors) out += "  " + e + "\n";
  }
  if (!stats.first_refusals.empty()) {
    out += "first refusals:\n";
    for (const std::string& r : stats.first_refusals) out += "  " + r + "\n";
  }
  if (!run.fatal.empty()) out += "stopped early: " + run.fatal + "\n";
  return out;
}

std::string FormatJson(const BlastStats& stats, const RunDescription& run, double elapsed_s) {
  const LatencyHistogram& h = stats.latency;
  auto num = [](uint64_t n) { return std::to_string(n); };
  std::string out = "{";
  out += "\"server\":" + JsonString(run.server);
  out += ",\"mode\":" + JsonString(run.mode);
  out += ",\"messages\":" + JsonString(run.messages);
  out += ",\"connections\":" + num(run.connections);
  out += ",\"threads\":" + num(run.threads);
  out += ",\"messages_per_connection\":" + num(run.messages_per_connection);
  out += std::string(",\"pipelining\":") +
         (run.pipelining && !stats.pipelining_refused ? "true" : "false");
  out += std::string(",\"chunking\":") + (run.chunking ? "true" : "false");
  out += std::string(",\"starttls\":") + (run.starttls ? "true" : "false");
  out += ",\"tls\":" + JsonString(stats.tls);
  out += ",\"sent\":" + num(stats.sent);
  out += ",\"accepted\":" + num(stats.accepted);
  out += ",\"refused_4xx\":" + num(stats.refused_4xx);
  out += ",\"refused_5xx\":" + num(stats.refused_5xx);
  out += ",\"errors\":" + num(stats.ErrorCount());
  out += ",\"errors_by_kind\":{";
  for (size_t i = 0; i < kErrorKinds; ++i) {
    if (i > 0) out += ",";
    out += JsonString(ErrorKindName(static_cast<ErrorKind>(i))) + ":" + num(stats.errors[i]);
  }
  out += "}";
  out += ",\"lost\":" + num(stats.lost);
  out += ",\"abandoned\":" + num(stats.abandoned);
  out += ",\"elapsed_s\":" + Fixed(elapsed_s, 6);
  out += ",\"messages_per_s\":" + Fixed(PerSecond(stats.accepted, elapsed_s), 3);
  out += ",\"latency_ms\":{\"samples\":" + num(h.count()) +
         ",\"p50\":" + Fixed(Millis(h.Percentile(50)), 6) +
         ",\"p99\":" + Fixed(Millis(h.Percentile(99)), 6) +
         ",\"p99.9\":" + Fixed(Millis(h.Percentile(99.9)), 6) +
         ",\"max\":" + Fixed(Millis(h.max()), 6) + ",\"mean\":" + Fixed(h.Mean() / 1e6, 6) + "}";
  out += ",\"connections_set_up\":" + num(stats.connections);
  out += ",\"server_closes\":" + num(stats.server_closes);
  out += ",\"late\":" + num(stats.late);
  out += ",\"max_backlog\":" + num(stats.max_backlog);
  out += ",\"unsent\":" + num(stats.unsent);
  out += ",\"idle_open_peak\":" + num(stats.idle_open_peak);
  out += ",\"idle_open_at_end\":" + num(stats.idle_open_at_end);
  out += ",\"first_errors\":" + JsonList(stats.first_errors);
  out += ",\"first_refusals\":" + JsonList(stats.first_refusals);
  out += ",\"fatal\":" + JsonString(run.fatal);
  return out + "}";
}

}  // namespace postdesk::blast
