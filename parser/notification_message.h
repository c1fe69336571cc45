// BuildNotificationMessage: the RFC 5322 message of an outbound helpdesk notification, and the
// header encoders it is made of.
//
// Pure functions: no I/O, no global state, thread-safe; never fail and never throw. Every input
// is untrusted text (subjects and names come from inbound mail): invalid UTF-8 is repaired to
// U+FFFD (utf8.h), and no input can put a CR or LF into a header, so no input can add a header
// field or end the header block early. The output is 7-bit clean except for UTF-8 in addresses
// and Message-IDs as given (RFC 6531 / RFC 6532), has CRLF line ends, and no line longer than
// 998 octets (RFC 5322 2.1.1); header lines are folded at 78 characters where the text allows,
// lines holding encoded words at 76 (RFC 2047 2).
#ifndef POSTDESK_PARSER_NOTIFICATION_MESSAGE_H_
#define POSTDESK_PARSER_NOTIFICATION_MESSAGE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace postdesk {

// At most this many Message-IDs go into References.
inline constexpr size_t kMaxReferences = 50;
// A Message-ID or address is one token that cannot be folded; past this many bytes it could not
// keep its header line within 998 octets.
inline constexpr size_t kMaxHeaderTokenLength = 900;

struct NotificationEmail {
  std::string from_name;     // the brand's name, UTF-8 (may be non-ASCII)
  std::string from_address;  // the brand's default support address
  std::string reply_to;      // the ticket's received_at address (or local+id<token>@domain)
  std::string to_name;       // may be empty
  std::string to_address;
  std::string subject;      // UTF-8, any length up to 8 KiB
  std::string body;         // UTF-8 text, \n or \r\n line ends, up to ~64 KiB
  std::string message_id;   // without angle brackets, e.g. "pd.1G7EOR.5F3A9C.0Q2J8K@mx.example"
  std::string in_reply_to;  // Message-ID (with or without <>) of the message it answers; may be ""
  std::vector<std::string> references;  // earlier Message-IDs, oldest first
  int64_t date_unix_seconds = 0;        // for the Date: header (RFC 5322 3.3, UTC, "+0000")
  std::string loop_marker;              // value of our X-Loop header, e.g. "postdesk mx.example"
  std::string ticket_token;             // e.g. "1G7EOR-0Q2J8K"
};

// The whole message with CRLF line ends, ready for SMTP DATA (not dot-stuffed: the SMTP client
// does that, RFC 5321 4.5.2). Header fields, in this order:
//   Date          RFC 5322 3.3 in UTC ("+0000"); clamped to years 1970-9999
//   From          FormatMailbox(from_name, from_address)
//   Reply-To      FormatMailbox(from_name, reply_to); omitted when reply_to is empty
//   To            FormatMailbox(to_name, to_address); "undisclosed-recipients:;" when empty
//   Subject       EncodeHeaderText(subject)
//   Message-ID    <message_id>; omitted when empty
//   In-Reply-To   <in_reply_to>; omitted when empty
//   References    references, then in_reply_to when not among them (RFC 5322 3.6.4); more than
//                 kMaxReferences keep the first and the latest (the RFC 5537 3.4.4 practice)
//   MIME-Version: 1.0
//   Content-Type: text/plain; charset=utf-8
//   Content-Transfer-Encoding: 7bit when the body is printable ASCII in lines of at most 76
//                 characters without trailing blanks or a leading "From ", else quoted-printable
//   Auto-Submitted: auto-generated (RFC 3834 5), so that autoresponders stay silent
//   X-Auto-Response-Suppress: All (Exchange's equivalent)
//   X-Loop        loop_marker (printable ASCII; others become '?'); omitted when empty
// The body gets "[ticket_token]" appended after a blank line unless it already holds it (no
// token when ticket_token is empty), and ends with a line break. Message-IDs lose blanks,
// controls and angle brackets; ones too long for a header line (kMaxHeaderTokenLength) are cut
// (Message-ID) or dropped (In-Reply-To, References).
std::string BuildNotificationMessage(const NotificationEmail& email);

// The body of an unstructured header field (Subject, RFC 5322 3.2.5), to follow "Name: ".
// CR, LF, tabs and other control characters become spaces (header injection cannot happen),
// leading and trailing blanks are dropped (receivers trim them anyway). Words that are printable
// ASCII stay as they are; runs of other words become RFC 2047 encoded words in UTF-8 ('Q' or
// 'B', whichever is shorter; at most 75 characters each; a UTF-8 sequence is never split between
// two). So does a word holding "=?", which a receiver would otherwise decode, and a word too
// long for a line. The result is folded (CRLF + space, RFC 5322 2.2.3) so that no line, with
// "`field_name`: " in front of the first, exceeds 78 characters, or 76 with encoded words.
std::string EncodeHeaderText(std::string_view utf8, std::string_view field_name = "Subject");

// A mailbox for From, To or Reply-To (RFC 5322 3.4): `"Acme, Inc." <support@acme.test>`.
// The display name is cleaned as in EncodeHeaderText and written as atoms when it is atoms, else
// as a quoted-string when it is printable ASCII (both folded at its blanks, RFC 5322 3.2.5 and
// 3.2.4), else as encoded words restricted to the characters RFC 2047 5(3) allows in a phrase.
// Without a name the result is the bare address. The address is the caller's to validate
// (IsValidMailbox); here it only loses what could break the field: controls, blanks outside
// quotes, '<' and '>', bytes past kMaxHeaderTokenLength. Folded as EncodeHeaderText for
// "`field_name`: ".
std::string FormatMailbox(std::string_view display_name, std::string_view address,
                          std::string_view field_name = "From");

}  // namespace postdesk

#endif  // POSTDESK_PARSER_NOTIFICATION_MESSAGE_H_
