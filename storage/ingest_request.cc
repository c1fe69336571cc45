#include "storage/ingest_request.h"

#include <hiredis/hiredis.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <random>

namespace postdesk {

std::string NewStorageKey() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  thread_local uint64_t prefix = generator();
  thread_local uint64_t counter = 0;
  char key[40];
  std::snprintf(key, sizeof(key), "%016llx.%llx", static_cast<unsigned long long>(prefix),
                static_cast<unsigned long long>(++counter));
  return key;
}

IngestCommands::IngestCommands(const IngestRequest& r, std::string storage_key)
    : storage_key_(std::move(storage_key)) {
  const bool recovering = r.recover_suspended_id > 0;
  const std::string& message = recovering ? r.recover_message : storage_key_;

  // The comment's members that the client knows; the script adds id, time and keys. Replace
  // rather than throw on invalid UTF-8: this runs on the loops, where nothing may throw.
  nlohmann::json comment = {{"author_email", r.requester_email},
                            {"author_name", r.requester_name},
                            {"public", true},
                            {"via", "email"},
                            {"message_id", r.message_id}};
  if (!r.attachments.empty()) {
    nlohmann::json& list = comment["attachments"] = nlohmann::json::array();
    for (const Attachment& a : r.attachments) {
      list.push_back({{"filename", a.filename},
                      {"content_type", a.content_type},
                      {"size", a.size},
                      {"content_id", a.content_id}});
    }
  }
  std::string members = comment.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  members = members.substr(1, members.size() - 2);  // without the braces

  // Every argument the request does not hold as a string, made before any view is taken.
  strings_ = {"{pd}:message:" + message,
              "{pd}:body:" + storage_key_,
              std::move(members),
              r.truncated ? "1" : "0",
              r.auto_notifications_suppressed ? "1" : "0",
              std::to_string(r.policy.rate_limit),
              std::to_string(r.policy.rate_window_ms),
              std::to_string(r.policy.block_ms),
              std::to_string(r.policy.dedupe_window_ms),
              std::to_string(r.policy.suspended_retention_ms),
              std::to_string(r.recover_suspended_id),
              std::to_string(r.tickets.size())};
  for (const NewTicketTarget& t : r.tickets) strings_.push_back(std::to_string(t.thread_ticket));
  const std::string& raw_key = strings_[0];
  const std::string& body_key = strings_[1];

  RedisArgv multi;
  multi.Add("MULTI");
  commands_.push_back(std::move(multi));
  if (!recovering) {
    RedisArgv set_raw;
    for (std::string_view arg : {std::string_view("SET"), std::string_view(raw_key),
                                 std::string_view(r.raw)}) {
      set_raw.Add(arg);
    }
    commands_.push_back(std::move(set_raw));
  }
  RedisArgv set_body;
  for (std::string_view arg : {std::string_view("SET"), std::string_view(body_key),
                               std::string_view(r.description)}) {
    set_body.Add(arg);
  }
  commands_.push_back(std::move(set_body));

  // The argument order is the script's (postdesk_ingest in redis_functions.cc).
  RedisArgv fcall;
  for (std::string_view arg :
       {std::string_view("FCALL"), std::string_view("postdesk_ingest"), std::string_view("4"),
        std::string_view("{pd}:ticket:next_id"), std::string_view("{pd}:events"),
        std::string_view(raw_key), std::string_view(body_key), std::string_view(storage_key_),
        std::string_view(r.subject), std::string_view(strings_[2]),
        std::string_view(r.requester_email), std::string_view(r.requester_name),
        std::string_view(r.message_id), std::string_view(strings_[3]),
        std::string_view(strings_[4]), std::string_view(r.transaction),
        std::string_view(strings_[5]), std::string_view(strings_[6]),
        std::string_view(strings_[7]), std::string_view(strings_[8]),
        std::string_view(strings_[9]), std::string_view(strings_[10]),
        std::string_view(recovering ? r.recover_message : std::string_view()),
        std::string_view(strings_[11])}) {
    fcall.Add(arg);
  }
  for (size_t i = 0; i < r.tickets.size(); ++i) {
    const NewTicketTarget& t = r.tickets[i];
    for (std::string_view arg : {std::string_view(t.brand), std::string_view(t.received_at),
                                 std::string_view(t.cause), std::string_view(t.reason),
                                 std::string_view(strings_[12 + i])}) {
      fcall.Add(arg);
    }
  }
  commands_.push_back(std::move(fcall));
  RedisArgv exec;
  exec.Add("EXEC");
  commands_.push_back(std::move(exec));
}

namespace {

Result<std::vector<IngestOutcome>> ParseIngestReply(const redisReply* reply) {
  if (!reply) return Status::Error("redis: connection lost before the reply");
  if (reply->type == REDIS_REPLY_ERROR) return Status::Error(std::string("redis: ") + reply->str);
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
    return Status::Error("redis: unexpected reply to postdesk_ingest");
  }
  std::vector<IngestOutcome> outcomes;
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* e = reply->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_INTEGER) {
      return Status::Error("redis: malformed outcome from postdesk_ingest");
    }
    std::string kind(e->element[0]->str, e->element[0]->len);
    IngestOutcome o;
    o.id = e->element[1]->integer;
    if (kind == "ticket") {
      o.kind = IngestOutcome::Kind::kTicket;
      if (e->elements > 2 && e->element[2]->type == REDIS_REPLY_INTEGER) {
        o.followup_of = e->element[2]->integer;
      }
    } else if (kind == "comment") {
      o.kind = IngestOutcome::Kind::kComment;
    } else if (kind == "duplicate") {
      o.kind = IngestOutcome::Kind::kDuplicate;
    } else if (kind == "suspended") {
      o.kind = IngestOutcome::Kind::kSuspended;
      if (e->elements > 2 && e->element[2]->type == REDIS_REPLY_STRING) {
        o.cause.assign(e->element[2]->str, e->element[2]->len);
      }
    } else {
      return Status::Error("redis: unknown outcome \"" + kind + "\"");
    }
    outcomes.push_back(std::move(o));
  }
  return outcomes;
}

}  // namespace

Result<std::vector<IngestOutcome>> ParseIngestExecReply(const redisReply* exec) {
  if (!exec) return Status::Error("redis: connection lost before the reply");
  if (exec->type == REDIS_REPLY_ERROR) return Status::Error(std::string("redis: ") + exec->str);
  // A nil EXEC: the transaction was discarded (a command in it was refused when queued).
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements == 0) {
    return Status::Error("redis: the ingest transaction was not executed");
  }
  return ParseIngestReply(exec->element[exec->elements - 1]);
}

std::string DescribeOutcomes(const std::vector<IngestOutcome>& outcomes) {
  std::string text;
  for (const IngestOutcome& o : outcomes) {
    if (!text.empty()) text += ", ";
    std::string id = std::to_string(o.id);
    switch (o.kind) {
      case IngestOutcome::Kind::kTicket:
        text += "ticket " + id;
        if (o.followup_of) text += " (follow-up of " + std::to_string(o.followup_of) + ")";
        break;
      case IngestOutcome::Kind::kComment:
        text += "comment on ticket " + id;
        break;
      case IngestOutcome::Kind::kSuspended:
        text += "suspended " + id + " (" + o.cause + ")";
        break;
      case IngestOutcome::Kind::kDuplicate:
        text += "duplicate of ticket " + id;
        break;
    }
  }
  return text;
}

}  // namespace postdesk
