#include "gateway/log_format.h"

#include <spdlog/pattern_formatter.h>

#include <atomic>
#include <ctime>

#include "gateway/log_text.h"
#include "parser/json_string.h"

namespace postdesk {
namespace {

constexpr char kTextPattern[] = "%Y-%m-%dT%H:%M:%S.%eZ %^%l%$ %v";

// A message that starts with this byte carries JSON members rather than text: only
// LogTransaction writes one. Client text never reaches the start of a message unescaped
// (EscapeForLog turns 0x1e into "\x1e"), so a client cannot make one.
constexpr char kMembersMark = '\x1e';

std::atomic<LogFormat> g_format{LogFormat::kText};

void AppendTimestamp(std::string* out, spdlog::log_clock::time_point time) {
  auto since_epoch = time.time_since_epoch();
  auto seconds = std::chrono::duration_cast<std::chrono::seconds>(since_epoch);
  auto millis = std::chrono::duration_cast<std::chrono::milliseconds>(since_epoch - seconds);
  std::time_t t = static_cast<std::time_t>(seconds.count());
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buffer[40];
  size_t n = std::strftime(buffer, sizeof(buffer), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buffer + n, sizeof(buffer) - n, ".%03dZ", static_cast<int>(millis.count()));
  AppendJsonString(buffer, out);
}

// {"ts":"2024-05-01T10:00:00.123Z","level":"info","msg":"..."} and a newline.
class JsonFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    std::string line = "{\"ts\":";
    AppendTimestamp(&line, msg.time);
    line += ",\"level\":";
    spdlog::string_view_t level = spdlog::level::to_string_view(msg.level);
    AppendJsonString(std::string_view(level.data(), level.size()), &line);
    std::string_view payload(msg.payload.data(), msg.payload.size());
    if (!payload.empty() && payload[0] == kMembersMark) {
      line += ',';
      line.append(payload.substr(1));
    } else {
      line += ",\"msg\":";
      AppendJsonString(payload, &line);
    }
    line += "}\n";
    dest.append(line.data(), line.data() + line.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonFormatter>();
  }
};

// "TLSv1.3/TLS_AES_256_GCM_SHA384", or "no": one token for key=value parsers.
void AppendTlsToken(std::string_view tls, std::string* out) {
  if (tls.empty()) {
    out->append("no");
    return;
  }
  size_t start = out->size();
  AppendEscapedForLog(tls, 100, out);
  for (size_t i = start; i < out->size(); ++i) {
    if ((*out)[i] == ' ') (*out)[i] = '/';
  }
}

void AppendKey(std::string* out, std::string_view key) {
  if (out->size() > 1) *out += ',';
  AppendJsonString(key, out);
  *out += ':';
}

// The members of one outcome, each after a comma.
void AppendOutcome(std::string* out, const IngestOutcome& o) {
  static constexpr std::string_view kKinds[] = {"ticket", "comment", "suspended", "duplicate"};
  AppendKey(out, "outcome");
  AppendJsonString(kKinds[static_cast<size_t>(o.kind)], out);
  AppendKey(out, o.kind == IngestOutcome::Kind::kSuspended ? "suspended" : "ticket");
  AppendDecimal(o.id, out);
  if (o.kind == IngestOutcome::Kind::kSuspended) {
    AppendKey(out, "cause");
    AppendJsonString(o.cause, out);
  }
  if (o.followup_of) {
    AppendKey(out, "followup_of");
    AppendDecimal(o.followup_of, out);
  }
}

// The buffers of the transaction line: one set per loop thread, reused line after line.
struct LineBuffers {
  std::string line;
  std::string escaped;
};

LineBuffers& ThreadLineBuffers() {
  thread_local LineBuffers buffers;
  buffers.line.clear();
  return buffers;
}

void AppendJsonMembers(const TransactionLogRecord& r, std::string_view session,
                       LineBuffers* buffers) {
  const DeliveryOutcome& outcome = *r.outcome;
  std::string& out = buffers->line;
  out.push_back(kMembersMark);
  out.append("\"msg\":\"transaction\"");
  auto field = [&out](std::string_view key, std::string_view value) {
    AppendKey(&out, key);
    AppendJsonString(value, &out);
  };
  // Client text is escaped first, then written as a JSON string.
  auto escaped = [buffers](std::string_view text, size_t max_bytes) -> std::string_view {
    buffers->escaped.clear();
    AppendEscapedForLog(text, max_bytes, &buffers->escaped);
    return buffers->escaped;
  };
  field("session", session);
  field("client", escaped(r.client, 64));
  buffers->escaped.clear();
  AppendTlsToken(r.tls, &buffers->escaped);
  field("tls", buffers->escaped);
  field("helo", escaped(r.helo, 64));
  field("from", escaped(r.mail_from, 100));
  AppendKey(&out, "rcpt");
  out += '[';
  for (size_t i = 0; i < r.recipients.size(); ++i) {
    if (i) out += ',';
    AppendJsonString(escaped(r.recipients[i].address, 100), &out);
  }
  out += ']';
  AppendKey(&out, "size");
  AppendDecimal(static_cast<int64_t>(r.size), &out);
  if (outcome.stored.empty()) {
    field("outcome", TransactionVerdictName(outcome.verdict));
    if (!outcome.error.empty()) field("cause", outcome.error);
  } else {
    // The first brand's outcome as top-level keys; every brand's when there are several.
    AppendOutcome(&out, outcome.stored[0]);
    if (outcome.stored.size() > 1) {
      AppendKey(&out, "outcomes");
      out += '[';
      for (size_t i = 0; i < outcome.stored.size(); ++i) {
        if (i) out += ',';
        out += '{';
        // AppendKey puts no comma after the brace: the object's first member.
        size_t open = out.size();
        AppendOutcome(&out, outcome.stored[i]);
        if (out[open] == ',') out.erase(open, 1);
        out += '}';
      }
      out += ']';
    }
  }
  field("reply", outcome.reply);
  AppendKey(&out, "ms");
  AppendDecimal(r.ms, &out);
}

void AppendTextLine(const TransactionLogRecord& r, std::string_view session, std::string* out) {
  out->append("session=").append(session).append(" client=");
  AppendEscapedForLog(r.client, 64, out);
  out->append(" tls=");
  AppendTlsToken(r.tls, out);
  out->append(" helo=");
  AppendEscapedForLog(r.helo, 64, out);
  out->append(" from=<");
  AppendEscapedForLog(r.mail_from, 100, out);
  out->append("> to=<");
  for (size_t i = 0; i < r.recipients.size(); ++i) {
    if (i) out->push_back(',');
    AppendEscapedForLog(r.recipients[i].address, 100, out);
  }
  out->append("> size=");
  AppendDecimal(static_cast<int64_t>(r.size), out);
  out->push_back(' ');
  out->append(r.outcome->detail).append(" reply=\"").append(r.outcome->reply);
  out->append("\" ms=");
  AppendDecimal(r.ms, out);
}

}  // namespace

Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name) {
  if (name == "trace") return spdlog::level::trace;
  if (name == "debug") return spdlog::level::debug;
  if (name == "info") return spdlog::level::info;
  if (name == "warn") return spdlog::level::warn;
  if (name == "error") return spdlog::level::err;
  return Status::Error("unknown log level \"" + EscapeForLog(name, 20) +
                       "\" (use trace, debug, info, warn, error)");
}

