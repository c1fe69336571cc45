#include "gateway/delivery.h"

#include <memory>
#include <vector>

#include "parser/message_parser.h"

namespace postdesk {

struct Delivery::Job {
  uv_work_t work;
  Delivery* owner;
  SmtpTransaction transaction;
  ParsedMessage parsed;
  Done done;
};

IngestRequest BuildIngestRequest(const SmtpTransaction& tx, const ParsedMessage& parsed) {
  IngestRequest request;
  request.subject = parsed.subject;
  request.description = parsed.description;
  request.truncated = parsed.truncated;
  // The requester is the From: mailbox; without one, the envelope sender.
  request.requester_email = parsed.from_email.empty() ? tx.mail_from : parsed.from_email;
  request.requester_name = parsed.from_name;
  request.transaction = tx.id;
  std::vector<size_t> seen;
  for (const SmtpRecipient& r : tx.recipients) {
    bool known = false;
    for (size_t b : seen) known = known || b == r.match.brand;
    if (known) continue;
    seen.push_back(r.match.brand);
    request.tickets.push_back({tx.state->config.brands[r.match.brand].name, r.match.received_at});
  }
  return request;
}

void Delivery::Deliver(SmtpTransaction transaction, Done done) {
  auto job = std::make_unique<Job>();
  job->owner = this;
  job->transaction = std::move(transaction);
  job->done = std::move(done);
  job->work.data = job.get();
  if (uv_queue_work(loop_, &job->work, &Delivery::ParseOnWorker, &Delivery::StoreOnLoop) != 0) {
    job->done(job->transaction.session_id,
              {"451 4.3.0 Error: cannot process the message now, try again later", "queue_work failed"});
    return;
  }
  ++in_flight_;
  job.release();  // owned by the work request until StoreOnLoop
}

void Delivery::ParseOnWorker(uv_work_t* work) {
  auto* job = static_cast<Job*>(work->data);
  job->parsed = ParseMessage(job->transaction.message);
}

void Delivery::StoreOnLoop(uv_work_t* work, int /*status*/) {
  std::unique_ptr<Job> job(static_cast<Job*>(work->data));
  Delivery* self = job->owner;
  IngestRequest request = BuildIngestRequest(job->transaction, job->parsed);
  request.raw = std::move(job->transaction.message);
  uint64_t session_id = job->transaction.session_id;
  Done done = std::move(job->done);
  self->store_->Ingest(request, [self, session_id, done = std::move(done)](
                                    Result<std::vector<int64_t>> ids) {
    --self->in_flight_;
    if (!ids.ok() || ids.value().empty()) {
      std::string why = ids.ok() ? "redis: no ticket id returned" : ids.status().message();
      done(session_id,
           {"451 4.3.0 Error: ticket storage unavailable, try again later", "error=\"" + why + "\""});
      return;
    }
    std::string list;
    for (int64_t id : ids.value()) list += (list.empty() ? "" : " ") + std::to_string(id);
    bool many = ids.value().size() > 1;
    done(session_id, {std::string("250 2.0.0 Ok: ticket") + (many ? "s " : " ") + list,
                      "tickets=" + list});
  });
}

}  // namespace postdesk
