#include "storage/suspended_messages.h"

#include <hiredis/hiredis.h>

#include <map>

#include "parser/message_parser.h"
#include "storage/redis_functions.h"
#include "storage/ticket_reader.h"

namespace postdesk {
Result<nlohmann::json> SuspendedMessages::Entry(int64_t id) {
  std::string key = "{pd}:suspended:" + std::to_string(id);
  Result<std::map<std::string, std::string>> hash = connection_->HashGetAll(key);
  if (!hash.ok()) return hash.status();
  if (hash->empty()) return Status::Error("no suspended message " + std::to_string(id));
  std::map<std::string, std::string>& f = hash.value();
  RedisReplyPtr ttl = connection_->Command("PTTL %s", key.c_str());
  nlohmann::json entry = {
      {"id", id},
      {"cause", f["cause"]},
      {"reason", f["reason"]},
      {"brand", f["brand"]},
      {"received_at", f["received_at"]},
      {"sender", {{"email", f["sender"]}, {"name", f["sender_name"]}}},
      {"subject", f["subject"]},
      {"created_at", FormatTimestamp(ParseStoredInt(f["created_at_ms"]))},
      {"expires_in_s", ttl && ttl->type == REDIS_REPLY_INTEGER ? ttl->integer / 1000 : -1},
      {"message", f["message"]},  // the storage key of its raw message
  };
  return entry;
}

Result<nlohmann::json> SuspendedMessages::List(size_t limit) {
  nlohmann::json list = nlohmann::json::array();
  // Walk the index newest first, pruning ids whose record expired, until `limit` are found.
  size_t start = 0;
  while (list.size() < limit) {
    // hiredis's format takes no %zu.
    RedisReplyPtr ids =
        connection_->Command("ZREVRANGE {pd}:suspended %lld %lld", static_cast<long long>(start),
                             static_cast<long long>(start + limit - 1));
    if (!ids || ids->type != REDIS_REPLY_ARRAY) {
      return Status::Error("redis: cannot read the suspended index");
    }
    if (ids->elements == 0) break;
    size_t pruned = 0;
    for (size_t i = 0; i < ids->elements && list.size() < limit; ++i) {
      std::string id(ids->element[i]->str, ids->element[i]->len);
      Result<nlohmann::json> entry = Entry(ParseStoredInt(id));
      if (entry.ok()) {
        list.push_back(std::move(entry).value());
      } else {
        connection_->Command("ZREM {pd}:suspended %s", id.c_str());
        ++pruned;
      }
    }
    start += ids->elements - pruned;
  }
  return list;
}

Result<nlohmann::json> SuspendedMessages::Show(int64_t id) {
  Result<nlohmann::json> entry = Entry(id);
  if (!entry.ok()) return entry;
  std::string raw_key = "{pd}:message:" + entry.value()["message"].get<std::string>();
  RedisReplyPtr raw = connection_->Command("GET %s", raw_key.c_str());
  if (!raw || raw->type != REDIS_REPLY_STRING) {
    return Status::Error("the raw message of suspended message " + std::to_string(id) +
                         " is missing");
  }
  entry.value()["raw"] = std::string(raw->str, raw->len);
  return entry;
}

Result<IngestOutcome> SuspendedMessages::Recover(int64_t id, const StoragePolicy& policy) {
  Result<nlohmann::json> entry = Show(id);
  if (!entry.ok()) return entry.status();
  const nlohmann::json& e = entry.value();
  std::string raw = e["raw"].get<std::string>();
  ParsedMessage parsed = ParseMessage(raw);

  IngestRequest request =
      IngestRequestFromMessage(std::move(parsed), e["sender"]["email"].get<std::string>());
  request.transaction = "recovered:" + std::to_string(id);
  request.recover_suspended_id = id;
  request.recover_message = e["message"].get<std::string>();
  request.policy = policy;
  NewTicketTarget target;
  target.brand = e["brand"].get<std::string>();
  target.received_at = e["received_at"].get<std::string>();
  request.tickets.push_back(std::move(target));

  Status loaded = connection_->LoadFunctions();
  if (!loaded.ok()) return loaded;
  IngestCommands commands(request, NewStorageKey());
  Result<std::vector<RedisReplyPtr>> replies = connection_->PipelineFormatted(commands.commands());
  if (!replies.ok()) return replies.status();
  Result<std::vector<IngestOutcome>> outcomes =
      ParseIngestExecReply(replies.value().back().get());
  if (!outcomes.ok()) return outcomes.status();
  return outcomes.value().front();
}

Status SuspendedMessages::Delete(int64_t id) {
  Result<nlohmann::json> entry = Entry(id);
  if (!entry.ok()) return entry.status();
  std::string key = "{pd}:suspended:" + std::to_string(id);
  std::string raw_key = "{pd}:message:" + entry.value()["message"].get<std::string>();
  // The raw message goes with the record, unless the transaction's other brands still use it.
  RedisReplyPtr shared = connection_->Command("HGET %s message_shared", key.c_str());
  if (!shared) return Status::Error(connection_->LastError());
  bool keep_raw = shared->type == REDIS_REPLY_STRING;
  RedisReplyPtr r = keep_raw
                        ? connection_->Command("DEL %s", key.c_str())
                        : connection_->Command("DEL %s %s", key.c_str(), raw_key.c_str());
  if (!r || r->type == REDIS_REPLY_ERROR) return Status::Error("redis: DEL failed");
  connection_->Command("ZREM {pd}:suspended %lld", static_cast<long long>(id));
  return Status::Ok();
}

}  // namespace postdesk
