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

void ExpandTicketCore(std::map<std::string, std::string>* hash) {
  auto core = hash->find("core");
  if (core == hash->end()) return;
  nlohmann::json members = ParseJsonOr(core->second, nlohmann::json::object());
  hash->erase(core);
  if (!members.is_object()) return;
  for (const auto& [name, value] : members.items()) {
    if (value.is_string()) hash->emplace(name, value.get<std::string>());
  }
}

Result<std::vector<std::string>> ReadBodies(RedisConnection& connection,
                                            const std::vector<std::string>& storage_keys) {
  if (storage_keys.empty()) return std::vector<std::string>();
  RedisArgv mget;
  std::vector<std::string> keys;
  keys.reserve(storage_keys.size());
  for (const std::string& k : storage_keys) keys.push_back("{pd}:body:" + k);
  mget.Add("MGET");
  for (const std::string& k : keys) mget.Add(k);
  Result<std::vector<RedisReplyPtr>> replies = connection.Pipeline({mget});
  if (!replies.ok()) return replies.status();
  const redisReply* r = replies.value()[0].get();
  if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != keys.size()) {
    return Status::Error("redis: unexpected reply to MGET of comment bodies");
  }
  std::vector<std::string> bodies;
  bodies.reserve(keys.size());
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* e = r->element[i];
    bodies.emplace_back(e->type == REDIS_REPLY_STRING ? std::string(e->str, e->len) : "");
  }
  return bodies;
}

Result<nlohmann::json> TicketReader::GetTicket(int64_t id) {
  std::string key = "{pd}:ticket:" + std::to_string(id);
  Result<std::map<std::string, std::string>> hash = connection_->HashGetAll(key);
  if (!hash.ok()) return hash.status();
  if (hash->empty()) return Status::Error("no ticket " + std::to_string(id));
  std::map<std::string, std::string>& f = hash.value();
  ExpandTicketCore(&f);
  RedisReplyPtr comments = connection_->Command("LRANGE %s:comments 0 -1", key.c_str());
  if (!comments || comments->type != REDIS_REPLY_ARRAY) {
    return Status::Error("redis: cannot read the comments of ticket " + std::to_string(id));
  }

  // The texts live under their own keys (storage/redis_functions.h): one MGET for them all,
  // the description first.
  std::vector<nlohmann::json> parsed_comments;
  std::vector<std::string> body_keys = {f["description_body"]};
  for (size_t i = 0; i < comments->elements; ++i) {
    parsed_comments.push_back(ParseJsonOr(
        std::string(comments->element[i]->str, comments->element[i]->len), nlohmann::json::object()));
    body_keys.push_back(parsed_comments.back().value("body", ""));
  }
  Result<std::vector<std::string>> bodies = ReadBodies(*connection_, body_keys);
  if (!bodies.ok()) return bodies.status();

  nlohmann::json ticket;
  ticket["id"] = id;
  ticket["subject"] = f["subject"];
  ticket["description"] = bodies.value()[0];
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
  for (size_t i = 0; i < parsed_comments.size(); ++i) {
    const nlohmann::json& c = parsed_comments[i];
    nlohmann::json out;
    out["id"] = c.value("id", 0);
    out["author"] = {{"email", c.value("author_email", "")}, {"name", c.value("author_name", "")}};
    out["body"] = bodies.value()[i + 1];
    out["public"] = c.value("public", true);
    out["via"] = c.value("via", "");
    out["attachments"] = c.value("attachments", nlohmann::json::array());
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
  RedisReplyPtr core = connection_->Command("HGET %s core", key.c_str());
  if (!core || core->type != REDIS_REPLY_STRING) {
    return Status::Error("no ticket " + std::to_string(ticket_id));
  }
  std::map<std::string, std::string> fields = {{"core", std::string(core->str, core->len)}};
  ExpandTicketCore(&fields);
  std::string raw_key = "{pd}:message:" + fields["message"];
  RedisReplyPtr raw = connection_->Command("GET %s", raw_key.c_str());
  if (!raw || raw->type != REDIS_REPLY_STRING) {
    return Status::Error("the raw message of ticket " + std::to_string(ticket_id) + " is missing");
  }
  return std::string(raw->str, raw->len);
}

}  // namespace postdesk
