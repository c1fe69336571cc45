#include "rules/ticket_state.h"

#include <algorithm>

#include "parser/email_address.h"

namespace postdesk {
namespace {

// The placeholders FillStatePlaceholderViews sets from the state.
constexpr Placeholder kStatePlaceholders[] = {
    Placeholder::kTicketId,
    Placeholder::kTicketTitle,
    Placeholder::kTicketDescription,
    Placeholder::kTicketStatus,
    Placeholder::kTicketPriority,
    Placeholder::kTicketType,
    Placeholder::kTicketVia,
    Placeholder::kTicketRequesterName,
    Placeholder::kTicketRequesterFirstName,
    Placeholder::kTicketRequesterEmail,
    Placeholder::kTicketReceivedAt,
    Placeholder::kTicketBrand,
    Placeholder::kTicketTags,
    Placeholder::kTicketAssigneeName,
    Placeholder::kTicketGroupName,
};

}  // namespace

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
  PlaceholderViews views;
  std::string id_text;
  std::string tags_text;
  FillStatePlaceholderViews(state, views, id_text, tags_text);
  // Exactly the entries FillStatePlaceholderViews sets.
  for (Placeholder p : kStatePlaceholders) {
    values[static_cast<size_t>(p)] = std::string(views[static_cast<size_t>(p)]);
  }
}

void FillStatePlaceholderViews(const TicketState& state, PlaceholderViews& values,
                               std::string& id_text, std::string& tags_text) {
  auto set = [&values](Placeholder p, std::string_view value) {
    values[static_cast<size_t>(p)] = value;
  };
  id_text = std::to_string(state.id);
  set(Placeholder::kTicketId, id_text);
  set(Placeholder::kTicketTitle, state.subject);
  set(Placeholder::kTicketDescription, state.description);
  set(Placeholder::kTicketStatus, state.status);
  set(Placeholder::kTicketPriority, state.priority);
  set(Placeholder::kTicketType, state.type);
  set(Placeholder::kTicketVia, state.via);
  set(Placeholder::kTicketRequesterName, state.requester_name);
  std::string_view name = state.requester_name;
  set(Placeholder::kTicketRequesterFirstName, name.substr(0, name.find(' ')));
  set(Placeholder::kTicketRequesterEmail, state.requester_email);
  set(Placeholder::kTicketReceivedAt, state.received_at);
  set(Placeholder::kTicketBrand, state.brand);
  tags_text.clear();
  for (const std::string& tag : state.tags) {
    if (!tags_text.empty()) tags_text += ' ';
    tags_text += tag;
  }
  set(Placeholder::kTicketTags, tags_text);
  set(Placeholder::kTicketAssigneeName, state.assignee);
  set(Placeholder::kTicketGroupName, state.group);
}

}  // namespace postdesk
