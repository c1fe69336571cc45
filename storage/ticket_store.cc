#include "storage/ticket_store.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <cassert>

#include "storage/redis_functions.h"
#include "storage/redis_libuv_adapter.h"

namespace postdesk {
namespace {

constexpr uint64_t kInitialBackoffMs = 100;
constexpr uint64_t kMaxBackoffMs = 5000;
// hiredis 0.14's libuv adapter drops poll errors, so a refused or silent TCP connect may never
// call OnConnect: a connect that has not finished by then is abandoned and retried.
constexpr uint64_t kConnectTimeoutMs = 1000;

// Marks the replies that no caller waits for: FUNCTION LOAD, SELECT, and the commands of an
// ingest block before its EXEC (whose reply tells the caller whether the block ran).
constexpr uint64_t kInternalRequest = 0;

}  // namespace

TicketStore::TicketStore(uv_loop_t* loop, RedisAddress address)
    : loop_(loop), address_(std::move(address)), timer_(new uv_timer_t) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
}

TicketStore::~TicketStore() {
  // Close() must have finished when a connection was made: the hiredis context is freed by
  // hiredis after its disconnect callback. The timer handle is freed in its close callback.
  assert(context_ == nullptr);
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  }
}

void TicketStore::Start() { Connect(); }

void TicketStore::Connect() {
  state_ = State::kConnecting;
  context_ = address_.unix_path.empty() ? redisAsyncConnect(address_.host.c_str(), address_.port)
                                        : redisAsyncConnectUnix(address_.unix_path.c_str());
  if (!context_ || context_->err) {
    std::string why = context_ ? context_->errstr : "out of memory";
    if (context_) redisAsyncFree(context_);
    context_ = nullptr;
    ScheduleReconnect(why);
    return;
  }
  context_->data = this;
  AttachToLoop(context_, loop_);
  // Replies are built in the arena, freed by hiredis after each callback (redis_reply_arena.h).
  reply_arena_.Attach(context_->c.reader);
  redisAsyncSetConnectCallback(context_, &TicketStore::OnConnect);
  redisAsyncSetDisconnectCallback(context_, &TicketStore::OnDisconnect);
  // Queued now, sent once connected, answered before any FCALL queued after them.
  if (address_.db != 0) {
    std::string db = std::to_string(address_.db);
    redisAsyncCommand(context_, &TicketStore::OnReply, reinterpret_cast<void*>(kInternalRequest),
                      "SELECT %s", db.c_str());
  }
  RedisArgv load = FunctionLoadCommand();
  redisAsyncCommandArgv(context_, &TicketStore::OnReply, reinterpret_cast<void*>(kInternalRequest),
                        load.count(), load.argv.data(), load.lens.data());
  uv_timer_start(timer_, &TicketStore::OnTimer, kConnectTimeoutMs, 0);
}

void TicketStore::OnConnect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<TicketStore*>(context->data);
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback returns.
    self->context_ = nullptr;
    if (self->state_ == State::kClosing) {
      self->state_ = State::kClosed;
      self->MaybeFinishClose();
      return;
    }
    self->ScheduleReconnect(context->errstr);
    return;
  }
  if (self->state_ == State::kClosing) return;
  uv_timer_stop(self->timer_);
  self->ReportState(true);
  if (self->backoff_ms_ != 0) spdlog::info("redis {}: connected again", self->address_.ToString());
  self->state_ = State::kConnected;
  self->backoff_ms_ = 0;
  self->last_error_.clear();
}

void TicketStore::OnDisconnect(const redisAsyncContext* context, int status) {
  auto* self = static_cast<TicketStore*>(context->data);
  self->context_ = nullptr;  // freed by hiredis after this callback
  self->ReportState(false);
  if (self->state_ == State::kClosing) {
    self->state_ = State::kClosed;
    self->MaybeFinishClose();
    return;
  }
  self->ScheduleReconnect(status == REDIS_OK ? "connection closed" : context->errstr);
}

void TicketStore::ReportState(bool connected) {
  if (connected == reported_connected_) return;
  reported_connected_ = connected;
  if (observer_) observer_(connected);
}

