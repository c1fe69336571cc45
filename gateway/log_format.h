// Log setup and the per-transaction log line (design.md, "Operations"; [log] in the
// configuration).
//
// Two formats for every spdlog line on stderr: text ("2024-05-01T10:00:00.123Z info message",
// UTC) and JSON lines (one object a line: {"ts":..., "level":..., "msg":...}). The transaction
// line carries its fields as keys in JSON and as key=value in text; client text in it (HELO,
// sender, recipients) is escaped and cut by EscapeForLog before either format sees it, and the
// JSON writer escapes whatever it is given (invalid UTF-8 becomes U+FFFD), so no client can
// forge or break a line.
//
// InstallLogFormat and SetLogLevel apply to every logger and may be called from any thread (a
// SIGHUP reload does); LogTransaction runs on the loop threads. Nothing here throws.
#ifndef POSTDESK_GATEWAY_LOG_FORMAT_H_
#define POSTDESK_GATEWAY_LOG_FORMAT_H_

#include <spdlog/spdlog.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "gateway/smtp_transaction.h"
#include "parser/result.h"

namespace postdesk {

// "trace", "debug", "info", "warn", "error".
Result<spdlog::level::level_enum> ParseLogLevel(std::string_view name);

void InstallLogFormat(LogFormat format);
LogFormat CurrentLogFormat();
// [log] format and level; `level_flag` (a command's --log-level, already checked with
// ParseLogLevel) wins over the file's level.
void ApplyLogConfig(const LogConfig& log, const std::optional<std::string>& level_flag);

// One transaction that reached the end of DATA. Views into the session; used during the call.
struct TransactionLogRecord {
  uint64_t session_id = 0;
  uint32_t transaction = 0;  // its number in the session
  std::string_view client;
  std::string_view tls;  // "TLSv1.3 TLS_AES_256_GCM_SHA384"; "" in the clear
  std::string_view helo;
  std::string_view mail_from;
  std::span<const SmtpRecipient> recipients;
  size_t size = 0;
  const DeliveryOutcome* outcome = nullptr;
  int64_t ms = 0;  // from the DATA command to the reply
};

// Logs the record at info in the current format.
void LogTransaction(const TransactionLogRecord& record);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_LOG_FORMAT_H_
