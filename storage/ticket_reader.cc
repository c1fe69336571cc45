#include "storage/ticket_reader.h"

#include <hiredis/hiredis.h>

#include <charconv>
#include <ctime>
#include <map>

#include "parser/message.h"
#include "rules/ticket_status.h"

namespace postdesk {
namespace {

nlohmann::json ParseJsonOr(const std::string& text, nlohmann::json fallback) {
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  return j.is_discarded() ? fallback : j;
}

// A whole decimal number, nothing else.
bool ParseUnsigned(std::string_view text, uint64_t* value) {
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && !text.empty();
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

StoredText::StoredText(std::string_view body, std::string_view message, std::string_view span) {
  size_t comma = span.find(',');
  uint64_t offset = 0, length = 0;
  if (comma != std::string_view::npos && ParseUnsigned(span.substr(0, comma), &offset) &&
      ParseUnsigned(span.substr(comma + 1), &length) && length > 0) {
    key_ = "{pd}:message:" + std::string(message);
    start_ = std::to_string(offset);
    end_ = std::to_string(offset + length - 1);
    return;
  }
  key_ = "{pd}:body:" + std::string(body);
}

RedisArgv StoredText::Command() const {
  RedisArgv command;
  command.Add(start_.empty() ? "GET" : "GETRANGE");
  command.Add(key_);
  if (!start_.empty()) {
    command.Add(start_);
    command.Add(end_);
  }
  return command;
}

std::string StoredText::TextOf(const redisReply* reply) const {
  if (!reply || reply->type != REDIS_REPLY_STRING) return "";
  std::string text(reply->str, reply->len);
  if (!start_.empty()) NormalizeDescriptionText(&text);
  return text;
}

Result<std::vector<std::string>> ReadStoredTexts(RedisConnection& connection,
                                                 const std::vector<StoredText>& texts) {
  std::vector<RedisArgv> commands;
  commands.reserve(texts.size());
  for (const StoredText& t : texts) commands.push_back(t.Command());
  Result<std::vector<RedisReplyPtr>> replies = connection.Pipeline(commands);
  if (!replies.ok()) return replies.status();
  std::vector<std::string> out;
  out.reserve(texts.size());
  for (size_t i = 0; i < texts.size(); ++i) {
    const redisReply* r = replies.value()[i].get();
    if (r && r->type == REDIS_REPLY_ERROR) {
      return Status::Error(std::string("redis: reading a comment's text: ") + r->str);
    }
    out.push_back(texts[i].TextOf(r));
  }
  return out;
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

  // The texts live under their own keys or inside the raw message (StoredText): one pipeline for
  // them all, the description first.
  std::vector<nlohmann::json> parsed_comments;
  std::vector<StoredText> texts = {
      StoredText(f["description_body"], f["message"], f["description_span"])};
  for (size_t i = 0; i < comments->elements; ++i) {
    parsed_comments.push_back(ParseJsonOr(
        std::string(comments->element[i]->str, comments->element[i]->len), nlohmann::json::object()));
    const nlohmann::json& c = parsed_comments.back();
    texts.emplace_back(c.value("body", ""), c.value("message", ""), c.value("body_span", ""));
  }
  Result<std::vector<std::string>> bodies = ReadStoredTexts(*connection_, texts);
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
