#include "gateway/delivery.h"

#include <chrono>
#include <memory>
#include <optional>
#include <vector>

#include "parser/message_parser.h"

namespace postdesk {

struct Delivery::Job {
  // Ends the delivery with what storage answered.
  void Stored(const Status& status, const std::vector<IngestOutcome>& outcomes);
  // Calls `done` once with `outcome`, then gives the job back to its owner.
  void Finish();

  uv_work_t work;
  Delivery* owner;
  SmtpTransaction transaction;
  ParsedMessage parsed;
  Classification classification;
  Done done;
  bool sent = false;       // the commands went to a connected Redis
  bool ingesting = false;  // inside TicketStore::Ingest
  bool finished = false;   // Finish() ran
  std::chrono::steady_clock::time_point started;
  // Kept with the job when it goes back to the pool, so that their strings keep their storage:
  // a warm loop builds each request and reply without allocating.
  IngestRequest request;
  DeliveryOutcome outcome;
};

ClassifierContext DeploymentClassifierContext(const AddressTable& addresses,
                                              const std::string& hostname,
                                              const TicketTokens& tokens) {
  ClassifierContext context;
  context.tokens = &tokens;
  if (!hostname.empty()) context.loop_markers = {&hostname, 1};
  context.is_support_address = [&addresses](std::string_view a) {
    return addresses.IsSupportAddress(a);
  };
  return context;
}

Classification ClassifyTransaction(const SmtpTransaction& tx, const ParsedMessage& parsed) {
  const ClassifierContext context =
      DeploymentClassifierContext(tx.state->addresses, tx.state->config.hostname, tx.state->tokens);
  // Views of the recipients, in a vector each thread keeps (loops and parsing workers both
  // classify).
  thread_local std::vector<std::string_view> recipients;
  recipients.clear();
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

void BuildIngestRequest(const SmtpTransaction& tx, ParsedMessage* parsed,
                        const Classification& classification, IngestRequest* request) {
  // ForwardedFrom below reads only the address lists, which the request does not take.
  TakeMessageInto(parsed, tx.mail_from, request);
  request->auto_notifications_suppressed = classification.auto_notifications_suppressed;
  request->recover_suspended_id = 0;
  request->recover_message.clear();
  request->transaction.assign(tx.id);
  request->policy = PolicyOf(tx.state->config.classification);
  // One target per brand, in the order of the recipients; assigned into the request's earlier
  // targets, whose strings keep their storage.
  size_t count = 0;
  for (size_t j = 0; j < tx.recipients.size(); ++j) {
    const AddressMatch& match = tx.recipients[j].match;
    bool known = false;
    for (size_t i = 0; i < j && !known; ++i) known = tx.recipients[i].match.brand == match.brand;
    if (known) continue;
    if (count == request->tickets.size()) request->tickets.emplace_back();
    NewTicketTarget& target = request->tickets[count++];
    target.brand.assign(tx.state->config.brands[match.brand].name);
    std::optional<std::string> forwarded = ForwardedFrom(*parsed, tx.state->addresses, match.brand);
    target.received_at.assign(forwarded ? *forwarded : match.received_at);
    target.cause.assign(SuspensionCauseName(classification.cause));
    target.reason.assign(classification.reason);
    target.thread_ticket = classification.thread_ticket.value_or(0);
  }
  request->tickets.resize(count);
}

Delivery::Delivery(uv_loop_t* loop, TicketStore* store) : loop_(loop), store_(store) {}

Delivery::~Delivery() = default;

std::unique_ptr<Delivery::Job> Delivery::TakeJob() {
  if (spare_jobs_.empty()) return std::make_unique<Job>();
  std::unique_ptr<Job> job = std::move(spare_jobs_.back());
  spare_jobs_.pop_back();
  job->finished = false;
  return job;
}

void Delivery::GiveBack(std::unique_ptr<Job> job) {
  // As many as the loop has had in flight at once, up to a bound: a burst's jobs are not all
  // kept for ever.
  if (spare_jobs_.size() >= kMaxSpareJobs) return;
  job->done = nullptr;
  job->transaction.state.reset();  // a reload's old configuration is not kept alive by a spare
  // A spare keeps small buffers only: one long description must not pin its size in a spare.
  for (std::string* text : {&job->request.description, &job->parsed.description}) {
    if (text->capacity() > kMaxKeptTextBytes) std::string().swap(*text);
  }
  // The raw message is not reused (the next one is moved in), so it goes now, whatever its
  // size: a burst of large messages must not stay pinned in the spares.
  std::string().swap(job->request.raw);
  spare_jobs_.push_back(std::move(job));
}

void Delivery::Deliver(SmtpTransaction* transaction, Done done) {
  std::unique_ptr<Job> job = TakeJob();
  job->owner = this;
  std::swap(job->transaction, *transaction);
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
    job->outcome = {"451 4.3.0 Error: cannot process the message now, try again later",
                    "error=\"queue_work failed\"",
                    TransactionVerdict::kTempfail,
                    {},
                    "queue_work failed"};
    job.release()->Finish();
    return;
  }
  job.release();  // owned by the work request until StoreOnLoop
}

void Delivery::ParseOnWorker(uv_work_t* work) {
  auto* job = static_cast<Job*>(work->data);
  // Into the job's message, whose strings keep their storage from the job's last delivery.
  ParseMessage(job->transaction.message, ParseLimits{}, &job->parsed);
  job->classification = ClassifyTransaction(job->transaction, job->parsed);
}

void Delivery::StoreOnLoop(uv_work_t* work, int /*status*/) {
  auto* job = static_cast<Job*>(work->data);
  // Our own Received: header is one of them.
  if (job->parsed.received_count > kMaxReceivedHeaders + 1) {
    job->outcome = {"554 5.4.6 Error: too many hops (" +
                        std::to_string(job->parsed.received_count - 1) +
                        " Received: headers): routing loop",
                    "refused=hops",
                    TransactionVerdict::kRefused,
                    {},
                    "hops"};
    job->Finish();
    return;
  }
  IngestRequest& request = job->request;
  BuildIngestRequest(job->transaction, &job->parsed, job->classification, &request);
  request.raw = std::move(job->transaction.message);
  TicketStore* store = job->owner->store_;
  // Redis latency counts only commands that were sent: a disconnected store answers at once.
  job->sent = store->connected();
  job->started = std::chrono::steady_clock::now();
  // The job rides along as the callback's one pointer, which std::function holds without
  // allocating; the store calls it exactly once (ticket_store.h), and that finishes the job.
  store->Ingest(request, [job](const Status& status, const std::vector<IngestOutcome>& outcomes) {
    job->Stored(status, outcomes);
  });
}

void Delivery::Job::Stored(const Status& status, const std::vector<IngestOutcome>& outcomes) {
  if (sent) Metrics().redis_command.Observe(std::chrono::steady_clock::now() - started);
  if (!status.ok()) {
    Metrics().redis_errors.Add();
    outcome = {"451 4.3.0 Error: ticket storage unavailable, try again later",
               "error=\"" + status.message() + "\"",
               TransactionVerdict::kTempfail,
               {},
               status.message()};
    Finish();
    return;
  }
  // Assigned piece by piece into the pooled outcome, whose buffers are warm.
  outcome.reply.assign("250 2.0.0 Ok: ");
  AppendOutcomes(outcomes, &outcome.reply);
  outcome.detail.assign("stored=\"");
  AppendOutcomes(outcomes, &outcome.detail);
  outcome.detail.push_back('"');
  outcome.verdict = VerdictOf(outcomes);
  outcome.stored = outcomes;
  outcome.error.clear();
  Finish();
}

void Delivery::Job::Finish() {
  done(transaction.session_id, outcome);
  if (ingesting) {
    finished = true;  // StoreOnLoop gives it back when Ingest returns
    return;
  }
  owner->GiveBack(std::unique_ptr<Job>(this));
}

}  // namespace postdesk
