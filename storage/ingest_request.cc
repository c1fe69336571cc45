#include "storage/ingest_request.h"

#include <hiredis/hiredis.h>

#include <nlohmann/json.hpp>

namespace postdesk {

std::string IngestMetaJson(const IngestRequest& r) {
  nlohmann::json meta = {
      {"subject", r.subject},
      {"description", r.description},
      {"truncated", r.truncated},
      {"requester_email", r.requester_email},
      {"requester_name", r.requester_name},
      {"message_id", r.message_id},
      {"auto_notifications_suppressed", r.auto_notifications_suppressed},
      {"recovering", r.recover_suspended_id > 0},
      {"suspended_id", r.recover_suspended_id},
      {"existing_message", r.recover_message},
      {"transaction", r.transaction},
      {"rate_limit", r.policy.rate_limit},
      {"rate_window_ms", r.policy.rate_window_ms},
      {"block_ms", r.policy.block_ms},
      {"dedupe_window_ms", r.policy.dedupe_window_ms},
      {"suspended_retention_ms", r.policy.suspended_retention_ms},
      {"tickets", nlohmann::json::array()},
  };
  for (const NewTicketTarget& t : r.tickets) {
    meta["tickets"].push_back({{"brand", t.brand},
                               {"received_at", t.received_at},
                               {"cause", t.cause},
                               {"reason", t.reason},
                               {"thread_ticket", t.thread_ticket}});
  }
  // Replace rather than throw on invalid UTF-8: this runs on the loops, where nothing may throw.
  return meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

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
