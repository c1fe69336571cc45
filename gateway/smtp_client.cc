#include "gateway/smtp_client.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cassert>
#include <exception>
#include <utility>

#include "gateway/log_text.h"
#include "gateway/smtp_client_connection.h"
#include "gateway/smtp_relay_wire.h"

namespace postdesk {
namespace {

using relay::Extensions;
using relay::Failure;
using relay::HasNonAscii;
using relay::PrepareData;
using relay::ValidAddress;

// After a connection could not be set up, no additional connection while another one still
// serves, for this long: a relay that allows us fewer connections is not hammered in a loop.
constexpr uint64_t kSetupBackoffMs = 1000;

}  // namespace

std::string_view KindName(DeliveryResult::Kind kind) {
  switch (kind) {
    case DeliveryResult::Kind::kDelivered:
      return "delivered";
    case DeliveryResult::Kind::kTemporary:
      return "temporary";
    case DeliveryResult::Kind::kPermanent:
      return "permanent";
  }
  return "?";
}

SmtpClient::SmtpClient(uv_loop_t* loop, Options options)
    : loop_(loop),
      options_(std::move(options)),
      read_buffer_(new char[kReadBufferSize]),
      idle_(new uv_idle_t) {
  options_.max_connections = std::max<size_t>(options_.max_connections, 1);
  options_.max_messages_per_connection = std::max<size_t>(options_.max_messages_per_connection, 1);
  if (options_.helo_name.empty()) {
    char name[256];
    size_t size = sizeof(name);
    options_.helo_name = uv_os_gethostname(name, &size) == 0 ? name : "localhost";
  }
  uv_idle_init(loop_, idle_);
  idle_->data = this;
}

SmtpClient::~SmtpClient() { assert(closed_ && "SmtpClient destroyed before Close() finished"); }

void SmtpClient::Send(OutboundMessage message, Done done) {
  if (closing_) {
    Complete(std::move(done), Failure(DeliveryResult::Kind::kTemporary, 0, "client closing"));
    return;
  }
  std::string invalid;
  if (message.rcpt_to.empty()) invalid = "no recipient";
  if (!ValidAddress(message.mail_from)) {
    invalid = "invalid sender address \"" + EscapeForLog(message.mail_from) + "\"";
  }
  for (const std::string& rcpt : message.rcpt_to) {
    if (invalid.empty() && (rcpt.empty() || !ValidAddress(rcpt))) {
      invalid = "invalid recipient address \"" + EscapeForLog(rcpt) + "\"";
    }
  }
  if (!invalid.empty()) {
    Complete(std::move(done), Failure(DeliveryResult::Kind::kPermanent, 0, invalid));
    return;
  }
  auto job = std::make_unique<Job>();
  PrepareData(message.data, &job->wire, &job->size, &job->eight_bit);
  job->utf8_addresses = HasNonAscii(message.mail_from);
  for (const std::string& rcpt : message.rcpt_to) {
    job->utf8_addresses = job->utf8_addresses || HasNonAscii(rcpt);
  }
  job->mail_from = std::move(message.mail_from);
  job->rcpt_to = std::move(message.rcpt_to);
  job->done = std::move(done);
  queue_.push_back(std::move(job));
  Dispatch();
}

void SmtpClient::Close(std::function<void()> closed) {
  if (closing_) return;
  closing_ = true;
  on_closed_ = std::move(closed);
  while (!queue_.empty()) {
    Complete(std::move(queue_.front()->done),
             Failure(DeliveryResult::Kind::kTemporary, 0, "client closing"));
    queue_.pop_front();
  }
  for (auto& entry : connections_) entry.second->Shutdown();
  MaybeFinishClose();
}

void SmtpClient::Complete(Done done, DeliveryResult result) {
  if (closed_) {  // Send() after `closed` ran (a misuse): no handle is left to defer with
    if (done) done(std::move(result));
    return;
  }
  completions_.emplace_back(std::move(done), std::move(result));
  // While the idle handle closes, OnIdleClosed delivers what is left.
  if (!idle_closing_ && !uv_is_active(reinterpret_cast<uv_handle_t*>(idle_))) {
    uv_idle_start(idle_, &SmtpClient::OnIdle);
  }
}

void SmtpClient::OnIdle(uv_idle_t* idle) {
  auto* self = static_cast<SmtpClient*>(idle->data);
  // Only those queued before this turn: a `done` that sends again (and fails at once) runs on
  // the next turn, not in an endless loop here.
  size_t count = self->completions_.size();
  for (size_t i = 0; i < count && !self->completions_.empty(); ++i) {
    auto [done, result] = std::move(self->completions_.front());
    self->completions_.pop_front();
    try {
      if (done) done(std::move(result));
    } catch (const std::exception& e) {
      spdlog::error("smtp client {}: delivery callback threw: {}", self->options_.host, e.what());
    } catch (...) {
      spdlog::error("smtp client {}: delivery callback threw", self->options_.host);
    }
  }
  if (self->completions_.empty()) uv_idle_stop(self->idle_);
  self->MaybeFinishClose();
}

void SmtpClient::Dispatch() {
  if (closing_) return;
  for (auto& entry : connections_) {
    if (queue_.empty()) return;
    Connection& connection = *entry.second;
    if (!connection.idle()) continue;
    std::unique_ptr<Job> job = TakeJobFor(connection);
    if (job) connection.Take(std::move(job));
  }
  size_t starting = 0;
  bool serving = false;
  for (auto& entry : connections_) {
    if (entry.second->starting()) ++starting;
    serving = serving || entry.second->serving();
  }
  // One new connection per message nobody will take, up to max_connections.
  while (queue_.size() > starting && connections_.size() < options_.max_connections) {
    if (serving && uv_now(loop_) < backoff_until_) break;
    uint64_t id = next_connection_++;
    Connection* connection =
        connections_.emplace(id, std::make_unique<Connection>(this, id)).first->second.get();
    connection->Start();  // may fail at once, failing the queue (OnSetupFailed)
    if (connection->starting()) ++starting;
    serving = serving || connection->serving();
  }
}

std::unique_ptr<SmtpClient::Job> SmtpClient::TakeJobFor(const Connection& connection) {
  const Extensions& ext = connection.extensions();
  while (!queue_.empty()) {
    std::unique_ptr<Job> job = std::move(queue_.front());
    queue_.pop_front();
    if (ext.size && ext.max_size > 0 && job->size > ext.max_size) {
      // RFC 1870 4: the relay would refuse it with a permanent 552 anyway; not sent at all.
      Complete(std::move(job->done), Failure(DeliveryResult::Kind::kPermanent, 0,
                                             "message of " + std::to_string(job->size) +
                                                 " bytes is over the relay's SIZE limit of " +
                                                 std::to_string(ext.max_size)));
      continue;
    }
    if (job->utf8_addresses && !ext.smtputf8) {
      // RFC 6531 3.2: without SMTPUTF8 there is no way to send a non-ASCII address.
      Complete(std::move(job->done),
               Failure(DeliveryResult::Kind::kPermanent, 0,
                       "non-ASCII address and the relay does not offer SMTPUTF8"));
      continue;
    }
    return job;
  }
  return nullptr;
}

void SmtpClient::OnSetupFailed(const Connection& failed, const DeliveryResult& result) {
  if (closing_) return;
  spdlog::warn("smtp client {}:{}: {}", options_.host, options_.port, EscapeForLog(result.reply));
  backoff_until_ = uv_now(loop_) + kSetupBackoffMs;
  for (auto& entry : connections_) {
    if (entry.second.get() != &failed && entry.second->serving()) return;  // it takes the queue
  }
  // Nothing else will carry the queue: the relay cannot be reached now, and each message learns
  // it now rather than after a connection attempt of its own.
  while (!queue_.empty()) {
    Complete(std::move(queue_.front()->done), result);
    queue_.pop_front();
  }
}

void SmtpClient::OnConnectionGone(uint64_t id) {
  connections_.erase(id);
  if (closing_) {
    MaybeFinishClose();
  } else {
    Dispatch();
  }
}

void SmtpClient::MaybeFinishClose() {
  if (!closing_ || idle_closing_ || !connections_.empty() || !completions_.empty()) return;
  idle_closing_ = true;
  uv_close(reinterpret_cast<uv_handle_t*>(idle_), &SmtpClient::OnIdleClosed);
}

void SmtpClient::OnIdleClosed(uv_handle_t* handle) {
  auto* self = static_cast<SmtpClient*>(handle->data);
  delete reinterpret_cast<uv_idle_t*>(handle);
  self->idle_ = nullptr;
  // Sends made by other handles' callbacks while this one closed: nothing is left to defer to.
  while (!self->completions_.empty()) {
    auto [done, result] = std::move(self->completions_.front());
    self->completions_.pop_front();
    try {
      if (done) done(std::move(result));
    } catch (...) {
      spdlog::error("smtp client {}: delivery callback threw", self->options_.host);
    }
  }
  self->closed_ = true;
  std::function<void()> closed = std::move(self->on_closed_);
  try {
    if (closed) closed();  // may destroy *self: nothing after this
  } catch (...) {
    spdlog::error("smtp client: closed callback threw");
  }
}

}  // namespace postdesk
