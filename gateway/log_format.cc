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
std::string TlsToken(std::string_view tls) {
  if (tls.empty()) return "no";
  std::string out = EscapeForLog(tls, 100);
  for (char& c : out) {
    if (c == ' ') c = '/';
  }
  return out;
}

void AppendKey(std::string* out, std::string_view key) {
  if (out->size() > 1) *out += ',';
  AppendJsonString(key, out);
  *out += ':';
}

void AppendOutcome(std::string* out, const IngestOutcome& o) {
  static constexpr std::string_view kKinds[] = {"ticket", "comment", "suspended", "duplicate"};
  AppendKey(out, "outcome");
  AppendJsonString(kKinds[static_cast<size_t>(o.kind)], out);
  AppendKey(out, o.kind == IngestOutcome::Kind::kSuspended ? "suspended" : "ticket");
  *out += std::to_string(o.id);
  if (o.kind == IngestOutcome::Kind::kSuspended) {
    AppendKey(out, "cause");
    AppendJsonString(o.cause, out);
  }
  if (o.followup_of) {
    AppendKey(out, "followup_of");
    *out += std::to_string(o.followup_of);
  }
}

std::string JsonMembers(const TransactionLogRecord& r, const std::string& session) {
  const DeliveryOutcome& outcome = *r.outcome;
  std::string out = std::string(1, kMembersMark) + "\"msg\":\"transaction\"";
  auto field = [&out](std::string_view key, std::string_view value) {
    AppendKey(&out, key);
    AppendJsonString(value, &out);
  };
  field("session", session);
  field("client", EscapeForLog(r.client, 64));
  field("tls", TlsToken(r.tls));
  field("helo", EscapeForLog(r.helo, 64));
  field("from", EscapeForLog(r.mail_from, 100));
  AppendKey(&out, "rcpt");
  out += '[';
  for (size_t i = 0; r.recipients && i < r.recipients->size(); ++i) {
    if (i) out += ',';
    AppendJsonString(EscapeForLog((*r.recipients)[i].address, 100), &out);
  }
  out += ']';
  AppendKey(&out, "size");
  out += std::to_string(r.size);
  if (outcome.stored.empty()) {
    field("outcome", TransactionVerdictName(outcome.verdict));
    if (!outcome.error.empty()) field("cause", outcome.error);
  } else {
    // The first brand's outcome as top-level keys; every brand's when there are several.
    std::string first = "{";
    AppendOutcome(&first, outcome.stored[0]);
    out += ',' + first.substr(1);
    if (outcome.stored.size() > 1) {
      AppendKey(&out, "outcomes");
      out += '[';
      for (size_t i = 0; i < outcome.stored.size(); ++i) {
        std::string one = "{";
        AppendOutcome(&one, outcome.stored[i]);
        out += (i ? "," : "") + one + "}";
      }
      out += ']';
    }
  }
  field("reply", outcome.reply);
  AppendKey(&out, "ms");
  out += std::to_string(r.ms);
  return out;
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
  snprintf(session, sizeof(session), "%llx.%x", static_cast<unsigned long long>(r.session_id),
           r.transaction);
  if (CurrentLogFormat() == LogFormat::kJson) {
    spdlog::info("{}", JsonMembers(r, session));
    return;
  }
  std::string rcpts;
  for (size_t i = 0; r.recipients && i < r.recipients->size(); ++i) {
    if (i) rcpts += ',';
    rcpts += EscapeForLog((*r.recipients)[i].address, 100);
  }
  spdlog::info(
      "session={} client={} tls={} helo={} from=<{}> to=<{}> size={} {} reply=\"{}\" ms={}",
      session, EscapeForLog(r.client, 64), TlsToken(r.tls), EscapeForLog(r.helo, 64),
      EscapeForLog(r.mail_from, 100), rcpts, r.size, r.outcome->detail, r.outcome->reply, r.ms);
}

}  // namespace postdesk
