// The Redis key schema and the Redis 7 Functions library that writes it.
//
// Every key starts with the hash tag "{pd}", so that one function call touches one cluster slot
// and the same code runs on Redis Cluster (design.md, "Storage"):
//   {pd}:ticket:next_id            INCR counter of ticket ids
//   {pd}:ticket:<id>               hash: status priority type group assignee tags(JSON;
//                                  these five absent while empty) brand received_at
//                                  requester_email updated_at_ms version
//                                  (+1 on every write, for the workers), and core: a JSON
//                                  object of the fields that never change (id created_at_ms
//                                  subject requester_name via transaction message
//                                  description_body [description_span truncated
//                                  auto_notifications_suppressed followup_source_id], every
//                                  value a string); message and description_body are the
//                                  storage keys of the raw message and of the first comment's
//                                  body (ExpandTicketCore flattens)
//   {pd}:ticket:<id>:comments      list of JSON comments, oldest first: id created_at_ms
//                                  message body (storage keys) [body_span] author_email
//                                  author_name public via message_id attachments [{filename
//                                  content_type size content_id}]
//   {pd}:ticket:<id>:audit         list of JSON trigger results: event, fired, changes
//   {pd}:comment:next_id           INCR counter of comment ids
//   {pd}:message:<storage key>     the raw message, with our Received: header; shared by the
//                                  tickets and suspensions it made (one per brand)
//   {pd}:body:<storage key>        a comment's text (the description, for a first comment),
//                                  unless body_span / description_span ("offset,length") name
//                                  where the raw message holds it as it stands: then there is
//                                  no such key, and readers take the bytes from the raw message
//                                  and normalise their line ends (StoredText, ticket_reader.h)
//   {pd}:requester:<email>:tickets sorted set of ticket ids by creation time (ms)
//   {pd}:events                    stream read by the trigger workers: type (ticket.created,
//                                  ticket.comment_added, ticket.delayed) ticket, then for
//                                  comment_added: comment previous_status; for delayed:
//                                  actions trigger; consumer group "triggers"
//   {pd}:applied:<entry>           an events entry whose trigger result is written; expires
//   {pd}:outbox                    stream of notifications: ticket brand kind recipient
//                                  recipient_name subject body trigger event received_at
//                                  in_reply_to
//   {pd}:delayed                   sorted set of actions after a "wait", by due time (ms)
//   {pd}:suspended_senders:<brand> set of senders a trigger suspended
//   {pd}:outbox                    consumer group "outbox": the notification senders
//   {pd}:notify_rate:<t>:<rcpt>    notifications about ticket t to a recipient in the window
//   {pd}:notify_rate:<rcpt>        notifications to a recipient in the window; both expire
//   {pd}:target:<id>               hash: active ("0" when deactivated) failures last_error...
//   {pd}:suspended:next_id         INCR counter of suspended messages
//   {pd}:suspended:<id>            hash: id cause reason brand received_at sender sender_name
//                                  subject message created_at_ms transaction; expires
//   {pd}:suspended                 sorted set of suspended ids by time (pruned when read)
//   {pd}:dedupe:<brand>:<sha1>     first ticket of a Message-ID at a brand; expires
//   {pd}:rate:<brand>:<sender>     messages from a sender to a brand in the window; past the
//                                  limit it lives for the block time: the sender is blocked
// Constants and argument lists only; no I/O.
#ifndef POSTDESK_STORAGE_REDIS_FUNCTIONS_H_
#define POSTDESK_STORAGE_REDIS_FUNCTIONS_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "storage/redis_address.h"

namespace postdesk {

// A read of the schema's slot: a Redis Cluster node that does not serve it answers MOVED with
// the node that does (redis_address.h: MovedTarget), so that a client given any node of a
// cluster finds the one that holds every key. A key of the schema itself, so that an ACL user
// granted the schema's keys only (~{pd}:*) may read it.
inline constexpr const char* kSlotProbeKey = "{pd}:ticket:next_id";

// The streams of the schema above, for the code that writes and reads them.
inline constexpr const char* kEventsStream = "{pd}:events";
inline constexpr const char* kOutboxStream = "{pd}:outbox";
// The senders whose mail to `brand` is suspended (the ingest script reads it for each message,
// the suspend_sender action and `postdesk senders` write it).
inline std::string SuspendedSendersKey(std::string_view brand) {
  return "{pd}:suspended_senders:" + std::string(brand);
}

// FUNCTION LOAD REPLACE takes this source; FCALL postdesk_ingest then stores one message, in the
// MULTI ... EXEC block that IngestCommands (storage/ingest_request.h) builds, and returns one
// outcome per brand.
extern const std::string_view kFunctionsLibrary;

// A command as hiredis's *CommandArgv calls take it. The arguments are views: the strings they
// point into must outlive the call.
struct RedisArgv {
  std::vector<const char*> argv;
  std::vector<size_t> lens;

  void Add(std::string_view arg) {
    argv.push_back(arg.data());
    lens.push_back(arg.size());
  }
  int count() const { return static_cast<int>(argv.size()); }
  // As hiredis's *CommandArgv take it: non-const, though it never writes through it.
  const char** args() const { return const_cast<const char**>(argv.data()); }
  // The command as RESP text (storage/resp_command.h), appended to `out`: for a pipeline of
  // our own rather than hiredis's.
  void AppendResp(std::string* out) const;
};

// FUNCTION LOAD REPLACE <kFunctionsLibrary>
RedisArgv FunctionLoadCommand();

// AUTH [username] password, for an address with a password (the views point into `address`).
RedisArgv AuthCommand(const RedisAddress& address);
// AUTH [username] password (the views point into the arguments); no username: the default user.
RedisArgv AuthCommand(std::string_view username, std::string_view password);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_FUNCTIONS_H_
