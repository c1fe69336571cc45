// ticket_token_fuzzer: the keyed references that thread mail into tickets (parser/ticket_token.h)
// over arbitrary input. The first 8 bytes choose a ticket id and a nonce; the rest is text as a
// sender controls it (a body, a Reply-To local part, a Message-ID, an address). Checks:
//  - every reference we write reads back to its ticket: the body token, the plus tag of
//    PlusAddress, and the Message-ID;
//  - PlusAddress never turns a valid mailbox into an invalid one, never passes RFC 5321's
//    64-octet local part, and keeps the domain;
//  - whatever the readers accept from the text carries the MAC of the ticket they name: a
//    reference is only ever accepted for the ticket its MAC was made for.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "parser/email_address.h"
#include "parser/ticket_token.h"

namespace {

const postdesk::TicketTokens& Tokens() {
  static const postdesk::TicketTokens tokens("fuzz key, sixteen bytes or more");
  return tokens;
}

// The MAC part of a token, "1G7EOR-0Q2J8K" -> "0Q2J8K".
std::string_view MacOf(std::string_view token) { return token.substr(token.find('-') + 1); }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using postdesk::TicketTokens;
  const TicketTokens& tokens = Tokens();
  uint64_t bits = 0;
  std::memcpy(&bits, data, size < sizeof(bits) ? size : sizeof(bits));
  const int64_t ticket = static_cast<int64_t>(bits >> 1) | 1;  // 1 .. INT64_MAX
  const uint64_t nonce = bits * 0x9E3779B97F4A7C15ull;
  const std::string_view text(reinterpret_cast<const char*>(data) + (size < 8 ? size : 8),
                              size < 8 ? 0 : size - 8);

  // What we write reads back.
  const std::string token = tokens.Token(ticket);
  FUZZ_CHECK(tokens.Verify(token) == ticket);
  FUZZ_CHECK(tokens.FindInText("Re: [" + token + "]") == ticket);
  FUZZ_CHECK(tokens.FromPlusTag("support+id" + token) == ticket);
  const std::string message_id = tokens.MessageId(ticket, nonce, "mx.acme.test");
  FUZZ_CHECK(tokens.FromMessageId("<" + message_id + ">") == ticket);
  FUZZ_CHECK(postdesk::IsValidMailbox(message_id));

  // PlusAddress over a sender-shaped address.
  if (std::optional<std::string> tagged = tokens.PlusAddress(ticket, text)) {
    const postdesk::AddressParts parts = postdesk::SplitAddress(*tagged);
    FUZZ_CHECK(parts.local.size() <= 64);
    FUZZ_CHECK(parts.domain == postdesk::SplitAddress(text).domain);
    FUZZ_CHECK(tokens.FromPlusTag(parts.local) == ticket);
    if (postdesk::IsValidMailbox(text)) FUZZ_CHECK(postdesk::IsValidMailbox(*tagged));
  }

  // What the readers accept from the text names a ticket whose MAC it carries.
  if (std::optional<int64_t> found = tokens.Verify(text)) {
    FUZZ_CHECK(*found > 0);
    FUZZ_CHECK(postdesk::EqualsIgnoreCase(MacOf(text), MacOf(tokens.Token(*found))));
  }
  if (std::optional<int64_t> found = tokens.FindInText(text)) {
    FUZZ_CHECK(*found > 0);
    FUZZ_CHECK(text.find('[') != std::string_view::npos);
  }
  if (std::optional<int64_t> found = tokens.FromPlusTag(text)) FUZZ_CHECK(*found > 0);
  if (std::optional<int64_t> found = tokens.FromMessageId(text)) {
    FUZZ_CHECK(*found > 0);
    FUZZ_CHECK(text.find("pd.") != std::string_view::npos);
  }
  return 0;
}
