// ParsedMessage: what the parser makes of one raw RFC 5322 message, the input of classification,
// storage and triggers.
//
// A plain value with no references into the raw bytes: it outlives the buffer it was parsed from
// and may be moved between threads (it is built on a worker thread and consumed on a loop).
// All text is valid UTF-8. DescriptionFromSpan (pure, any thread) rebuilds the description from
// the raw bytes when description_span is set.
#ifndef POSTDESK_PARSER_MESSAGE_H_
#define POSTDESK_PARSER_MESSAGE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace postdesk {

// Zendesk's limit on a ticket's description, in Unicode code points.
inline constexpr size_t kMaxDescriptionCodePoints = 65000;

struct Attachment {
  std::string filename;      // decoded (RFC 2047 / RFC 2231), UTF-8; may be empty
  std::string content_type;  // lower case type/subtype, e.g. "application/pdf"
  size_t size = 0;           // decoded size in bytes
  std::string content_id;    // without angle brackets; empty when absent

  friend bool operator==(const Attachment&, const Attachment&) = default;
};

// Bytes [offset, offset + length) of the raw message.
struct TextSpan {
  size_t offset = 0;
  size_t length = 0;

  friend bool operator==(const TextSpan&, const TextSpan&) = default;
};

struct ParsedMessage {
  std::string subject;     // decoded, unfolded, UTF-8; "" when absent
  std::string from_email;  // addr-spec of the first From mailbox, as written (case kept)
  std::string from_name;   // decoded display name, UTF-8; "" when absent

  std::string description;  // text of the best body part, at most kMaxDescriptionCodePoints
  bool truncated = false;   // the description was cut at kMaxDescriptionCodePoints
  // Set when the description is the best part's body as it stands in the raw message (no
  // transfer encoding, already valid UTF-8, plain text, not cut), only with line ends and blank
  // edges normalised: DescriptionFromSpan(raw) gives it back, so storage need not keep a second
  // copy of the text beside the raw message.
  std::optional<TextSpan> description_span;
  std::vector<Attachment> attachments;

  // Headers the later stages need, as written (unfolded, trimmed); empty when absent.
  std::string message_id;               // without angle brackets
  std::string in_reply_to;              // without angle brackets
  std::vector<std::string> references;  // without angle brackets, in order
  std::string auto_submitted;           // Auto-Submitted
  std::string precedence;               // Precedence
  std::vector<std::string> to;          // addr-specs of To
  std::vector<std::string> cc;          // addr-specs of Cc
  size_t received_count = 0;            // number of Received: headers

  // Classification signals (design.md, "Classification"). Optional where the mere presence of
  // the header is the signal; the value is unfolded, trimmed, raw (not RFC 2047 decoded) UTF-8.
  std::optional<std::string> list_id;                   // List-Id (RFC 2919)
  std::optional<std::string> list_unsubscribe;          // List-Unsubscribe (RFC 2369)
  std::vector<std::string> x_loop;                      // every X-Loop value, in order
  std::optional<std::string> x_autoreply;               // X-Autoreply
  std::optional<std::string> x_autorespond;             // X-Autorespond
  std::optional<std::string> x_autoresponder;           // X-Autoresponder
  std::optional<std::string> x_auto_response_suppress;  // X-Auto-Response-Suppress
  std::optional<std::string> x_failed_recipients;       // X-Failed-Recipients
  std::string content_type;  // top-level media type, lower case ("multipart/report")
  std::string report_type;   // its report-type parameter, lower case ("delivery-status")
  std::vector<std::string> delivered_to;    // addr-specs of every Delivered-To
  std::vector<std::string> x_forwarded_to;  // addr-specs of every X-Forwarded-To
  std::vector<std::string> x_original_to;   // addr-specs of every X-Original-To
  std::vector<std::string> reply_to;        // addr-specs of Reply-To

  // Set when the parser met a bound (depth, part count, header size) or malformed structure and
  // salvaged what it could. The caller still stores the raw message whole.
  std::vector<std::string> warnings;

  friend bool operator==(const ParsedMessage&, const ParsedMessage&) = default;
};

// The description text from the raw bytes that description_span names: CRLF and lone CR become
// LF, blank lines at the start and white space at the end go. "" when the span lies outside
// `raw` (a stored message that is not the parsed one).
std::string DescriptionFromSpan(std::string_view raw, TextSpan span);

// The same normalisation, in place, of text that is already valid UTF-8.
void NormalizeDescriptionText(std::string* text);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_MESSAGE_H_
