// TicketStatus: the lifecycle of a ticket as Zendesk names it (new, open, pending, hold, solved,
// closed), shared by storage, the trigger engine and the tools.
//
// Pure code; thread-safe. Parsing an unknown name fails rather than guessing.
#ifndef POSTDESK_RULES_TICKET_STATUS_H_
#define POSTDESK_RULES_TICKET_STATUS_H_

#include <string_view>

#include "parser/result.h"

namespace postdesk {

enum class TicketStatus { kNew, kOpen, kPending, kHold, kSolved, kClosed };

std::string_view TicketStatusName(TicketStatus status);
// Case-insensitive, as Zendesk's API accepts "Solved" and "solved".
Result<TicketStatus> ParseTicketStatus(std::string_view name);

}  // namespace postdesk

#endif  // POSTDESK_RULES_TICKET_STATUS_H_
