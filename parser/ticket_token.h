// TicketTokens: the keyed references that tie mail to a ticket (design.md, "Threading and
// duplicates").
//
// A token is the ticket id in base 36 and a MAC of it, "1G7EOR-0Q2J8K": the MAC is HMAC-SHA256
// under the deployment's secret key, so a guessed or incremented id does not verify and cannot
// write into someone else's ticket. Tokens appear in notification bodies as "[1G7EOR-0Q2J8K]",
// in Reply-To plus addresses as "support+id1G7EOR-0Q2J8K@acme.test", and (with a nonce) in the
// Message-IDs of our notifications, "<pd.1G7EOR.5F3A9C.0Q2J8K@host>". Pure code, thread-safe
// (const after construction); lookups fail as std::nullopt, never throw.
#ifndef POSTDESK_PARSER_TICKET_TOKEN_H_
#define POSTDESK_PARSER_TICKET_TOKEN_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace postdesk {

class TicketTokens {
 public:
  // `key` is the secret; at least 16 bytes are expected (the caller enforces it).
  explicit TicketTokens(std::string key) : key_(std::move(key)) {}

  std::string Token(int64_t ticket_id) const;
  std::optional<int64_t> Verify(std::string_view token) const;

  // The first "[token]" in `text` that verifies; ignores ones that do not.
  std::optional<int64_t> FindInText(std::string_view text) const;
  // "id<token>" as the +tag of a local part ("support+id1G7EOR-0Q2J8K").
  std::optional<int64_t> FromPlusTag(std::string_view local_part) const;
  // `address` with "+id<token>" of `ticket_id` as the tag of its local part, what FromPlusTag
  // reads back ("support@acme.test" -> "support+id1G7EOR-0Q2J8K@acme.test"); a tag it has is
  // replaced. Nullopt when the result would not be an address every sender's MTA takes: a
  // quoted local part, no domain, or a local part over 64 octets (RFC 5321 section 4.5.3.1.1).
  std::optional<std::string> PlusAddress(int64_t ticket_id, std::string_view address) const;

  // A Message-ID for a notification about `ticket_id` (without angle brackets); `nonce` makes
  // each one unique.
  std::string MessageId(int64_t ticket_id, uint64_t nonce, std::string_view host) const;
  // The ticket of one of our Message-IDs (with or without angle brackets), if it verifies.
  std::optional<int64_t> FromMessageId(std::string_view message_id) const;

 private:
  std::string Mac(std::string_view data) const;  // 6 base-36 characters

  std::string key_;
};

}  // namespace postdesk

#endif  // POSTDESK_PARSER_TICKET_TOKEN_H_