void TicketStore::ScheduleReconnect(const std::string& why) {
  state_ = State::kWaiting;
  backoff_ms_ = backoff_ms_ == 0 ? kInitialBackoffMs : std::min(backoff_ms_ * 2, kMaxBackoffMs);
  if (why != last_error_) {
    spdlog::error("redis {}: {}; retrying in {} ms", address_.ToString(), why, backoff_ms_);
    last_error_ = why;
  }
  uv_timer_start(timer_, &TicketStore::OnTimer, backoff_ms_, 0);
}

void TicketStore::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<TicketStore*>(timer->data);
  if (self->state_ == State::kWaiting) {
    self->Connect();
  } else if (self->state_ == State::kConnecting) {
    redisAsyncContext* context = self->context_;
    self->context_ = nullptr;
    redisAsyncFree(context);  // not connected: no disconnect callback
    self->ScheduleReconnect("connect timed out");
  }
}

void TicketStore::Ingest(const IngestRequest& request, IngestCallback callback) {
  if (state_ != State::kConnected) {
    outcomes_.clear();
    callback(Status::Error("redis unavailable" +
                           (last_error_.empty() ? std::string() : ": " + last_error_)),
             outcomes_);
    return;
  }
  // hiredis copies each command into its output buffer, so `block_` is free again when this
  // returns. Every command of the block is answered in order; only EXEC's reply has a caller
  // waiting.
  AssignNewStorageKey(&storage_key_);
  block_.Build(request, storage_key_);
  uint64_t id = next_request_++;
  for (size_t i = 0; i < block_.size(); ++i) {
    bool last = i + 1 == block_.size();
    void* privdata = reinterpret_cast<void*>(last ? id : kInternalRequest);
    std::string_view command = block_.command(i);
    if (redisAsyncFormattedCommand(context_, &TicketStore::OnReply, privdata, command.data(),
                                   command.size()) != REDIS_OK) {
      // A context already disconnecting refuses the first command. Any later refusal (out of
      // memory) would leave the connection inside MULTI: it is dropped and made again.
      if (i > 0) redisAsyncDisconnect(context_);
      outcomes_.clear();
      callback(Status::Error("redis: cannot queue the command"), outcomes_);
      return;
    }
  }
  pending_.push_back({id, std::move(callback)});
}

void TicketStore::OnReply(redisAsyncContext* context, void* reply_ptr, void* privdata) {
  auto* self = static_cast<TicketStore*>(context->data);
  auto id = reinterpret_cast<uint64_t>(privdata);
  auto* reply = static_cast<redisReply*>(reply_ptr);
  if (id == kInternalRequest) {
    if (reply && reply->type == REDIS_REPLY_ERROR) {
      spdlog::error("redis {}: {}", self->address_.ToString(), reply->str);
    }
    return;
  }
  // One connection answers in the order it was asked (and hiredis fails what is left in that
  // order when the connection goes): the oldest request is this reply's.
  if (self->pending_head_ == self->pending_.size()) return;  // no caller waits (cannot happen)
  assert(self->pending_[self->pending_head_].id == id);
  IngestCallback callback = std::move(self->pending_[self->pending_head_].callback);
  self->PopPending();
  Status status = ParseIngestExecReply(reply, &self->outcomes_);
  callback(status, self->outcomes_);
}

// The queue is a vector read from pending_head_: emptied, or compacted once half of it is
// spent, it reuses its storage, so steady traffic allocates nothing for it.
void TicketStore::PopPending() {
  ++pending_head_;
  if (pending_head_ == pending_.size()) {
    pending_.clear();
    pending_head_ = 0;
  } else if (pending_head_ >= 64 && 2 * pending_head_ >= pending_.size()) {
    pending_.erase(pending_.begin(), pending_.begin() + static_cast<ptrdiff_t>(pending_head_));
    pending_head_ = 0;
  }
}

void TicketStore::Close(std::function<void()> done) {
  close_done_ = std::move(done);
  uv_timer_stop(timer_);
  if (context_ && state_ != State::kWaiting) {
    state_ = State::kClosing;
    redisAsyncDisconnect(context_);  // after the replies in flight; then OnDisconnect
    return;
  }
  state_ = State::kClosed;
  MaybeFinishClose();
}

void TicketStore::MaybeFinishClose() {
  if (state_ != State::kClosed || !timer_) return;
  uv_timer_t* timer = timer_;
  timer_ = nullptr;
  timer->data = nullptr;
  auto done = std::move(close_done_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  if (done) done();
}

}  // namespace postdesk
