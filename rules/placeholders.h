// MessageTemplate: the text of a trigger notification, with Zendesk's placeholders written the
// Liquid way ("Ticket {{ticket.id}} is now {{ ticket.status }}").
//
// Compile parses the template once and keeps its own copy of the literal text, so the input may
// be freed afterwards; the template owns nothing else. Only plain placeholders are supported: an
// unknown name, a Liquid filter ("{{ticket.title | upcase}}"), a Liquid tag ("{% if %}"), an
// unterminated "{{", invalid UTF-8 and text over kMaxTemplateChars code points are refused at
// Compile with a Status whose message names the offence and its character position, because a
// trigger that silently renders "{{ticket.titel}}" to every requester is worse than a trigger an
// administrator cannot save. Render cannot fail.
//
// A compiled template is an immutable value: copyable, movable, and safe to Render from many
// threads at once. Rendering substitutes each value verbatim (no escaping, no re-expansion of
// "{{" inside a value) in one linear pass, so its cost and output size are the literal text plus
// one copy of a value per occurrence of its placeholder.
#ifndef POSTDESK_RULES_PLACEHOLDERS_H_
#define POSTDESK_RULES_PLACEHOLDERS_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parser/result.h"

namespace postdesk {

// The placeholders a notification may use. The comment gives the names Compile accepts; the
// first is the canonical one that PlaceholderName returns.
enum class Placeholder {
  kTicketId,                   // ticket.id
  kTicketTitle,                // ticket.title
  kTicketDescription,          // ticket.description
  kTicketLatestComment,        // ticket.latest_comment
  kTicketLatestPublicComment,  // ticket.latest_public_comment
  kTicketCommentsFormatted,    // ticket.comments_formatted
  kTicketStatus,               // ticket.status
  kTicketPriority,             // ticket.priority
  kTicketType,                 // ticket.ticket_type, ticket.type
  kTicketVia,                  // ticket.via
  kTicketRequesterName,        // ticket.requester.name
  kTicketRequesterFirstName,   // ticket.requester.first_name
  kTicketRequesterEmail,       // ticket.requester.email
  kTicketReceivedAt,           // ticket.received_at, ticket.recipient: the address mailed to
  kTicketBrand,                // ticket.brand, ticket.brand.name
  kTicketTags,                 // ticket.tags
  kTicketAssigneeName,         // ticket.assignee.name
  kTicketGroupName,            // ticket.group.name
  kTicketCreatedAt,            // ticket.created_at
  kTicketUpdatedAt,            // ticket.updated_at
  kTicketUrl,                  // ticket.url, ticket.link
  kTicketEncodedId,            // ticket.encoded_id
  kCurrentUserName,            // current_user.name
  kCurrentUserEmail,           // current_user.email
  kCount                       // number of placeholders, not a placeholder
};

// Indexed by Placeholder: the caller fills in the entries the template uses (see used()).
using PlaceholderValues = std::array<std::string, static_cast<size_t>(Placeholder::kCount)>;

// The same, as views of values kept elsewhere: what the trigger cycle renders from, so that no
// value is copied but into the output.
using PlaceholderViews = std::array<std::string_view, static_cast<size_t>(Placeholder::kCount)>;

// Canonical name, e.g. "ticket.id"; empty for kCount.
std::string_view PlaceholderName(Placeholder p);

// The bit of `p` in MessageTemplate::used().
constexpr uint32_t PlaceholderBit(Placeholder p) { return uint32_t{1} << static_cast<int>(p); }

class MessageTemplate {
 public:
  // Counted in Unicode code points, as an administrator counts what they typed.
  static constexpr size_t kMaxTemplateChars = 8192;

  // Parses `text` once. Whitespace inside the braces is allowed ("{{ ticket.id }}"); names are
  // case-sensitive, as in Liquid. A single "{" or "}" is literal text. Error messages give the
  // 1-based position in code points of the offending "{{" or "{%".
  static Result<MessageTemplate> Compile(std::string_view text);

  // The template with every placeholder replaced by values[placeholder]; literal text is copied.
  // Entries for placeholders the template does not use are ignored.
  std::string Render(const PlaceholderValues& values) const;
  std::string Render(const PlaceholderViews& values) const;

  // Bitmask (PlaceholderBit) of the placeholders that occur, so that callers compute only those:
  // ticket.comments_formatted means reading every comment.
  uint32_t used() const { return used_; }

 private:
  // A run of literal text followed by at most one placeholder. Offsets, not string_views, into
  // literals_: a moved-from short std::string takes its characters with it, so views would
  // dangle after Result<MessageTemplate> is moved.
  struct Segment {
    uint32_t literal_begin;
    uint32_t literal_size;
    Placeholder placeholder;  // kCount when the segment is only literal text
  };

  MessageTemplate() = default;

  std::string literals_;  // all literal text, concatenated in order
  std::vector<Segment> segments_;
  // How many times each placeholder occurs, so that Render sizes its output exactly up front.
  std::array<uint32_t, static_cast<size_t>(Placeholder::kCount)> occurrences_{};
  uint32_t used_ = 0;
};

}  // namespace postdesk

#endif  // POSTDESK_RULES_PLACEHOLDERS_H_
