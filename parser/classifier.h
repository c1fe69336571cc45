// Classify: what becomes of a parsed message before it is stored (design.md, "Classification:
// suspensions and loops" and "Threading and duplicates"): a suspension with Zendesk's cause
// name, a comment on an existing ticket, or a new ticket (with automatic notifications
// suppressed for bulk and list mail).
//
// Pure code over a ParsedMessage and the envelope; no I/O, thread-safe. What needs shared state
// (the per-sender rate guard, duplicates, whether a ticket is closed) is decided atomically in
// storage, after this. Never fails: an unremarkable message is a new ticket.
#ifndef POSTDESK_PARSER_CLASSIFIER_H_
#define POSTDESK_PARSER_CLASSIFIER_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "parser/message.h"
#include "parser/ticket_token.h"

namespace postdesk {

enum class SuspensionCause {
  kNone,
  kLoop,                 // our own mail came back, or a sender over the rate guard
  kBlocklisted,          // a sender blocked by the rate guard
  kFromSupportAddress,   // sent by one of our own support addresses
  kAutoDeliveryFailure,  // a bounce (DSN)
  kSystemUser,           // postmaster@ and other system senders
  kAutoVacation,         // an out-of-office reply
  kAutoMailer,           // other automatic mail
};

// Zendesk's name for a cause: "loop", "auto_vacation", ...; "" for kNone.
std::string_view SuspensionCauseName(SuspensionCause cause);

struct ClassifierContext {
  const TicketTokens* tokens = nullptr;  // required
  // X-Loop values that name this deployment (compared case-insensitively); the caller owns them.
  std::span<const std::string> loop_markers;
  // True for one of our support addresses (exact, or +tag).
  std::function<bool(std::string_view address)> is_support_address;
};

struct Classification {
  SuspensionCause cause = SuspensionCause::kNone;
  std::string reason;  // what triggered a suspension, for the log and the suspended record
  bool auto_notifications_suppressed = false;
  std::optional<int64_t> thread_ticket;  // a comment on this ticket, if it still accepts one
};

// `mail_from` is the envelope sender ("" for the null path); `recipients` the envelope
// recipients as written (their +tags may carry a ticket token).
Classification Classify(const ParsedMessage& message, std::string_view mail_from,
                        std::span<const std::string_view> recipients,
                        const ClassifierContext& context);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_CLASSIFIER_H_
