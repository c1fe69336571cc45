// Address headers (From, To, Cc, Delivered-To...): RFC 5322 3.4 address lists to mailboxes.
//
// Pure functions; thread-safe; never throw; a single forward pass with no recursion (comments
// nest by counting). Lenient as receivers must be (RFC 5322 4.4 obsolete syntax, RFC 6532 raw
// UTF-8): display names may mix quoted strings and encoded words (also encoded words inside
// quotes, which RFC 2047 5 forbids and everyone sends), groups are flattened, a source route in
// an angle address is dropped, and the legacy "addr (Name)" form gives the comment as the name.
#ifndef POSTDESK_PARSER_ADDRESS_LIST_H_
#define POSTDESK_PARSER_ADDRESS_LIST_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace postdesk {

struct Mailbox {
  std::string name;     // decoded display name, UTF-8, blanks trimmed; "" when absent
  std::string address;  // addr-spec as written (case kept, blanks and comments removed), UTF-8
};

// Parses the mailboxes of an address list, at most `max_mailboxes` (the rest is ignored).
// Entries with neither a name nor an address (",,", an empty group) are skipped.
// The pointer form overwrites `out`, whose mailboxes keep their storage: a warm thread parses a
// list without allocating.
std::vector<Mailbox> ParseAddressList(std::string_view raw, size_t max_mailboxes);
void ParseAddressList(std::string_view raw, size_t max_mailboxes, std::vector<Mailbox>* out);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_ADDRESS_LIST_H_
