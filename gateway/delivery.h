// Delivery: what happens at the final dot. The message is parsed and classified on the loop when
// it is small (kInlineParseBytes), else on the libuv thread pool (off the loop, so a large
// message never stalls other sessions), turned into one
// outcome per brand among the recipients (a ticket, a comment, a suspension, or nothing for a
// duplicate), and stored by the loop's TicketStore in one atomic Redis call.
//
// One Delivery per loop; Deliver() and the callback run on that loop's thread. The callback gets
// the session id back, never a pointer: the session may be gone by then (timeout, disconnect),
// and the caller looks it up. It runs exactly once per Deliver(): with "250 2.0.0 Ok: ticket N"
// (or "comment on ticket N", "suspended N (cause)", "duplicate of ticket N") only after Redis
// acknowledged the write; "451 4.3.0" when storage failed and nothing was written (the sender
// keeps the message and retries: RFC 5321 4.2.5); "554 5.4.6" for more than 100 Received:
// headers (a routing loop, RFC 5321 6.3). The callback may run before Deliver() returns (a small
// message while storage is down).
#ifndef POSTDESK_GATEWAY_DELIVERY_H_
#define POSTDESK_GATEWAY_DELIVERY_H_

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "gateway/smtp_transaction.h"
#include "parser/classifier.h"
#include "parser/message.h"
#include "storage/ticket_store.h"

namespace postdesk {

class Delivery {
 public:
  using Done = std::function<void(uint64_t session_id, const DeliveryOutcome& outcome)>;

  Delivery(uv_loop_t* loop, TicketStore* store);
  ~Delivery();

  // Takes what `transaction` holds, and leaves there the buffers of an earlier one (a spare
  // job's), so that the caller refills them without allocating.
  void Deliver(SmtpTransaction* transaction, Done done);

 private:
  struct Job;
  static constexpr size_t kMaxSpareJobs = 256;
  static constexpr size_t kMaxKeptTextBytes = 64 * 1024;

  static void ParseOnWorker(uv_work_t* work);
  static void StoreOnLoop(uv_work_t* work, int status);
  std::unique_ptr<Job> TakeJob();
  void GiveBack(std::unique_ptr<Job> job);

  uv_loop_t* const loop_;
  TicketStore* const store_;
  // Finished jobs, reused by the next deliveries (with the capacity of their buffers).
  std::vector<std::unique_ptr<Job>> spare_jobs_;
};

// Messages up to this size are parsed on the loop itself.
inline constexpr size_t kInlineParseBytes = 64 * 1024;

// Received: headers past which a message is a routing loop (RFC 5321 6.3; Postfix's
// hopcount_limit has the same default).
inline constexpr size_t kMaxReceivedHeaders = 100;

// The classifier's view of a deployment: its support addresses, its loop marker (`hostname`;
// none when empty) and its tokens, which must outlive the context. One function for the
// gateway and `postdesk parse`, so that the tool's verdict is the gateway's.
ClassifierContext DeploymentClassifierContext(const AddressTable& addresses,
                                              const std::string& hostname,
                                              const TicketTokens& tokens);

// The classification of a transaction's message, with this deployment's tokens, loop marker
// and support addresses.
Classification ClassifyTransaction(const SmtpTransaction& transaction, const ParsedMessage& parsed);

// What a transaction asks of storage: one target per brand among its recipients, received at
// the first recipient of that brand or, for forwarded mail, at the brand's registered external
// address named in Delivered-To, X-Forwarded-To, X-Original-To, To or Cc (design.md,
// "Addresses and brands"). The texts of `parsed` trade places with those of `request`
// (TakeMessageInto), whose every field is set.
void BuildIngestRequest(const SmtpTransaction& transaction, ParsedMessage* parsed,
                        const Classification& classification, IngestRequest* request);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_DELIVERY_H_
