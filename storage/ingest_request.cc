#include "storage/ingest_request.h"

#include <hiredis/hiredis.h>

#include <cstdio>
#include <iterator>
#include <random>

#include "parser/json_string.h"
#include "storage/redis_functions.h"
#include "storage/resp_command.h"

namespace postdesk {

void TakeMessageInto(ParsedMessage* parsed, std::string_view sender, IngestRequest* request) {
  // Swapped, not copied: the description is the message's largest string after the raw bytes,
  // and a caller that keeps both objects keeps every buffer for the next message.
  request->subject.swap(parsed->subject);
  request->description.swap(parsed->description);
  request->description_span = parsed->description_span;
  request->truncated = parsed->truncated;
  request->attachments.swap(parsed->attachments);
  if (parsed->from_email.empty()) {
    request->requester_email.assign(sender);
  } else {
    request->requester_email.swap(parsed->from_email);
  }
  request->requester_name.swap(parsed->from_name);
  request->message_id.swap(parsed->message_id);
}

IngestRequest IngestRequestFromMessage(ParsedMessage&& parsed, std::string_view sender) {
  IngestRequest request;
  TakeMessageInto(&parsed, sender, &request);
  return request;
}

void AssignNewStorageKey(std::string* key) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  thread_local uint64_t prefix = generator();
  thread_local uint64_t counter = 0;
  char text[40];
  int n = std::snprintf(text, sizeof(text), "%016llx.%llx", static_cast<unsigned long long>(prefix),
                        static_cast<unsigned long long>(++counter));
  key->assign(text, static_cast<size_t>(n));
}

std::string NewStorageKey() {
  std::string key;
  AssignNewStorageKey(&key);
  return key;
}

