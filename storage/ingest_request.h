// IngestRequest and IngestOutcome: what one stored message asks of Redis, and what became of it
// there, plus their wire form: IngestCommands, the MULTI ... EXEC block around FCALL
// postdesk_ingest (storage/redis_functions.h).
//
// Plain values; the conversions are pure and thread-safe (NewStorageKey uses a thread_local
// generator). ParseIngestExecReply fails with a Status naming what was unexpected.
#ifndef POSTDESK_STORAGE_INGEST_REQUEST_H_
#define POSTDESK_STORAGE_INGEST_REQUEST_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "parser/message.h"
#include "parser/result.h"
#include "storage/resp_command.h"

struct redisReply;

namespace postdesk {

// One brand among the recipients, and what classification decided for it.
struct NewTicketTarget {
  std::string brand;
  std::string received_at;
  std::string cause;          // a suspension cause ("auto_vacation"...), or "" to store
  std::string reason;         // why, for the suspended record
  int64_t thread_ticket = 0;  // add a comment to this ticket when it is open (0: none)
};

// The guards that storage applies atomically (design.md: Classification, duplicates).
struct StoragePolicy {
  int64_t rate_limit = 20;                         // messages per sender and brand...
  int64_t rate_window_ms = 3600 * 1000;            // ...within this window
  int64_t block_ms = 3600 * 1000;                  // then the sender is blocked this long
  int64_t dedupe_window_ms = 7 * 24 * 3600 * 1000LL;  // same Message-ID, same brand
  int64_t suspended_retention_ms = 14 * 24 * 3600 * 1000LL;
};

struct IngestRequest {
  std::string subject;
  std::string description;  // valid UTF-8
  // Where `raw` holds the description (ParsedMessage::description_span): then only the raw
  // message is stored, and readers rebuild the text from it (StoredText, ticket_reader.h).
  std::optional<TextSpan> description_span;
  bool truncated = false;
  std::vector<Attachment> attachments;  // recorded on the comment (the bytes stay in `raw`)
  std::string requester_email;
  std::string requester_name;
  std::string message_id;   // for duplicate detection; "" when the message has none
  bool auto_notifications_suppressed = false;
  // Set when an operator recovers suspended message N: its record goes, its stored raw message
  // (storage key `recover_message`) is reused, and no guard (duplicates, rate) applies.
  int64_t recover_suspended_id = 0;
  std::string recover_message;
  std::string transaction;  // the SMTP transaction id, for tracing
  std::vector<NewTicketTarget> tickets;  // one per brand
  StoragePolicy policy;
  std::string raw;          // the whole message as stored
};

// A request's message part, moved out of what the parser made of it: subject, description and
// its span, attachments, requester and Message-ID. The requester is the From: mailbox; without
// one, `sender` (the envelope sender, or a suspended record's). Callers add the targets, policy
// and transaction.
// TakeMessageInto does the same into an existing request: each text trades places with the
// request's (what `parsed` is left holding is unspecified), so that a caller reusing both keeps
// their buffers.
IngestRequest IngestRequestFromMessage(ParsedMessage&& parsed, std::string_view sender);
void TakeMessageInto(ParsedMessage* parsed, std::string_view sender, IngestRequest* request);

struct IngestOutcome {
  enum class Kind { kTicket, kComment, kSuspended, kDuplicate };
  Kind kind = Kind::kTicket;
  int64_t id = 0;           // the ticket (ticket, comment, duplicate) or suspended message
  int64_t followup_of = 0;  // kTicket: the closed ticket a reply named
  std::string cause;        // kSuspended
};

// A key that no other message of any gateway node uses: 64 random bits from the system's
// generator, once per thread, and a counter. Names the raw message ({pd}:message:<key>) and the
// comment body ({pd}:body:<key>) of one IngestRequest. The Assign form reuses `key`'s buffer.
std::string NewStorageKey();
void AssignNewStorageKey(std::string* key);

// The commands that store one request, in order, to send pipelined on one connection:
//   MULTI
//   SET {pd}:message:<key> RAW            (not when recovering: the record's message is kept)
//   SET {pd}:body:<key> DESCRIPTION       (not when the description is a span of the raw message)
//   FCALL postdesk_ingest 4 ... <small positional arguments>
//   EXEC
// Only EXEC's reply matters (ParseIngestExecReply); the others are +OK and +QUEUED. MULTI makes
// the block one atomic step, as design.md's storage asks: all of it is stored, or none. The
// large values go with SET so that the script never holds them (redis_functions.cc says why).
// The commands are RESP text (storage/resp_command.h), back to back in one buffer, except that
// a raw message or description of kRespSpliceBytes or more is not copied there: splices() say
// where their bytes belong, and they are read from the request until the block is sent (a
// gathered write). Build() may be called again for the next request: the buffers keep their
// capacity, so a loop that reuses one IngestCommands allocates nothing here once warm.
class IngestCommands {
 public:
  IngestCommands() = default;
  IngestCommands(const IngestRequest& request, std::string_view storage_key) {
    Build(request, storage_key);
  }

  // `request` must outlive the use of splices() (its raw message and description stay there).
  void Build(const IngestRequest& request, std::string_view storage_key);

  size_t size() const { return count_; }
  // Every command, back to back, without the spliced values; valid until the next Build().
  std::string_view text() const { return text_; }
  const RespSplice* splices() const { return splices_; }
  size_t splice_count() const { return splice_count_; }
  // Each command whole (spliced values put in): copies, for RedisConnection::PipelineFormatted.
  std::vector<std::string> commands() const;

 private:
  static constexpr size_t kMaxCommands = 5;
  static constexpr size_t kMaxSplices = 2;  // the raw message and the description
  std::string text_;
  size_t ends_[kMaxCommands] = {};  // where each command ends in text_
  size_t count_ = 0;
  RespSplice splices_[kMaxSplices] = {};
  size_t splice_count_ = 0;
  std::string raw_key_, body_key_, comment_, ticket_;  // scratch, reused by Build()
};

// EXEC's reply to IngestCommands: the outcomes FCALL returned, one per target. The pointer form
// fills `outcomes` (emptied on failure) reusing its storage, for the gateway's hot path.
Status ParseIngestExecReply(const redisReply* exec_reply, std::vector<IngestOutcome>* outcomes);
Result<std::vector<IngestOutcome>> ParseIngestExecReply(const redisReply* exec_reply);

// The SMTP reply text for outcomes, e.g. "ticket 12", "comment on ticket 12",
// "suspended 4 (auto_vacation)", "duplicate of ticket 12"; joined with ", ". AppendOutcomes
// writes it at the end of `text`.
void AppendOutcomes(const std::vector<IngestOutcome>& outcomes, std::string* text);
std::string DescribeOutcomes(const std::vector<IngestOutcome>& outcomes);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_INGEST_REQUEST_H_