void InstallLogFormat(LogFormat format) {
  // The JSON formatter takes text messages too, the text one no JSON members: so it is
  // installed before the transaction line switches to members, and after it switches back.
  if (format == LogFormat::kJson) {
    spdlog::set_formatter(std::make_unique<JsonFormatter>());
    g_format.store(format, std::memory_order_release);
  } else {
    g_format.store(format, std::memory_order_release);
    spdlog::set_formatter(
        std::make_unique<spdlog::pattern_formatter>(kTextPattern, spdlog::pattern_time_type::utc));
  }
}

void ApplyLogConfig(const LogConfig& log, const std::optional<std::string>& level_flag) {
  InstallLogFormat(log.format);
  Result<spdlog::level::level_enum> level = ParseLogLevel(level_flag.value_or(log.level));
  if (level.ok()) spdlog::set_level(level.value());
}

LogFormat CurrentLogFormat() { return g_format.load(std::memory_order_acquire); }

void LogTransaction(const TransactionLogRecord& r) {
  if (!spdlog::should_log(spdlog::level::info) || !r.outcome) return;
  char session[48];
  int n = snprintf(session, sizeof(session), "%llx.%x",
                   static_cast<unsigned long long>(r.session_id), r.transaction);
  LineBuffers& buffers = ThreadLineBuffers();
  if (CurrentLogFormat() == LogFormat::kJson) {
    AppendJsonMembers(r, std::string_view(session, n), &buffers);
  } else {
    AppendTextLine(r, std::string_view(session, n), &buffers.line);
  }
  // Logged as it stands: the line is not a format string.
  spdlog::info(spdlog::string_view_t(buffers.line.data(), buffers.line.size()));
}

}  // namespace postdesk
