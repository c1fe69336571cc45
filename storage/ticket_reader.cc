#include "storage/ticket_reader.h"

#include <hiredis/hiredis.h>

#include <ctime>
#include <map>

#include "rules/ticket_status.h"

namespace postdesk {
namespace {

nlohmann::json ParseJsonOr(const std::string& text, nlohmann::json fallback) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? fallback : j;
}

// Audit entries `tickets get` shows (a runaway ticket may hold many more).
constexpr int kAuditShown = 200;

}  // namespace

std::string FormatTimestamp(int64_t unix_ms) {
  std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buf[40];
  size_t n = std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(buf + n, sizeof(buf) - n, ".%03dZ", static_cast<int>(unix_ms % 1000));
  return buf;
}

Result<nlohmann::json> TicketReader::GetTicket(int64_t id) {
  std::string key = "{pd}:ticket:" + std::to_string(id);
  Result<std::map<std::string, std::string>> hash = connection_->HashGetAll(key);
  if (!hash.ok()) return hash.status();
  if (hash->empty()) return Status::Error("no ticket " + std::to_string(id));
  std::map<std::string, std::string>& f = hash.value();
  RedisReplyPtr comments = connection_->Command("LRANGE %s:comments 0 -1", key.c_str());
  if (!comments || comments->type != REDIS_REPLY_ARRAY) {
    return Status::Error("redis: cannot read the comments of ticket " + std::to_string(id));
  }

  nlohmann::json ticket;
  ticket["id"] = id;
  ticket["subject"] = f["subject"];
  ticket["description"] = f["description"];
  ticket["truncated"] = f["truncated"] == "1";
  ticket["requester"] = {{"email", f["requester_email"]}, {"name", f["requester_name"]}};
  ticket["received_at"] = f["received_at"];
  ticket["brand"] = f["brand"];
  Result<TicketStatus> status = ParseTicketStatus(f["status"]);
  if (!status.ok()) return Status::Error("ticket " + std::to_string(id) + ": " + status.status().message());
  ticket["status"] = std::string(TicketStatusName(status.value()));
  ticket["priority"] = f["priority"].empty() ? nlohmann::json(nullptr) : nlohmann::json(f["priority"]);
  ticket["type"] = f["type"].empty() ? nlohmann::json(nullptr) : nlohmann::json(f["type"]);
  ticket["group"] = f["group"].empty() ? nlohmann::json(nullptr) : nlohmann::json(f["group"]);
  ticket["assignee"] =
      f["assignee"].empty() ? nlohmann::json(nullptr) : nlohmann::json(f["assignee"]);
  ticket["tags"] = ParseJsonOr(f["tags"], nlohmann::json::array());
  ticket["via"] = f["via"];
  ticket["auto_notifications_suppressed"] = f["auto_notifications_suppressed"] == "1";
  ticket["followup_source_id"] =
      f["followup_source_id"].empty() ? nlohmann::json(nullptr) : nlohmann::json(ParseStoredInt(f["followup_source_id"]));
  ticket["comments"] = nlohmann::json::array();
  for (size_t i = 0; i < comments->elements; ++i) {
    nlohmann::json c = ParseJsonOr(std::string(comments->element[i]->str, comments->element[i]->len),
                                   nlohmann::json::object());
    nlohmann::json out;
    out["id"] = c.value("id", 0);
    out["author"] = {{"email", c.value("author_email", "")}, {"name", c.value("author_name", "")}};
    out["body"] = c.value("body", "");
    out["public"] = c.value("public", true);
    out["via"] = c.value("via", "");
    out["created_at"] = FormatTimestamp(c.value("created_at_ms", int64_t{0}));
    ticket["comments"].push_back(std::move(out));
  }
  ticket["created_at"] = FormatTimestamp(ParseStoredInt(f["created_at_ms"]));
  ticket["updated_at"] = FormatTimestamp(ParseStoredInt(f["updated_at_ms"]));
  // The audit: the triggers that fired with what they changed, and what became of each
  // notification (sent, failed, suppressed...), oldest first; the newest kAuditShown of them.
  ticket["events"] = nlohmann::json::array();
  RedisReplyPtr audit = connection_->Command("LRANGE %s:audit -%d -1", key.c_str(), kAuditShown);
  if (audit && audit->type == REDIS_REPLY_ARRAY) {
    for (size_t i = 0; i < audit->elements; ++i) {
      nlohmann::json entry = ParseJsonOr(
          std::string(audit->element[i]->str, audit->element[i]->len), nlohmann::json::object());
      if (entry.contains("at_ms")) {
        entry["at"] = FormatTimestamp(entry.value("at_ms", int64_t{0}));
        entry.erase("at_ms");
      }
      ticket["events"].push_back(std::move(entry));
    }
  }
  return ticket;
}

Result<std::string> TicketReader::GetRawMessage(int64_t ticket_id) {
  std::string key = "{pd}:ticket:" + std::to_string(ticket_id);
  RedisReplyPtr message = connection_->Command("HGET %s message", key.c_str());
  if (!message || message->type != REDIS_REPLY_STRING) {
    return Status::Error("no ticket " + std::to_string(ticket_id));
  }
  std::string raw_key = "{pd}:message:" + std::string(message->str, message->len);
  RedisReplyPtr raw = connection_->Command("GET %s", raw_key.c_str());
  if (!raw || raw->type != REDIS_REPLY_STRING) {
    return Status::Error("the raw message of ticket " + std::to_string(ticket_id) + " is missing");
  }
  return std::string(raw->str, raw->len);
}

}  // namespace postdesk
