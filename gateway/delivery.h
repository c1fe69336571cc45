// Delivery: what happens at the final dot. The message is parsed on the libuv thread pool (off
// the loop, so a large message never stalls other sessions), turned into one ticket per brand
// among the recipients, and stored by the loop's TicketStore in one atomic Redis call.
//
// One Delivery per loop; Deliver() and the callback run on that loop's thread. The callback gets
// the session id back, never a pointer: the session may be gone by then (timeout, disconnect),
// and the caller looks it up. It runs exactly once per Deliver(): with "250 2.0.0 Ok: ticket N"
// only after Redis acknowledged the write, or "451 4.3.0" when storage failed and nothing was
// written (the sender keeps the message and retries: RFC 5321 4.2.5).
#ifndef POSTDESK_GATEWAY_DELIVERY_H_
#define POSTDESK_GATEWAY_DELIVERY_H_

#include <uv.h>

#include <cstdint>
#include <functional>

#include "gateway/smtp_transaction.h"
#include "parser/message.h"
#include "storage/ticket_store.h"

namespace postdesk {

class Delivery {
 public:
  using Done = std::function<void(uint64_t session_id, const DeliveryOutcome& outcome)>;

  Delivery(uv_loop_t* loop, TicketStore* store) : loop_(loop), store_(store) {}

  void Deliver(SmtpTransaction transaction, Done done);
  size_t in_flight() const { return in_flight_; }

 private:
  struct Job;
  static void ParseOnWorker(uv_work_t* work);
  static void StoreOnLoop(uv_work_t* work, int status);

  uv_loop_t* const loop_;
  TicketStore* const store_;
  size_t in_flight_ = 0;
};

// The tickets a transaction makes: one per brand among its recipients, received at the first
// recipient of that brand (design.md: "one transaction to several addresses of one brand makes
// one ticket; of several brands, one each").
IngestRequest BuildIngestRequest(const SmtpTransaction& transaction, const ParsedMessage& parsed);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_DELIVERY_H_
