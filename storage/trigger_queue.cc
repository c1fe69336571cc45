#include "storage/trigger_queue.h"

#include <hiredis/hiredis.h>

#include <nlohmann/json.hpp>

#include "parser/email_address.h"
#include "storage/redis_functions.h"
#include "storage/redis_stream.h"
#include "storage/ticket_reader.h"

namespace postdesk {
namespace {

using Json = nlohmann::json;

constexpr std::string_view kDelayed = "{pd}:delayed";

std::string Field(const std::map<std::string, std::string>& map, const std::string& key) {
  auto it = map.find(key);
  return it == map.end() ? std::string() : it->second;
}

std::vector<std::string> TagsFromJson(const std::string& text) {
  std::vector<std::string> tags;
  Json list = Json::parse(text, nullptr, false);
  if (list.is_array()) {
    for (const Json& tag : list) {
      if (tag.is_string()) AddTag(tags, LowerAscii(tag.get<std::string>()));
    }
  }
  return tags;
}

TicketState StateFromHash(const std::map<std::string, std::string>& hash) {
  TicketState state;
  state.id = ParseStoredInt(Field(hash, "id"));
  state.status = Field(hash, "status");
  state.priority = Field(hash, "priority");
  state.type = Field(hash, "type");
  state.group = Field(hash, "group");
  state.assignee = Field(hash, "assignee");
  state.brand = Field(hash, "brand");
  state.received_at = LowerAscii(Field(hash, "received_at"));
  state.via = Field(hash, "via");
  state.requester_email = LowerAscii(Field(hash, "requester_email"));
  state.requester_name = Field(hash, "requester_name");
  state.subject = Field(hash, "subject");
  state.tags = TagsFromJson(Field(hash, "tags"));
  return state;
}

// The update's time, from the stream entry id's milliseconds.
void SetClock(const std::string& entry_id, TriggerEvent& event) {
  int64_t ms = ParseStoredInt(entry_id.substr(0, entry_id.find('-')));
  int64_t days = ms / 86400000;
  event.hour_of_day = static_cast<int>((ms / 3600000) % 24);
  event.day_of_week = static_cast<int>((days + 3) % 7);  // 1970-01-01 was a Thursday
}

std::string KindName(TriggerActionKind kind) {
  switch (kind) {
    case TriggerActionKind::kNotifyGroup:
      return "group";
    case TriggerActionKind::kNotifyTarget:
      return "target";
    default:
      return "user";
  }
}

}  // namespace

std::string TicketChangesJson(const TicketState& before, const TicketState& after) {
  Json changes = Json::object();
  auto diff = [&changes](const char* name, const std::string& a, const std::string& b) {
    if (a != b) changes[name] = b;
  };
  diff("status", before.status, after.status);
  diff("priority", before.priority, after.priority);
  diff("type", before.type, after.type);
  diff("group", before.group, after.group);
  diff("assignee", before.assignee, after.assignee);
  if (before.tags != after.tags) changes["tags"] = Json(after.tags).dump();
  return changes.dump(-1, ' ', false, Json::error_handler_t::replace);
}

Result<std::unique_ptr<TriggerQueue>> TriggerQueue::Connect(const RedisAddress& address,
                                                            std::string consumer) {
  Result<std::unique_ptr<RedisConnection>> connection = RedisConnection::Connect(address);
  if (!connection.ok()) return connection.status();
  // A `postdesk workers` process may start before any gateway has loaded the functions.
  Status functions = connection.value()->LoadFunctions();
  if (!functions.ok()) return functions;
  Status group = CreateStreamGroup(*connection.value(), kEventsStream, kTriggerGroup);
  if (!group.ok()) return group;
  return std::unique_ptr<TriggerQueue>(
      new TriggerQueue(std::move(connection).value(), std::move(consumer)));
}

Result<std::vector<TriggerQueueEntry>> TriggerQueue::ReadNew(size_t count, int block_ms) {
  return ReadStreamGroup(*connection_, kEventsStream, kTriggerGroup, consumer_, count, block_ms);
}

Result<std::vector<TriggerQueueEntry>> TriggerQueue::ClaimStale(int64_t min_idle_ms, size_t count) {
  return ClaimStreamEntries(*connection_, kEventsStream, kTriggerGroup, consumer_, min_idle_ms,
                            count);
}

Result<int64_t> TriggerQueue::ReleaseDelayed(size_t count) {
  std::string n = std::to_string(count);
  RedisReplyPtr r = connection_->CommandArgv(
      {"FCALL", "postdesk_release_delayed", "2", kDelayed, kEventsStream, n});
  if (!r) return Status::Error(connection_->LastError());
  if (r->type != REDIS_REPLY_INTEGER) return Status::Error("redis: release: " + ReplyText(r.get()));
  return static_cast<int64_t>(r->integer);
}

Result<LoadedTriggerEvent> TriggerQueue::Load(const TriggerQueueEntry& entry,
                                              const TicketTokens* tokens,
                                              const std::set<std::string>* agents) {
  LoadedTriggerEvent loaded;
  int64_t id = ParseStoredInt(Field(entry.fields, "ticket"));
  std::string type = Field(entry.fields, "type");
  std::string key = "{pd}:ticket:" + std::to_string(id);
  // Two round trips: the ticket with the comment this update added, then the texts (the
  // description and the comment's body) with the requester's earlier tickets.
  // A new ticket's event names no comment: its comment is the first. A delayed action's names
  // none either, and reads the latest.
  std::string index = Field(entry.fields, "comment");
  if (index.empty()) index = type == "ticket.created" ? "0" : "-1";
  std::string comments_key = key + ":comments";
  RedisArgv hgetall, lindex;
  for (std::string_view arg : {std::string_view("HGETALL"), std::string_view(key)}) {
    hgetall.Add(arg);
  }
  for (std::string_view arg :
       {std::string_view("LINDEX"), std::string_view(comments_key), std::string_view(index)}) {
    lindex.Add(arg);
  }
  Result<std::vector<RedisReplyPtr>> first = connection_->Pipeline({hgetall, lindex});
  if (!first.ok()) return first.status();
  const redisReply* fields = first.value()[0].get();
  if (!fields || fields->type != REDIS_REPLY_ARRAY) {
    return Status::Error("redis: unexpected reply to HGETALL " + key);
  }
  std::map<std::string, std::string> hash;
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    hash[ReplyText(fields->element[i])] = ReplyText(fields->element[i + 1]);
  }
  ExpandTicketCore(&hash);
  if (id <= 0 || hash.empty()) return loaded;  // ticket_id 0: nothing to apply
  loaded.ticket_id = id;
  loaded.version = ParseStoredInt(Field(hash, "version"));
  loaded.auto_notifications_suppressed = Field(hash, "auto_notifications_suppressed") == "1";
  TriggerEvent& event = loaded.event;
  event.current = StateFromHash(hash);
  SetClock(entry.id, event);

