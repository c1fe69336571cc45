#include "rules/ticket_state.h"

#include <algorithm>

#include "parser/email_address.h"

namespace postdesk {

bool AddTag(std::vector<std::string>& tags, std::string_view tag) {
  auto it = std::lower_bound(tags.begin(), tags.end(), tag);
  if (it != tags.end() && *it == tag) return false;
  tags.insert(it, std::string(tag));
  return true;
}

bool RemoveTag(std::vector<std::string>& tags, std::string_view tag) {
  auto it = std::lower_bound(tags.begin(), tags.end(), tag);
  if (it == tags.end() || *it != tag) return false;
  tags.erase(it);
  return true;
}

std::vector<std::string> ParseTags(std::string_view text) {
  std::vector<std::string> tags;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find_first_of(" \t\r\n,", start);
    if (end == std::string_view::npos) end = text.size();
    if (end > start) tags.push_back(LowerAscii(text.substr(start, end - start)));
    start = end + 1;
  }
  std::sort(tags.begin(), tags.end());
  tags.erase(std::unique(tags.begin(), tags.end()), tags.end());
  return tags;
}

void FillStatePlaceholders(const TicketState& state, PlaceholderValues& values) {
  auto set = [&values](Placeholder p, std::string value) {
    values[static_cast<size_t>(p)] = std::move(value);
  };
  set(Placeholder::kTicketId, std::to_string(state.id));
  set(Placeholder::kTicketTitle, state.subject);
  set(Placeholder::kTicketDescription, state.description);
  set(Placeholder::kTicketStatus, state.status);
  set(Placeholder::kTicketPriority, state.priority);
  set(Placeholder::kTicketType, state.type);
  set(Placeholder::kTicketVia, state.via);
  set(Placeholder::kTicketRequesterName, state.requester_name);
  std::string_view name = state.requester_name;
  set(Placeholder::kTicketRequesterFirstName, std::string(name.substr(0, name.find(' '))));
  set(Placeholder::kTicketRequesterEmail, state.requester_email);
  set(Placeholder::kTicketReceivedAt, state.received_at);
  set(Placeholder::kTicketBrand, state.brand);
  std::string tags;
  for (const std::string& tag : state.tags) {
    if (!tags.empty()) tags += ' ';
    tags += tag;
  }
  set(Placeholder::kTicketTags, std::move(tags));
  set(Placeholder::kTicketAssigneeName, state.assignee);
  set(Placeholder::kTicketGroupName, state.group);
}

}  // namespace postdesk
