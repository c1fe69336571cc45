// SmtpTransaction: one accepted message as the session hands it to delivery, and the outcome
// that delivery hands back.
//
// Plain values, moved from the loop to a parsing worker thread and back; they reference nothing.
#ifndef POSTDESK_GATEWAY_SMTP_TRANSACTION_H_
#define POSTDESK_GATEWAY_SMTP_TRANSACTION_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "gateway/address_table.h"
#include "gateway/config.h"
#include "gateway/metrics.h"
#include "gateway/tls_stream.h"
#include "parser/ticket_token.h"
#include "storage/ingest_request.h"

namespace postdesk {

// What the loops share read-only: the configuration and the address table built from it. A
// reload (SIGHUP) makes a new one; sessions keep the one they started with.
struct ServingState {
  explicit ServingState(Config c, std::shared_ptr<const TlsContext> tls_context = nullptr)
      : config(std::move(c)),
        addresses(config.brands),
        tokens(config.classification.token_secret),
        tls(std::move(tls_context)) {}
  Config config;
  AddressTable addresses;
  TicketTokens tokens;
  std::shared_ptr<const TlsContext> tls;  // null: no STARTTLS, no implicit TLS
};

struct SmtpRecipient {
  std::string address;  // as the client wrote it
  AddressMatch match;
};

struct SmtpTransaction {
  uint64_t session_id = 0;
  std::string id;         // the transaction's id, also in the Received: header and the log
  std::string client_ip;
  std::string helo;
  std::string mail_from;  // "" for the null reverse-path
  std::vector<SmtpRecipient> recipients;
  std::string message;    // our Received: header, then the message as received
  std::shared_ptr<const ServingState> state;
};

// How delivery ended: the reply line for the client (without CRLF), what the text log says,
// and, for metrics and the JSON log, the verdict with what was stored or why nothing was.
struct DeliveryOutcome {
  std::string reply;   // e.g. "250 2.0.0 Ok: ticket 12"
  std::string detail;  // e.g. "tickets=12" or "redis: connection refused"
  TransactionVerdict verdict = TransactionVerdict::kTempfail;
  std::vector<IngestOutcome> stored{};  // per brand, when Redis stored the message
  std::string error{};                  // refused or tempfail: why ("hops", the Redis error)
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_SMTP_TRANSACTION_H_
