#include "gateway/delivery.h"

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "parser/message_parser.h"

namespace postdesk {

struct Delivery::Job {
  // Ends the delivery with what storage answered.
  void Stored(Result<std::vector<IngestOutcome>> outcomes);

  uv_work_t work;
  Delivery* owner;
  SmtpTransaction transaction;
  ParsedMessage parsed;
  Classification classification;
  Done done;
  bool sent = false;  // the commands went to a connected Redis
  std::chrono::steady_clock::time_point started;
};

Classification ClassifyTransaction(const SmtpTransaction& tx, const ParsedMessage& parsed) {
  ClassifierContext context;
  context.tokens = &tx.state->tokens;
  context.loop_markers = {tx.state->config.hostname};
  const AddressTable& addresses = tx.state->addresses;
  context.is_support_address = [&addresses](std::string_view a) {
    return addresses.IsSupportAddress(a);
  };
  std::vector<std::string> recipients;
  for (const SmtpRecipient& r : tx.recipients) recipients.push_back(r.address);
  return Classify(parsed, tx.mail_from, recipients, context);
}

namespace {

// The brand's external address that forwarded this message, if any, in the design's order.
std::optional<std::string> ForwardedFrom(const ParsedMessage& parsed, const AddressTable& table,
                                         size_t brand) {
  for (const auto* list : {&parsed.delivered_to, &parsed.x_forwarded_to, &parsed.x_original_to,
                           &parsed.to, &parsed.cc}) {
    for (const std::string& address : *list) {
      std::optional<AddressMatch> m = table.FindExternal(address);
      if (m && m->brand == brand) return m->received_at;
    }
  }
  return std::nullopt;
}

StoragePolicy PolicyOf(const ClassificationConfig& c) {
  StoragePolicy p;
  p.rate_limit = c.rate_limit;
  p.rate_window_ms = c.rate_window.count();
  p.block_ms = c.block_time.count();
  p.dedupe_window_ms = c.duplicate_window.count();
  p.suspended_retention_ms = c.suspended_retention.count();
  return p;
}

// A transaction to several brands counts under its first brand's outcome.
TransactionVerdict VerdictOf(const std::vector<IngestOutcome>& outcomes) {
  switch (outcomes.empty() ? IngestOutcome::Kind::kTicket : outcomes[0].kind) {
    case IngestOutcome::Kind::kTicket:
      return TransactionVerdict::kTicket;
    case IngestOutcome::Kind::kComment:
      return TransactionVerdict::kComment;
    case IngestOutcome::Kind::kSuspended:
      return TransactionVerdict::kSuspended;
    case IngestOutcome::Kind::kDuplicate:
      return TransactionVerdict::kDuplicate;
  }
  return TransactionVerdict::kTicket;
}

}  // namespace

IngestRequest BuildIngestRequest(const SmtpTransaction& tx, ParsedMessage&& parsed,
                                 const Classification& classification) {
  // ForwardedFrom below reads only the address lists, which the request does not take.
  IngestRequest request = IngestRequestFromMessage(std::move(parsed), tx.mail_from);
  request.auto_notifications_suppressed = classification.auto_notifications_suppressed;
  request.transaction = tx.id;
  request.policy = PolicyOf(tx.state->config.classification);
  std::vector<size_t> seen;
  for (const SmtpRecipient& r : tx.recipients) {
    bool known = false;
    for (size_t b : seen) known = known || b == r.match.brand;
    if (known) continue;
    seen.push_back(r.match.brand);
    NewTicketTarget target;
    target.brand = tx.state->config.brands[r.match.brand].name;
    target.received_at =
        ForwardedFrom(parsed, tx.state->addresses, r.match.brand).value_or(r.match.received_at);
    target.cause = std::string(SuspensionCauseName(classification.cause));
    target.reason = classification.reason;
    target.thread_ticket = classification.thread_ticket.value_or(0);
    request.tickets.push_back(std::move(target));
  }
  return request;
}

void Delivery::Deliver(SmtpTransaction transaction, Done done) {
  auto job = std::make_unique<Job>();
  job->owner = this;
  job->transaction = std::move(transaction);
  job->done = std::move(done);
  job->work.data = job.get();
  if (job->transaction.message.size() <= kInlineParseBytes) {
    // Parsed here: at ~1 GB/s a small message takes less time than the two thread switches of
    // the pool, and the loop stalls for at most tens of microseconds.
    ParseOnWorker(&job->work);
    StoreOnLoop(&job.release()->work, 0);
    return;
  }
  if (uv_queue_work(loop_, &job->work, &Delivery::ParseOnWorker, &Delivery::StoreOnLoop) != 0) {
    job->done(job->transaction.session_id,
              {"451 4.3.0 Error: cannot process the message now, try again later",
               "error=\"queue_work failed\"",
               TransactionVerdict::kTempfail,
               {},
               "queue_work failed"});
    return;
  }
  job.release();  // owned by the work request until StoreOnLoop
}

void Delivery::ParseOnWorker(uv_work_t* work) {
  auto* job = static_cast<Job*>(work->data);
  job->parsed = ParseMessage(job->transaction.message);
  job->classification = ClassifyTransaction(job->transaction, job->parsed);
}

void Delivery::StoreOnLoop(uv_work_t* work, int /*status*/) {
  std::unique_ptr<Job> job(static_cast<Job*>(work->data));
  uint64_t session_id = job->transaction.session_id;
  // Our own Received: header is one of them.
  if (job->parsed.received_count > kMaxReceivedHeaders + 1) {
    job->done(session_id,
              {"554 5.4.6 Error: too many hops (" + std::to_string(job->parsed.received_count - 1) +
                   " Received: headers): routing loop",
               "refused=hops",
               TransactionVerdict::kRefused,
               {},
               "hops"});
    return;
  }
  IngestRequest request =
      BuildIngestRequest(job->transaction, std::move(job->parsed), job->classification);
  request.raw = std::move(job->transaction.message);
  TicketStore* store = job->owner->store_;
  // Redis latency counts only commands that were sent: a disconnected store answers at once.
  job->sent = store->connected();
  job->started = std::chrono::steady_clock::now();
  // The job rides along as the callback's one pointer, which std::function holds without
  // allocating; the store calls it exactly once (ticket_store.h), and it frees the job.
  store->Ingest(request, [job = job.release()](Result<std::vector<IngestOutcome>> outcomes) {
    std::unique_ptr<Job> owned(job);
    owned->Stored(std::move(outcomes));
  });
}

void Delivery::Job::Stored(Result<std::vector<IngestOutcome>> outcomes) {
  const uint64_t session_id = transaction.session_id;
  if (sent) Metrics().redis_command.Observe(std::chrono::steady_clock::now() - started);
  if (!outcomes.ok()) {
    Metrics().redis_errors.Add();
    done(session_id, {"451 4.3.0 Error: ticket storage unavailable, try again later",
                      "error=\"" + outcomes.status().message() + "\"",
                      TransactionVerdict::kTempfail,
                      {},
                      outcomes.status().message()});
    return;
  }
  std::string text = DescribeOutcomes(outcomes.value());
  TransactionVerdict verdict = VerdictOf(outcomes.value());
  done(session_id, {"250 2.0.0 Ok: " + text, "stored=\"" + text + "\"", verdict,
                    std::move(outcomes).value(), ""});
}

}  // namespace postdesk