  if (type == "ticket.delayed") {
    loaded.delayed_actions_json = Field(entry.fields, "actions");
    loaded.delayed_trigger_id = Field(entry.fields, "trigger");
    event.update_type = UpdateType::kChange;
    event.previous = event.current;
  } else if (type == "ticket.created") {
    event.update_type = UpdateType::kCreate;
    event.previous = TicketState{};
    event.previous.status.clear();
    event.previous.via.clear();
  } else {
    event.update_type = UpdateType::kChange;
    event.previous = event.current;
    std::string before = Field(entry.fields, "previous_status");
    if (!before.empty()) event.previous.status = before;
  }

  // The comment this update added, its author, and the requester's earlier tickets.
  const redisReply* comment = first.value()[1].get();
  std::string author = event.current.requester_email;
  int64_t created_ms = ParseStoredInt(Field(hash, "created_at_ms"));
  int64_t comment_ms = created_ms;
  std::string author_name = event.current.requester_name;
  std::string body_key, body_message, body_span;
  if (comment && comment->type == REDIS_REPLY_STRING) {
    Json c = Json::parse(ReplyText(comment), nullptr, false);
    if (c.is_object()) {
      body_key = c.value("body", std::string());
      body_message = c.value("message", std::string());
      body_span = c.value("body_span", std::string());
      event.comment_is_public = c.value("public", true);
      author = LowerAscii(c.value("author_email", std::string()));
      author_name = c.value("author_name", std::string());
      comment_ms = c.value("created_at_ms", created_ms);
      loaded.comment_message_id = c.value("message_id", std::string());
    }
  }
  // Zendesk's "current user is agent": an agent who answers by email (or opens a ticket) writes
  // as an agent, even on a ticket they requested.
  if (agents && agents->count(author)) {
    event.sender_type = "agent";
  } else {
    event.sender_type = author == event.current.requester_email ? "requester" : "end_user";
  }
  const StoredText description(Field(hash, "description_body"), Field(hash, "message"),
                               Field(hash, "description_span"));
  const StoredText comment_text(body_key, body_message, body_span);
  // The requester's tickets are scored by their creation's millisecond: the ones before it,
  // and those of the same millisecond (one transaction to several brands, a burst) with a
  // lower id.
  const std::string requester_key = "{pd}:requester:" + event.current.requester_email + ":tickets";
  const std::string created = std::to_string(created_ms);
  const std::string before_created = "(" + created;  // exclusive
  RedisArgv before, same_moment;
  for (std::string_view arg : {std::string_view("ZCOUNT"), std::string_view(requester_key),
                               std::string_view("-inf"), std::string_view(before_created)}) {
    before.Add(arg);
  }
  for (std::string_view arg :
       {std::string_view("ZRANGEBYSCORE"), std::string_view(requester_key),
        std::string_view(created), std::string_view(created), std::string_view("LIMIT"),
        std::string_view("0"), std::string_view("100")}) {
    same_moment.Add(arg);
  }
  Result<std::vector<RedisReplyPtr>> second =
      connection_->Pipeline({description.Command(), comment_text.Command(), before, same_moment});
  if (!second.ok()) return second.status();
  event.current.description = description.TextOf(second.value()[0].get());
  if (!body_key.empty()) event.comment = comment_text.TextOf(second.value()[1].get());
  if (type != "ticket.created") event.previous.description = event.current.description;
  const redisReply* count = second.value()[2].get();
  const redisReply* same = second.value()[3].get();
  if (!event.current.requester_email.empty() && count && count->type == REDIS_REPLY_INTEGER) {
    event.requester_previous_tickets = count->integer;
    for (size_t i = 0; same && same->type == REDIS_REPLY_ARRAY && i < same->elements; ++i) {
      if (ParseStoredInt(ReplyText(same->element[i])) < id) ++event.requester_previous_tickets;
    }
  }

