#include "rules/ticket_status.h"

#include <array>
#include <string>

namespace postdesk {
namespace {

constexpr std::array<std::string_view, 6> kNames = {"new",    "open",   "pending",
                                                    "hold",   "solved", "closed"};

}  // namespace

std::string_view TicketStatusName(TicketStatus status) {
  return kNames[static_cast<size_t>(status)];
}

Result<TicketStatus> ParseTicketStatus(std::string_view name) {
  std::string lower(name);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  for (size_t i = 0; i < kNames.size(); ++i) {
    if (lower == kNames[i]) return static_cast<TicketStatus>(i);
  }
  return Status::Error("unknown ticket status \"" + std::string(name) + "\"");
}

}  // namespace postdesk
