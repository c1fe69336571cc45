#include "storage/ticket_store.h"

#include <hiredis/hiredis.h>
#include <spdlog/spdlog.h>

#include <cassert>

#include "storage/redis_functions.h"
#include "storage/redis_sentinel.h"
#include "storage/resp_command.h"

namespace postdesk {
namespace {

constexpr uint64_t kInitialBackoffMs = 100;
constexpr uint64_t kMaxBackoffMs = 5000;
// A connect that has not finished by then (a silent TCP peer) is abandoned and retried.
constexpr uint64_t kConnectTimeoutMs = 1000;
constexpr size_t kReadBufferBytes = 64 * 1024;
constexpr size_t kKeptWriteBytes = 1024 * 1024;

// What an error callback sees as outcomes: never the store's reusable vector, which a callback
// further up the stack may still be reading.
const std::vector<IngestOutcome> kNoOutcomes;

}  // namespace

struct TicketStore::Link {
  union {
    uv_handle_t handle;
    uv_stream_t stream;
    uv_pipe_t pipe;
    uv_tcp_t tcp;
  } h;
  uv_connect_t connect;
  uv_write_t write;
  TicketStore* store;
};

TicketStore::TicketStore(uv_loop_t* loop, RedisAddress address,
                         std::chrono::milliseconds reply_timeout)
    : loop_(loop),
      configured_(address),
      reply_timeout_ms_(static_cast<uint64_t>(reply_timeout.count())),
      address_(std::move(address)),
      lookup_(loop),
      timer_(new uv_timer_t),
      flush_(new uv_check_t),
      read_buffer_(new char[kReadBufferBytes]) {
  uv_timer_init(loop_, timer_);
  timer_->data = this;
  uv_check_init(loop_, flush_);
  flush_->data = this;
}

TicketStore::~TicketStore() {
  // Close() must have finished when a connection was made: the link is freed in its close
  // callback. The timer handle is freed in its own. A lookup in flight is cancelled by lookup_'s
  // destructor: its answer, when the pool hands it back, goes nowhere.
  assert(link_ == nullptr && links_open_ == 0);
  if (reader_) redisReaderFree(reader_);
  if (timer_) {
    uv_close(reinterpret_cast<uv_handle_t*>(timer_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
    uv_close(reinterpret_cast<uv_handle_t*>(flush_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
  }
}

void TicketStore::Start() { Connect(); }

void TicketStore::Connect() {
  if (std::optional<RedisNode> node = NodeWithoutLookup(address_)) {
    ConnectTo(*node);
    return;
  }
  // The sentinels and the name server answer blocking calls, a dead sentinel only after its
  // timeouts: they are asked on the thread pool, and the loop serves its sessions meanwhile.
  state_ = State::kLookingUp;
  if (address_.via_sentinel()) sentinel_switches_ = SentinelSwitches();
  lookup_.Start(address_, [this](Result<RedisNode> node) { OnNodeFound(std::move(node)); });
}

void TicketStore::OnNodeFound(Result<RedisNode> node) {
  if (!node.ok()) {
    ScheduleReconnect(node.status().message());
    return;
  }
  if (address_.via_sentinel() && node->address.ToString() != last_primary_) {
    last_primary_ = node->address.ToString();
    spdlog::info("redis {}: the primary is {}", address_.ToString(), last_primary_);
  }
  ConnectTo(node.value());
}

void TicketStore::ConnectTo(const RedisNode& node) {
  state_ = State::kConnecting;
  address_ = node.address;
  auto link = std::make_unique<Link>();
  link->store = this;
  link->h.handle.data = link.get();
  link->connect.data = link.get();
  link->write.data = link.get();
  if (!address_.unix_path.empty()) {
    uv_pipe_init(loop_, &link->h.pipe, 0);
    uv_pipe_connect(&link->connect, &link->h.pipe, address_.unix_path.c_str(),
                    &TicketStore::OnConnected);  // errors come to the callback
  } else {
    uv_tcp_init(loop_, &link->h.tcp);
    if (int rc =
            uv_tcp_connect(&link->connect, &link->h.tcp,
                           reinterpret_cast<const sockaddr*>(&node.ip), &TicketStore::OnConnected);
        rc != 0) {
      uv_close(&link.release()->h.handle, &TicketStore::OnLinkClosed);
      ++links_open_;
      ScheduleReconnect(std::string("cannot connect: ") + uv_strerror(rc));
      return;
    }
  }
  link_ = link.release();
  ++links_open_;
  uv_timer_start(timer_, &TicketStore::OnTimer, kConnectTimeoutMs, 0);
}

void TicketStore::OnConnected(uv_connect_t* request, int status) {
  auto* link = static_cast<Link*>(request->data);
  TicketStore* self = link->store;
  if (link != self->link_) return;  // given up meanwhile (timeout, Close)
  if (status != 0) {
    self->Drop(uv_strerror(status));
    return;
  }
  uv_timer_stop(self->timer_);
  if (self->address_.unix_path.empty()) uv_tcp_nodelay(&link->h.tcp, 1);
  self->reader_ = redisReaderCreate();
  if (!self->reader_) {
    self->Drop("out of memory");
    return;
  }
  // Replies are built in the arena, freed after each one (redis_reply_arena.h).
  self->reply_arena_.Attach(self->reader_);
  if (int rc = uv_read_start(&link->h.stream, &TicketStore::OnAllocate, &TicketStore::OnRead);
      rc != 0) {
    self->Drop(uv_strerror(rc));
    return;
  }
  self->state_ = State::kSettingUp;
  // The connection is ready once Redis has answered every step without an error (OnSetupReply).
  const RedisAddress& address = self->address_;
  std::string setup;
  self->setup_count_ = self->setup_answered_ = 0;
  auto step = [self](const char* name) { self->setup_steps_[self->setup_count_++] = name; };
  if (!address.password.empty()) {
    AuthCommand(address).AppendResp(&setup);
    step("AUTH");
  }
  if (address.db != 0) {
    AppendRespCommand({"SELECT", std::to_string(address.db)}, &setup);
    step("SELECT");
  }
  AppendRespCommand({"EXISTS", kSlotProbeKey}, &setup);
  step("EXISTS");
  FunctionLoadCommand().AppendResp(&setup);
  step("FUNCTION LOAD");
  self->Send(setup, {}, self->setup_count_, nullptr);
  // Written now, alone: what comes meanwhile waits in out_ until the setup is answered.
  self->StartWrite();
  self->setup_unanswered_ = self->link_ == link;
}

// The setup's replies are the connection's first; an error ends the connection (and the next
// one is tried after the backoff), so that a wrong password or a Redis still loading its data
// never counts as connected.
void TicketStore::OnSetupReply(const redisReply* reply) {
  const char* step = setup_steps_[setup_answered_++];
  std::string error;
  if (reply->type == REDIS_REPLY_ERROR) {
    error = step + (": " + std::string(reply->str, reply->len));
    NoteRedirect(reply);
  }
  reader_->fn->freeObject(const_cast<redisReply*>(reply));
  if (--pending_[pending_head_].replies == 0) {
    PopPending();
    RestartReplyDeadline();  // before a Drop below, whose backoff takes the timer then
  }
  if (!error.empty()) {
    Drop(error);
    return;
  }
  if (setup_answered_ < setup_count_) return;
  setup_unanswered_ = false;
  if (state_ == State::kSettingUp) {
    state_ = State::kConnected;
    ReportState(true);
    if (backoff_ms_ != 0) spdlog::info("redis {}: connected again", address_.ToString());
    backoff_ms_ = 0;
    redirects_ = 0;
    last_error_.clear();
  }
  StartWrite();  // what waited behind the setup; when closing, the link goes after its replies
  if (state_ == State::kClosing && pending_head_ == pending_.size()) Drop("closed");
}

void TicketStore::OnAllocate(uv_handle_t* handle, size_t /*suggested*/, uv_buf_t* buffer) {
  TicketStore* self = static_cast<Link*>(handle->data)->store;
  *buffer = uv_buf_init(self->read_buffer_.get(), kReadBufferBytes);
}

void TicketStore::OnRead(uv_stream_t* stream, ssize_t n, const uv_buf_t* buffer) {
  auto* link = static_cast<Link*>(stream->data);
  TicketStore* self = link->store;
  if (link != self->link_) return;
  if (n == UV_EOF) {
    self->Drop("connection closed");
    return;
  }
  if (n < 0) {
    self->Drop(uv_strerror(static_cast<int>(n)));
    return;
  }
  if (redisReaderFeed(self->reader_, buffer->base, static_cast<size_t>(n)) != REDIS_OK) {
    self->Drop("out of memory");
    return;
  }
  // A callback may end the connection (or start a new Ingest): the loop stops when the link
  // is no longer this one.
  while (self->link_ == link) {
    void* reply = nullptr;
    if (redisReaderGetReply(self->reader_, &reply) != REDIS_OK) {
      self->Drop(std::string("protocol error: ") + self->reader_->errstr);
      return;
    }
    if (reply == nullptr) break;
    self->OnReply(static_cast<const redisReply*>(reply));
  }
}

void TicketStore::OnReply(const redisReply* reply) {
  if (pending_head_ == pending_.size()) {
    reader_->fn->freeObject(const_cast<redisReply*>(reply));
    Drop("a reply that no request asked for");
    return;
  }
  if (setup_answered_ < setup_count_) {
    OnSetupReply(reply);
    return;
  }
  // A command of a block that a cluster node refused because the slot has moved: the block
  // fails (EXECABORT, or the lost reply below), and the next connection goes to the new node.
  if (reply->type == REDIS_REPLY_ERROR) NoteRedirect(reply);
  Pending& pending = pending_[pending_head_];
  const bool last = --pending.replies == 0;
  IngestCallback callback;
  Status status;
  if (last) {
    callback = std::move(pending.callback);
    PopPending();
    RestartReplyDeadline();  // before the callback, which may end the connection
    status = ParseIngestExecReply(reply, &outcomes_);
  }
  // Freed before the callback runs: the arena holds one reply at a time, and the callback may
  // end the connection, which frees the reader.
  reader_->fn->freeObject(const_cast<redisReply*>(reply));
  if (callback) callback(status, status.ok() ? outcomes_ : kNoOutcomes);
  if (redirect_ && link_ && state_ != State::kClosing) {
    Drop("MOVED: the cluster serves the slot of {pd} from " + redirect_->ToString());
    return;
  }
  if (readonly_ && link_ && state_ != State::kClosing) {
    Drop("READONLY: the server is a replica now");
    return;
  }
  if (state_ == State::kClosing && link_ && pending_head_ == pending_.size()) Drop("closed");
}

void TicketStore::NoteRedirect(const redisReply* reply) {
  std::string_view error(reply->str, reply->len);
  if (!redirect_) redirect_ = MovedTarget(error, address_);
  // A primary demoted by a failover (Sentinel's, or a cluster's): connect again, to the
  // configured address, which finds the new one.
  readonly_ = readonly_ || IsReadOnlyError(error);
}

void TicketStore::Ingest(const IngestRequest& request, IngestCallback callback) {
  if ((state_ == State::kConnected || state_ == State::kSettingUp) && configured_.via_sentinel() &&
      sentinel_switches_ != SentinelSwitches()) {
    // The primary this connection reached may be a replica by now, or about to be one (and
    // then drop what it took meanwhile): no more writes to it.
    primary_moved_ = true;
    Drop("the sentinels moved the primary");
  }
  // While the connection is set up, a message waits for AUTH, SELECT and FUNCTION LOAD to be
  // accepted (a sender right after a start or a reconnect); should one of them fail, it hears
  // so.
  if (state_ != State::kConnected && state_ != State::kSettingUp) {
    callback(Status::Error("redis unavailable" +
                           (last_error_.empty() ? std::string() : ": " + last_error_)),
             kNoOutcomes);
    return;
  }
  AssignNewStorageKey(&storage_key_);
  block_.Build(request, storage_key_);
  // Every command of the block is answered in order; only EXEC's reply has a caller waiting.
  Send(block_.text(), {block_.splices(), block_.splice_count()}, block_.size(),
       std::move(callback));
}

void TicketStore::Send(std::string_view commands, std::span<const RespSplice> splices,
                       size_t replies, IngestCallback callback) {
  for (const RespSplice& s : splices) out_splices_.push_back({out_.size() + s.at, s.value});
  out_.append(commands);
  pending_.push_back({replies, std::move(callback)});
  // The first request waiting starts the deadline; later ones wait behind it.
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(timer_))) RestartReplyDeadline();
  if (!uv_is_active(reinterpret_cast<uv_handle_t*>(flush_))) {
    uv_check_start(flush_, &TicketStore::OnFlush);
  }
}

void TicketStore::OnFlush(uv_check_t* check) {
  auto* self = static_cast<TicketStore*>(check->data);
  uv_check_stop(check);
  self->StartWrite();
}

// One write at a time: what is sent meanwhile gathers in out_ and goes in the next one. The two
// buffers trade places, so both keep their capacity; so do the splice lists. A spliced value
// (a large raw message) is sent from its request, as one more piece of the write.
void TicketStore::StartWrite() {
  if (write_in_flight_ || out_.empty() || link_ == nullptr || setup_unanswered_) return;
  writing_.swap(out_);
  out_.clear();
  writing_splices_.swap(out_splices_);
  out_splices_.clear();
  pieces_.clear();
  size_t done = 0;
  for (const RespSplice& s : writing_splices_) {
    pieces_.push_back(uv_buf_init(writing_.data() + done, static_cast<unsigned>(s.at - done)));
    pieces_.push_back(
        uv_buf_init(const_cast<char*>(s.value.data()), static_cast<unsigned>(s.value.size())));
    done = s.at;
  }
  pieces_.push_back(
      uv_buf_init(writing_.data() + done, static_cast<unsigned>(writing_.size() - done)));
  if (int rc = uv_write(&link_->write, &link_->h.stream, pieces_.data(),
                        static_cast<unsigned>(pieces_.size()), &TicketStore::OnWritten);
      rc != 0) {
    Drop(std::string("write failed: ") + uv_strerror(rc));
    return;
  }
  write_in_flight_ = true;
}

void TicketStore::OnWritten(uv_write_t* request, int status) {
  auto* link = static_cast<Link*>(request->data);
  TicketStore* self = link->store;
  if (link != self->link_) return;  // cancelled by Drop, which has reset the write state
  self->write_in_flight_ = false;
  if (status != 0) {
    self->Drop(std::string("write failed: ") + uv_strerror(status));
    return;
  }
  // A buffer that held a large message is let go: it would otherwise stay that size for good.
  if (self->writing_.capacity() > kKeptWriteBytes) std::string().swap(self->writing_);
  self->StartWrite();
}

void TicketStore::Drop(const std::string& why) {
  Link* link = link_;
  if (link == nullptr) return;
  link_ = nullptr;
  uv_close(&link->h.handle, &TicketStore::OnLinkClosed);  // cancels its connect and write
  write_in_flight_ = false;
  out_.clear();
  out_splices_.clear();
  // Requests held behind a setup that failed never went out: Redis is unavailable to them, as
  // to those that come after the drop.
  const std::string lost = setup_unanswered_
                               ? "redis unavailable: " + why
                               : std::string("redis: connection lost before the reply");
  setup_unanswered_ = false;
  if (reader_) {
    redisReaderFree(reader_);  // and a half-read reply, into the arena
    reader_ = nullptr;
  }
  uv_timer_stop(timer_);
  ReportState(false);
  // The state changes before the callbacks below, so that an Ingest they start fails at once
  // (and names `why`).
  const bool closing = state_ == State::kClosing;
  if (closing) {
    state_ = State::kClosed;
  } else {
    ScheduleReconnect(why);
  }
  // Whatever was sent may or may not have run; the senders hear so, oldest first.
  std::vector<Pending> waiting;
  waiting.swap(pending_);
  const size_t head = pending_head_;
  pending_head_ = 0;
  for (size_t i = head; i < waiting.size(); ++i) {
    if (waiting[i].callback) {
      waiting[i].callback(Status::Error(lost), kNoOutcomes);
    }
  }
  MaybeFinishClose();  // once the link's handle has closed, when closing
}

void TicketStore::OnLinkClosed(uv_handle_t* handle) {
  auto* link = static_cast<Link*>(handle->data);
  TicketStore* self = link->store;
  delete link;
  --self->links_open_;
  self->MaybeFinishClose();
}

void TicketStore::ReportState(bool connected) {
  if (connected == reported_connected_) return;
  reported_connected_ = connected;
  if (observer_) observer_(connected);
}

void TicketStore::ScheduleReconnect(const std::string& why) {
  state_ = State::kWaiting;
  readonly_ = false;
  const std::string failed = address_.ToString();
  std::optional<RedisAddress> redirect = std::exchange(redirect_, std::nullopt);
  if (redirect) {
    spdlog::info("redis {}: the slot of {{pd}} is served by {} (Redis Cluster); connecting there",
                 failed, redirect->ToString());
    address_ = std::move(redirect).value();
    // Redis Cluster's answer, not a failure: no backoff, unless the hops go on.
    if (++redirects_ <= kMaxMovedRedirects) {
      uv_timer_start(timer_, &TicketStore::OnTimer, 0, 0);
      return;
    }
  } else if (std::exchange(primary_moved_, false)) {
    // A failover, not a failure: the sentinels are asked again at once.
    spdlog::info("redis {}: the sentinels moved the primary; asking them again", failed);
    last_error_ = why;  // what the messages until the new connection hear
    address_ = configured_;
    uv_timer_start(timer_, &TicketStore::OnTimer, 0, 0);
    return;
  } else {
    // After a failure, the configured node: the one MOVED named may be the one that failed.
    address_ = configured_;
  }
  backoff_ms_ = backoff_ms_ == 0 ? kInitialBackoffMs : std::min(backoff_ms_ * 2, kMaxBackoffMs);
  if (why != last_error_) {
    spdlog::error("redis {}: {}; retrying in {} ms", failed, why, backoff_ms_);
    last_error_ = why;
  }
  uv_timer_start(timer_, &TicketStore::OnTimer, backoff_ms_, 0);
}

void TicketStore::OnTimer(uv_timer_t* timer) {
  auto* self = static_cast<TicketStore*>(timer->data);
  switch (self->state_) {
    case State::kWaiting:
      self->Connect();
      return;
    case State::kConnecting:
      self->Drop("connect timed out");
      return;
    case State::kSettingUp:
    case State::kConnected:
    case State::kClosing:
      // The reply deadline: a Redis that took the requests and answers nothing (stopped, or
      // stuck behind its disk) would otherwise hold their senders, and a drain, for good.
      self->Drop("no reply within " + std::to_string(self->reply_timeout_ms_) + " ms");
      return;
    case State::kIdle:
    case State::kLookingUp:
    case State::kClosed:
      return;
  }
}

void TicketStore::RestartReplyDeadline() {
  const bool waiting = pending_head_ < pending_.size();
  const bool connection =
      state_ == State::kSettingUp || state_ == State::kConnected || state_ == State::kClosing;
  if (waiting && connection) {
    uv_timer_start(timer_, &TicketStore::OnTimer, reply_timeout_ms_, 0);
  } else if (connection) {
    uv_timer_stop(timer_);
  }
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
  if (state_ == State::kClosed && timer_ == nullptr) {  // closed already
    if (done) done();
    return;
  }
  if (state_ == State::kClosing || state_ == State::kClosed) {  // closing: both callers hear
    close_done_ = [first = std::move(close_done_), then = std::move(done)] {
      if (first) first();
      if (then) then();
    };
    return;
  }
  close_done_ = std::move(done);
  switch (state_) {
    case State::kSettingUp:
    case State::kConnected:
      state_ = State::kClosing;
      // After the replies in flight; OnReply drops the link once the last one is in.
      if (pending_head_ == pending_.size()) Drop("closed");
      return;
    case State::kConnecting:
      state_ = State::kClosing;
      Drop("closed");
      return;
    case State::kLookingUp:
    case State::kIdle:
    case State::kWaiting:
      // Not waiting for a lookup in flight: its answer would be dropped anyway, and the loop
      // runs until the pool hands it back (storage/redis_sentinel.h).
      lookup_.Cancel();
      uv_timer_stop(timer_);
      state_ = State::kClosed;
      MaybeFinishClose();
      return;
    case State::kClosing:
    case State::kClosed:
      return;
  }
}

void TicketStore::MaybeFinishClose() {
  if (state_ != State::kClosed || links_open_ > 0 || !timer_) return;
  uv_timer_t* timer = timer_;
  timer_ = nullptr;
  timer->data = nullptr;
  auto done = std::move(close_done_);
  uv_close(reinterpret_cast<uv_handle_t*>(timer),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_timer_t*>(h); });
  uv_close(reinterpret_cast<uv_handle_t*>(flush_),
           [](uv_handle_t* h) { delete reinterpret_cast<uv_check_t*>(h); });
  flush_ = nullptr;
  if (done) done();
}

}  // namespace postdesk