void IngestCommands::Build(const IngestRequest& r, std::string_view storage_key) {
  const bool recovering = r.recover_suspended_id > 0;
  const std::string_view message = recovering ? std::string_view(r.recover_message) : storage_key;
  raw_key_.assign("{pd}:message:").append(message);
  body_key_.assign("{pd}:body:").append(storage_key);

  // The comment's members that the client knows; the script adds id, time and keys. Written by
  // hand (json_string.h): invalid UTF-8 becomes U+FFFD, and nothing here can throw.
  std::string& comment = comment_;
  comment.clear();
  comment.append("\"author_email\":");
  AppendJsonString(r.requester_email, &comment);
  comment.append(",\"author_name\":");
  AppendJsonString(r.requester_name, &comment);
  comment.append(",\"public\":true,\"via\":\"email\",\"message_id\":");
  AppendJsonString(r.message_id, &comment);
  // The text is then read back from the raw message (no {pd}:body: key): see StoredText.
  std::string span;
  if (r.description_span) {
    span.append("\"")
        .append(std::to_string(r.description_span->offset))
        .append(",")
        .append(std::to_string(r.description_span->length))
        .append("\"");
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
  std::string& ticket = ticket_;
  ticket.clear();
  ticket.append("\"subject\":");
  AppendJsonString(r.subject, &ticket);
  ticket.append(",\"requester_name\":");
  AppendJsonString(r.requester_name, &ticket);
  ticket.append(",\"via\":\"email\",\"transaction\":");
  AppendJsonString(r.transaction, &ticket);
  if (r.truncated) ticket.append(",\"truncated\":\"1\"");
  if (r.auto_notifications_suppressed) ticket.append(",\"auto_notifications_suppressed\":\"1\"");
  if (!span.empty()) ticket.append(",\"description_span\":").append(span);

  text_.clear();
  count_ = 0;
  splice_count_ = 0;
  auto end_command = [this] { ends_[count_++] = text_.size(); };
  // SET KEY VALUE, the value spliced when it is large.
  auto set = [&](std::string_view key, std::string_view value) {
    AppendRespArray(3, &text_);
    AppendRespBulk("SET", &text_);
    AppendRespBulk(key, &text_);
    if (AppendRespBulkOrSplice(value, &text_, &splices_[splice_count_])) ++splice_count_;
    end_command();
  };
  AppendRespCommand({"MULTI"}, &text_);
  end_command();
  if (!recovering) set(raw_key_, r.raw);
  if (!r.description_span) set(body_key_, r.description);

  // The argument order is the script's (postdesk_ingest in redis_functions.cc). Numbers this
  // short fit std::string's own buffer: no allocation.
  const std::string numbers[] = {std::to_string(r.policy.rate_limit),
                                 std::to_string(r.policy.rate_window_ms),
                                 std::to_string(r.policy.block_ms),
                                 std::to_string(r.policy.dedupe_window_ms),
                                 std::to_string(r.policy.suspended_retention_ms),
                                 std::to_string(r.recover_suspended_id),
                                 std::to_string(r.tickets.size())};
  const std::string_view fixed[] = {"FCALL",
                                    "postdesk_ingest",
                                    "4",
                                    "{pd}:ticket:next_id",
                                    kEventsStream,
                                    raw_key_,
                                    body_key_,
                                    storage_key,
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
  AppendRespArray(std::size(fixed) + kPerTarget * r.tickets.size(), &text_);
  for (std::string_view a : fixed) AppendRespBulk(a, &text_);
  for (const NewTicketTarget& t : r.tickets) {
    AppendRespBulk(t.brand, &text_);
    AppendRespBulk(t.received_at, &text_);
    AppendRespBulk(t.cause, &text_);
    AppendRespBulk(t.reason, &text_);
    AppendRespBulk(std::to_string(t.thread_ticket), &text_);
  }
  end_command();
  AppendRespCommand({"EXEC"}, &text_);
  end_command();
}

std::vector<std::string> IngestCommands::commands() const {
  std::vector<std::string> out(count_);
  size_t begin = 0;
  size_t splice = 0;
  for (size_t i = 0; i < count_; ++i) {
    // The splices within this command, their places made relative to its start.
    RespSplice within[kMaxSplices];
    size_t n = 0;
    for (; splice < splice_count_ && splices_[splice].at <= ends_[i]; ++splice) {
      within[n++] = {splices_[splice].at - begin, splices_[splice].value};
    }
    AppendSpliced(std::string_view(text_).substr(begin, ends_[i] - begin), within, n, &out[i]);
    begin = ends_[i];
  }
  return out;
}

namespace {

Status ParseIngestReply(const redisReply* reply, std::vector<IngestOutcome>* outcomes) {
  if (!reply) return Status::Error("redis: connection lost before the reply");
  if (reply->type == REDIS_REPLY_ERROR) return Status::Error(std::string("redis: ") + reply->str);
  if (reply->type != REDIS_REPLY_ARRAY || reply->elements == 0) {
    return Status::Error("redis: unexpected reply to postdesk_ingest");
  }
  // Resized, not cleared: the elements (and their cause strings) keep their storage.
  outcomes->resize(reply->elements);
  for (size_t i = 0; i < reply->elements; ++i) {
    const redisReply* e = reply->element[i];
    if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
        e->element[0]->type != REDIS_REPLY_STRING || e->element[1]->type != REDIS_REPLY_INTEGER) {
      outcomes->clear();
      return Status::Error("redis: malformed outcome from postdesk_ingest");
    }
    std::string_view kind(e->element[0]->str, e->element[0]->len);
    IngestOutcome& o = (*outcomes)[i];
    o.kind = IngestOutcome::Kind::kTicket;
    o.id = e->element[1]->integer;
    o.followup_of = 0;
    o.cause.clear();
    if (kind == "ticket") {
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
      outcomes->clear();
      return Status::Error("redis: unknown outcome \"" + std::string(kind) + "\"");
    }
  }
  return Status::Ok();
}

}  // namespace

Status ParseIngestExecReply(const redisReply* exec, std::vector<IngestOutcome>* outcomes) {
  outcomes->clear();
  if (!exec) return Status::Error("redis: connection lost before the reply");
  if (exec->type == REDIS_REPLY_ERROR) return Status::Error(std::string("redis: ") + exec->str);
  // A nil EXEC: the transaction was discarded (a command in it was refused when queued).
  if (exec->type != REDIS_REPLY_ARRAY || exec->elements == 0) {
    return Status::Error("redis: the ingest transaction was not executed");
  }
  return ParseIngestReply(exec->element[exec->elements - 1], outcomes);
}

Result<std::vector<IngestOutcome>> ParseIngestExecReply(const redisReply* exec) {
  std::vector<IngestOutcome> outcomes;
  Status status = ParseIngestExecReply(exec, &outcomes);
  if (!status.ok()) return status;
  return outcomes;
}

void AppendOutcomes(const std::vector<IngestOutcome>& outcomes, std::string* text) {
  for (size_t i = 0; i < outcomes.size(); ++i) {
    const IngestOutcome& o = outcomes[i];
    if (i) text->append(", ");
    switch (o.kind) {
      case IngestOutcome::Kind::kTicket:
        text->append("ticket ");
        AppendDecimal(o.id, text);
        if (o.followup_of) {
          text->append(" (follow-up of ");
          AppendDecimal(o.followup_of, text);
          text->push_back(')');
        }
        break;
      case IngestOutcome::Kind::kComment:
        text->append("comment on ticket ");
        AppendDecimal(o.id, text);
        break;
      case IngestOutcome::Kind::kSuspended:
        text->append("suspended ");
        AppendDecimal(o.id, text);
        text->append(" (").append(o.cause).push_back(')');
        break;
      case IngestOutcome::Kind::kDuplicate:
        text->append("duplicate of ticket ");
        AppendDecimal(o.id, text);
        break;
    }
  }
}

std::string DescribeOutcomes(const std::vector<IngestOutcome>& outcomes) {
  std::string text;
  AppendOutcomes(outcomes, &text);
  return text;
}

}  // namespace postdesk
