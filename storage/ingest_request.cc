#include "storage/ingest_request.h"

#include <hiredis/hiredis.h>

#include <cstdio>
#include <iterator>
#include <random>

#include "parser/json_string.h"
#include "storage/redis_functions.h"
#include "storage/resp_command.h"

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
  const std::string raw_key = "{pd}:message:" + message;
  const std::string body_key = "{pd}:body:" + storage_key_;

  // The comment's members that the client knows; the script adds id, time and keys. Written by
  // hand (json_string.h): invalid UTF-8 becomes U+FFFD, and nothing here can throw.
  std::string comment;
  comment.reserve(176 + r.requester_email.size() + r.requester_name.size() + r.message_id.size() +
                  96 * r.attachments.size());
  comment.append("\"author_email\":");
  AppendJsonString(r.requester_email, &comment);
  comment.append(",\"author_name\":");
  AppendJsonString(r.requester_name, &comment);
  comment.append(",\"public\":true,\"via\":\"email\",\"message_id\":");
  AppendJsonString(r.message_id, &comment);
  // The text is then read back from the raw message (no {pd}:body: key): see ReadStoredText.
  std::string span;
  if (r.description_span) {
    span = "\"" + std::to_string(r.description_span->offset) + "," +
           std::to_string(r.description_span->length) + "\"";
    comment.append(",\"body_span\":").append(span);
  }
  if (!r.attachments.empty()) {
    comment.append(",\"attachments\":[");
    for (size_t i = 0; i < r.attachments.size(); ++i) {
      const Attachment& a = r.attachments[i];
      if (i > 0) comment.push_back(',');
      comment.append("{\"filename\":");
      AppendJsonString(a.filename, &comment);
      comment.append(",\"content_type\":");
      AppendJsonString(a.content_type, &comment);
      comment.append(",\"size\":");
      comment.append(std::to_string(a.size));
      comment.append(",\"content_id\":");
      AppendJsonString(a.content_id, &comment);
      comment.push_back('}');
    }
    comment.push_back(']');
  }

  // The ticket's core (see new_ticket in redis_functions.cc); the flags only when on, and every
  // value a string, as the hash fields around it are.
  std::string ticket;
  ticket.reserve(144 + r.subject.size() + r.requester_name.size() + r.transaction.size());
  ticket.append("\"subject\":");
  AppendJsonString(r.subject, &ticket);
  ticket.append(",\"requester_name\":");
  AppendJsonString(r.requester_name, &ticket);
  ticket.append(",\"via\":\"email\",\"transaction\":");
  AppendJsonString(r.transaction, &ticket);
  if (r.truncated) ticket.append(",\"truncated\":\"1\"");
  if (r.auto_notifications_suppressed) ticket.append(",\"auto_notifications_suppressed\":\"1\"");
  if (!span.empty()) ticket.append(",\"description_span\":").append(span);

  commands_.push_back(RespCommand({"MULTI"}).Release());
  if (!recovering) commands_.push_back(RespCommand({"SET", raw_key, r.raw}).Release());
  if (!r.description_span)
    commands_.push_back(RespCommand({"SET", body_key, r.description}).Release());

  // The argument order is the script's (postdesk_ingest in redis_functions.cc).
  std::string numbers[] = {std::to_string(r.policy.rate_limit),
                           std::to_string(r.policy.rate_window_ms),
                           std::to_string(r.policy.block_ms),
                           std::to_string(r.policy.dedupe_window_ms),
                           std::to_string(r.policy.suspended_retention_ms),
                           std::to_string(r.recover_suspended_id),
                           std::to_string(r.tickets.size())};
  std::string_view fixed[] = {"FCALL",
                              "postdesk_ingest",
                              "4",
                              "{pd}:ticket:next_id",
                              kEventsStream,
                              raw_key,
                              body_key,
                              storage_key_,
                              r.subject,
                              comment,
                              ticket,
                              r.requester_email,
                              r.requester_name,
                              r.message_id,
                              r.transaction,
                              numbers[0],
                              numbers[1],
                              numbers[2],
                              numbers[3],
                              numbers[4],
                              numbers[5],
                              recovering ? std::string_view(r.recover_message) : "",
                              numbers[6]};
  constexpr size_t kPerTarget = 5;
  size_t bytes = 0;
  for (std::string_view a : fixed) bytes += a.size();
  for (const NewTicketTarget& t : r.tickets) {
    bytes += t.brand.size() + t.received_at.size() + t.cause.size() + t.reason.size() + 20;
  }
  RespCommand fcall(std::size(fixed) + kPerTarget * r.tickets.size(), bytes);
  for (std::string_view a : fixed) fcall.Arg(a);
  for (const NewTicketTarget& t : r.tickets) {
    fcall.Arg(t.brand);
    fcall.Arg(t.received_at);
    fcall.Arg(t.cause);
    fcall.Arg(t.reason);
    fcall.Arg(std::to_string(t.thread_ticket));
  }
  commands_.push_back(fcall.Release());
  commands_.push_back(RespCommand({"EXEC"}).Release());
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
