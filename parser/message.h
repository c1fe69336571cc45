// ParsedMessage: what the parser makes of one raw RFC 5322 message, the input of classification,
// storage and triggers.
//
// A plain value with no references into the raw bytes: it outlives the buffer it was parsed from
// and may be moved between threads (it is built on a worker thread and consumed on a loop).
// All text is valid UTF-8.
#ifndef POSTDESK_PARSER_MESSAGE_H_
#define POSTDESK_PARSER_MESSAGE_H_

#include <cstddef>
#include <string>
#include <vector>

namespace postdesk {

// Zendesk's limit on a ticket's description, in Unicode code points.
inline constexpr size_t kMaxDescriptionCodePoints = 65000;

struct Attachment {
  std::string filename;      // decoded (RFC 2047 / RFC 2231), UTF-8; may be empty
  std::string content_type;  // lower case type/subtype, e.g. "application/pdf"
  size_t size = 0;           // decoded size in bytes
  std::string content_id;    // without angle brackets; empty when absent
};

struct ParsedMessage {
  std::string subject;     // decoded, unfolded, UTF-8; "" when absent
  std::string from_email;  // addr-spec of the first From mailbox, as written (case kept)
  std::string from_name;   // decoded display name, UTF-8; "" when absent

  std::string description;  // text of the best body part, at most kMaxDescriptionCodePoints
  bool truncated = false;   // the description was cut at kMaxDescriptionCodePoints
  std::vector<Attachment> attachments;

  // Headers the later stages need, as written (unfolded, trimmed); empty when absent.
  std::string message_id;                 // without angle brackets
  std::string in_reply_to;                // without angle brackets
  std::vector<std::string> references;    // without angle brackets, in order
  std::string auto_submitted;             // Auto-Submitted
  std::string precedence;                 // Precedence
  std::vector<std::string> to;            // addr-specs of To
  std::vector<std::string> cc;            // addr-specs of Cc
  size_t received_count = 0;              // number of Received: headers

  // Set when the parser met a bound (depth, part count, header size) or malformed structure and
  // salvaged what it could. The caller still stores the raw message whole.
  std::vector<std::string> warnings;
};

}  // namespace postdesk

#endif  // POSTDESK_PARSER_MESSAGE_H_
