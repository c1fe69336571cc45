// TicketState and TriggerEvent: the facts a trigger cycle reads and changes.
//
// A TicketState is the part of a ticket that trigger conditions read and actions write, as plain
// values copied out of storage. A TriggerEvent is one update of one ticket (a creation or a new
// comment) with the state before it, for the change operators ("status changed from solved"), and
// the few facts that do not live on the ticket (the comment, the hour, the requester's history).
//
// Plain values: no I/O, no locks; copy them between threads freely. Nothing here fails.
#ifndef POSTDESK_RULES_TICKET_STATE_H_
#define POSTDESK_RULES_TICKET_STATE_H_

#include <cstdint>
#include <string>
#include <vector>

#include "rules/placeholders.h"

namespace postdesk {

struct TicketState {
  int64_t id = 0;
  // Zendesk's names, lower case: new open pending hold solved closed.
  std::string status = "new";
  // "" (none), low, normal, high, urgent.
  std::string priority;
  // "" (none), question, incident, problem, task.
  std::string type;
  // Group and assignee ids as the triggers name them ("" is none). An assignee that is an email
  // address can be notified (issue 6 resolves the others through configuration).
  std::string group;
  std::string assignee;
  std::string brand;
  std::string received_at;  // the support address the ticket arrived at, lower case
  std::string via = "email";
  std::string requester_email;  // lower case
  std::string requester_name;
  std::string subject;
  std::string description;
  // Sorted, unique, lower case (Zendesk tags are case-insensitive words).
  std::vector<std::string> tags;

  bool operator==(const TicketState&) const = default;
};

// Adds or removes one tag, keeping `tags` sorted and unique. True if the list changed.
bool AddTag(std::vector<std::string>& tags, std::string_view tag);
bool RemoveTag(std::vector<std::string>& tags, std::string_view tag);
// Splits Zendesk's space-separated tag text into lower-case tags, sorted and unique.
std::vector<std::string> ParseTags(std::string_view text);

enum class UpdateType { kCreate, kChange };

struct TriggerEvent {
  UpdateType update_type = UpdateType::kCreate;
  TicketState current;
  // The state before this update. For a creation every field is empty, so that "status changed"
  // holds on a new ticket as it does in Zendesk.
  TicketState previous;
  // The comment this update added (the description on a creation).
  std::string comment;
  bool comment_is_public = true;
  // Who wrote the comment: "requester" or "end_user" (anyone else writing by email).
  std::string sender_type = "requester";
  int64_t requester_previous_tickets = 0;  // the requester's tickets before this one
  int hour_of_day = 0;                     // UTC, 0-23
  int day_of_week = 0;                     // UTC, 0 = Monday
  // Placeholder values that do not come from TicketState (the encoded id, the url, the dates,
  // the formatted comments); the engine fills in the state's own after the cycle.
  PlaceholderValues placeholders;
};

// Fills the placeholders that TicketState holds (id, status, subject, tags...) into `values`.
void FillStatePlaceholders(const TicketState& state, PlaceholderValues& values);
// The same as views of `state`, but for the id and the tags, which are written to `id_text` and
// `tags_text`: all must outlive `values`.
void FillStatePlaceholderViews(const TicketState& state, PlaceholderViews& values,
                               std::string& id_text, std::string& tags_text);

}  // namespace postdesk

#endif  // POSTDESK_RULES_TICKET_STATE_H_