  auto set = [&event](Placeholder p, std::string value) {
    event.placeholders[static_cast<size_t>(p)] = std::move(value);
  };
  set(Placeholder::kTicketLatestComment, event.comment);
  set(Placeholder::kTicketLatestPublicComment, event.comment_is_public ? event.comment : "");
  set(Placeholder::kTicketCommentsFormatted,
      author_name + " <" + author + ">, " + FormatTimestamp(comment_ms) + "\n\n" + event.comment);
  set(Placeholder::kTicketCreatedAt, FormatTimestamp(created_ms));
  set(Placeholder::kTicketUpdatedAt, FormatTimestamp(ParseStoredInt(Field(hash, "updated_at_ms"))));
  set(Placeholder::kCurrentUserName, author_name);
  set(Placeholder::kCurrentUserEmail, author);
  if (tokens) set(Placeholder::kTicketEncodedId, tokens->Token(id));
  return loaded;
}

Result<ApplyResult> TriggerQueue::Apply(const TriggerQueueEntry& entry,
                                        const LoadedTriggerEvent& loaded,
                                        const TriggerOutcome& outcome) {
  Json notifications = Json::array();
  for (const TriggerNotification& n : outcome.notifications) {
    bool to_requester = n.kind == TriggerActionKind::kNotifyUser &&
                        EqualsIgnoreCase(n.recipient, loaded.event.current.requester_email);
    if (to_requester && loaded.auto_notifications_suppressed) continue;
    const TicketState& ticket = loaded.event.current;
    notifications.push_back({{"kind", KindName(n.kind)},
                             {"recipient", n.recipient},
                             {"recipient_name", to_requester ? ticket.requester_name : ""},
                             {"in_reply_to", loaded.comment_message_id},
                             {"subject", n.subject},
                             {"body", n.body},
                             {"trigger", n.trigger_id}});
  }
  Json delayed = Json::array();
  for (const DelayedTriggerActions& d : outcome.delayed) {
    delayed.push_back({{"delay_ms", d.delay_seconds * 1000},
                       {"actions", d.actions_json},
                       {"trigger", d.trigger_id}});
  }
  auto dump = [](const Json& json) {
    return json.dump(-1, ' ', false, Json::error_handler_t::replace);
  };
  std::string changes = TicketChangesJson(loaded.event.current, outcome.state);
  std::string ticket = std::to_string(loaded.ticket_id);
  std::string version = std::to_string(loaded.version);
  std::string notifications_json = dump(notifications);
  std::string delayed_json = dump(delayed);
  std::string fired = dump(Json(outcome.fired));
  RedisReplyPtr r = connection_->CommandArgv(
      {"FCALL", "postdesk_apply_triggers", "3", kEventsStream, kOutboxStream, kDelayed,
       kTriggerGroup, entry.id, ticket, version, changes, notifications_json, delayed_json,
       outcome.suspend_sender ? "1" : "0", fired});
  if (!r) return Status::Error(connection_->LastError());
  std::string answer = ReplyText(r.get());
  if (r->type == REDIS_REPLY_ERROR) return Status::Error("redis: apply: " + answer);
  if (answer == "applied") return ApplyResult::kApplied;
  if (answer == "duplicate") return ApplyResult::kDuplicate;
  if (answer == "missing") return ApplyResult::kMissing;
  if (answer == "conflict") return ApplyResult::kConflict;
  return Status::Error("redis: unexpected apply reply \"" + answer + "\"");
}

Status TriggerQueue::Acknowledge(const std::string& entry_id) {
  return AcknowledgeStreamEntry(*connection_, kEventsStream, kTriggerGroup, entry_id);
}

Status TriggerQueue::Acknowledge(const std::vector<std::string>& entry_ids) {
  return AcknowledgeStreamEntries(*connection_, kEventsStream, kTriggerGroup, entry_ids);
}

}  // namespace postdesk
