#include "storage/outbox_queue.h"

#include <hiredis/hiredis.h>

#include <chrono>

#include "storage/redis_functions.h"

namespace postdesk {
namespace {

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

Result<std::unique_ptr<OutboxQueue>> OutboxQueue::Connect(const RedisAddress& address,
                                                          std::string consumer) {
  Result<std::unique_ptr<RedisConnection>> connection = RedisConnection::Connect(address);
  if (!connection.ok()) return connection.status();
  Status functions = connection.value()->LoadFunctions();
  if (!functions.ok()) return functions;
  Status group = CreateStreamGroup(*connection.value(), kOutboxStream, kOutboxGroup);
  if (!group.ok()) return group;
  return std::unique_ptr<OutboxQueue>(
      new OutboxQueue(std::move(connection).value(), std::move(consumer)));
}

Result<std::vector<StreamEntry>> OutboxQueue::ReadOwnPending(size_t count) {
  return ReadStreamGroup(*connection_, kOutboxStream, kOutboxGroup, consumer_, count, -1, "0");
}

Result<std::vector<StreamEntry>> OutboxQueue::ReadNew(size_t count) {
  return ReadStreamGroup(*connection_, kOutboxStream, kOutboxGroup, consumer_, count, -1);
}

Result<std::vector<StreamEntry>> OutboxQueue::ClaimStale(int64_t min_idle_ms, size_t count) {
  return ClaimStreamEntries(*connection_, kOutboxStream, kOutboxGroup, consumer_, min_idle_ms,
                            count);
}

Status OutboxQueue::Acknowledge(const std::string& id) {
  return AcknowledgeStreamEntry(*connection_, kOutboxStream, kOutboxGroup, id);
}

Result<std::string> OutboxQueue::CountNotification(const std::string& ticket,
                                                   const std::string& recipient,
                                                   const NotificationCaps& caps) {
  RedisReplyPtr r = connection_->CommandArgv(
      {"FCALL", "postdesk_notify_rate", "0", ticket, recipient,
       std::to_string(caps.ticket_recipient_limit), std::to_string(caps.ticket_recipient_window_ms),
       std::to_string(caps.recipient_limit), std::to_string(caps.recipient_window_ms)});
  if (!r) return Status::Error(connection_->LastError());
  if (r->type == REDIS_REPLY_ERROR) return Status::Error("redis: notify_rate: " + ReplyText(r.get()));
  return ReplyText(r.get());
}

Result<TargetHealth> OutboxQueue::GetTarget(const std::string& id) {
  Result<std::map<std::string, std::string>> hash = connection_->HashGetAll("{pd}:target:" + id);
  if (!hash.ok()) return hash.status();
  TargetHealth health;
  auto field = [&hash](const char* name) {
    auto it = hash.value().find(name);
    return it == hash.value().end() ? std::string() : it->second;
  };
  health.active = field("active") != "0";
  health.failures = ParseStoredInt(field("failures"));
  health.last_error = field("last_error");
  return health;
}

Result<bool> OutboxQueue::RecordTargetResult(const std::string& id, bool delivered,
                                             int64_t failure_limit, const std::string& reason) {
  RedisReplyPtr r = connection_->CommandArgv({"FCALL", "postdesk_target_result", "0", id,
                                              delivered ? "1" : "0",
                                              std::to_string(failure_limit), reason});
  if (!r) return Status::Error(connection_->LastError());
  if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
    return Status::Error("redis: target_result: " + ReplyText(r.get()));
  }
  return r->element[1]->integer == 1;
}

Status OutboxQueue::SetTargetActive(const std::string& id, bool active) {
  RedisReplyPtr r = connection_->CommandArgv(
      {"HSET", "{pd}:target:" + id, "active", active ? "1" : "0", "failures", "0"});
  if (!r) return Status::Error(connection_->LastError());
  if (r->type == REDIS_REPLY_ERROR)
    return Status::Error("redis: HSET target: " + ReplyText(r.get()));
  return Status::Ok();
}

Status OutboxQueue::RecordOnTicket(const std::string& ticket, const nlohmann::json& record) {
  nlohmann::json entry = {{"at_ms", NowMs()}, {"notification", record}};
  RedisReplyPtr r = connection_->CommandArgv(
      {"RPUSH", "{pd}:ticket:" + ticket + ":audit",
       entry.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace)});
  if (!r) return Status::Error(connection_->LastError());
  if (r->type == REDIS_REPLY_ERROR)
    return Status::Error("redis: RPUSH audit: " + ReplyText(r.get()));
  return Status::Ok();
}

Status OutboxQueue::Enqueue(const std::vector<std::pair<std::string, std::string>>& fields) {
  RedisArgv command;
  command.Add("XADD");
  command.Add(kOutboxStream);
  command.Add("*");
  for (const auto& [name, value] : fields) {
    command.Add(name);
    command.Add(value);
  }
  RedisReplyPtr r(static_cast<redisReply*>(redisCommandArgv(
      connection_->context(), command.count(), command.argv.data(), command.lens.data())));
  if (!r) return Status::Error(connection_->LastError());
  // A refused XADD (a moved cluster slot, Redis out of memory) must not pass for a queued mail.
  if (r->type == REDIS_REPLY_ERROR)
    return Status::Error("redis: XADD outbox: " + ReplyText(r.get()));
  return Status::Ok();
}

}  // namespace postdesk
