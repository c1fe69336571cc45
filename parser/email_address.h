// Mailbox addresses (RFC 5321 4.1.2, RFC 6531 3.3): validation and the normal form that address
// lookups use.
//
// Pure functions; no allocation beyond their results; never throw.
#ifndef POSTDESK_PARSER_EMAIL_ADDRESS_H_
#define POSTDESK_PARSER_EMAIL_ADDRESS_H_

#include <optional>
#include <string>
#include <string_view>

namespace postdesk {

// True for Local-part "@" Domain as RFC 5321 4.1.2 allows it, with UTF-8 in both parts
// (SMTPUTF8, RFC 6531) and an address literal as the domain. Also true for the bare
// "postmaster" that RFC 5321 4.1.1.3 requires servers to take in RCPT.
bool IsValidMailbox(std::string_view address);

// ASCII lower case of one byte; other bytes (UTF-8) are kept as they are.
inline char LowerAsciiChar(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// The same for text.
std::string LowerAscii(std::string_view text);

// The same, held on the stack when it fits, for lookups that should not allocate: a path is at
// most 256 bytes (RFC 5321 4.5.3.1.3), so an address always fits; longer text goes to the heap.
class LowerAsciiText {
 public:
  explicit LowerAsciiText(std::string_view text);
  LowerAsciiText(const LowerAsciiText&) = delete;
  LowerAsciiText& operator=(const LowerAsciiText&) = delete;

  std::string_view view() const { return view_; }

 private:
  char inline_[256];
  std::string heap_;
  std::string_view view_;
};

// Equal but for ASCII case (header names, charsets, tokens, SMTP verbs).
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

struct AddressParts {
  std::string_view local;   // before the last '@'
  std::string_view domain;  // after the last '@'; empty when there is none
};
AddressParts SplitAddress(std::string_view address);

// Subaddressing: the tag starts at the first '+' after the first character, so that a local
// part that begins with '+' (a telephone number, "+4930123456") keeps it as part of its name.
// StripPlusTag: "local+tag" -> "local", "+4930123456+tag" -> "+4930123456"; unchanged without
// a tag. PlusTag: the tag after its '+' ("tag"), nullopt without one.
std::string_view StripPlusTag(std::string_view local);
std::optional<std::string_view> PlusTag(std::string_view local);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_EMAIL_ADDRESS_H_
