#include "tools/blast/blast_runner.h"

#include <algorithm>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <exception>
#include <utility>

namespace postdesk::blast {
namespace {

constexpr size_t kReadBufferSize = 64 * 1024;
// Connections being set up at once: thousands of simultaneous SYNs overflow a server's accept
// backlog (and the kernel's SYN queue), which would measure retransmission timers instead.
constexpr size_t kMaxConnecting = 256;
constexpr uint64_t kTickMs = 10;     // retries
constexpr uint64_t kRateTickMs = 1;  // --rate arrivals: libuv timers have 1 ms resolution
constexpr uint64_t kFirstBackoffMs = 100;
constexpr uint64_t kMaxBackoffMs = 2000;

template <typename Handle>
void CloseAndDelete(Handle* handle) {
  uv_close(reinterpret_cast<uv_handle_t*>(handle),
           [](uv_handle_t* h) { delete reinterpret_cast<Handle*>(h); });
}

// Runner callbacks run their body through this: an exception (std::bad_alloc) stops the run
// with a reason instead of unwinding into libuv.
template <typename Body>
void Guarded(const char* where, Body body) noexcept {
  try {
    body();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "postdesk-blast: %s: %s\n", where, e.what());
    std::abort();  // the run's accounting is no longer trustworthy
  } catch (...) {
    std::fprintf(stderr, "postdesk-blast: %s: unknown exception\n", where);
    std::abort();
  }
}

}  // namespace

bool SharedRun::TakeOne() {
  if (!limited) return true;
  int64_t left = budget.load(std::memory_order_relaxed);
  while (left > 0) {
    if (budget.compare_exchange_weak(left, left - 1, std::memory_order_relaxed)) return true;
  }
  return false;
}

BlastRunner::BlastRunner(RunnerPlan plan)
    : plan_(std::move(plan)),
      options_(*plan_.options),
      loop_(std::make_unique<uv_loop_t>()),
      read_buffer_(std::make_unique<char[]>(kReadBufferSize)),
      slots_(plan_.connections) {
  client_config_.address = plan_.address;
  client_config_.helo = options_.helo;
  client_config_.pipelining = options_.pipelining;
  client_config_.chunking = options_.chunking;
  client_config_.tls = plan_.tls;
  client_config_.tls_name = plan_.tls_name;
  client_config_.timeout_ms = static_cast<uint64_t>(std::llround(options_.timeout_s * 1000));
  client_config_.read_buffer = read_buffer_.get();
  client_config_.read_buffer_size = kReadBufferSize;
}

BlastRunner::~BlastRunner() = default;

void BlastRunner::Run() {
  uv_loop_init(loop_.get());
  loop_->data = this;
  {
    std::lock_guard<std::mutex> lock(async_mutex_);
    async_ = new uv_async_t;
    uv_async_init(loop_.get(), async_, &BlastRunner::OnAsync);
    async_->data = this;
    async_open_ = true;
  }
  tick_ = new uv_timer_t;
  uv_timer_init(loop_.get(), tick_);
  tick_->data = this;
  uint64_t tick = plan_.rate > 0 ? kRateTickMs : kTickMs;
  uv_timer_start(tick_, &BlastRunner::OnTick, tick, tick);
  deadline_ = new uv_timer_t;
  uv_timer_init(loop_.get(), deadline_);
  deadline_->data = this;
  if (plan_.handle_signals) {
    for (int signum : {SIGINT, SIGTERM}) {
      auto* signal = new uv_signal_t;
      uv_signal_init(loop_.get(), signal);
      signal->data = this;
      uv_signal_start(signal, &BlastRunner::OnSignal, signum);
      signals_.push_back(signal);
    }
  }
  stats_.first_start_ns = uv_hrtime();
  for (size_t i = 0; i < slots_.size(); ++i) to_start_.push_back(i);
  // A closed loop starts its clock now; --rate once the connections are set up, so that their
  // handshakes do not count as a backlog; --idle once they are all open.
  if (plan_.rate == 0 && !plan_.idle) StartLoad();
  StartPending();
  if (stop_requested_.load() != 0) BeginStop(stop_requested_.load() == 2);  // asked before Run
  if (slots_.empty()) MaybeFinish();
  uv_run(loop_.get(), UV_RUN_DEFAULT);
  stop_ns_ = uv_hrtime();
  // Every handle was closed and its callback has run: uv_run returned because none is left.
  (void)uv_loop_close(loop_.get());
}

void BlastRunner::RequestStop(bool force) {
  int want = force ? 2 : 1;
  int seen = stop_requested_.load();
  while (seen < want && !stop_requested_.compare_exchange_weak(seen, want)) {
  }
  std::lock_guard<std::mutex> lock(async_mutex_);
  if (async_open_) uv_async_send(async_);
}

void BlastRunner::OnAsync(uv_async_t* async) {
  auto* self = static_cast<BlastRunner*>(async->data);
  Guarded("stop", [&] {
    int request = self->stop_requested_.load();
    if (request != 0) self->BeginStop(request == 2);
  });
}

void BlastRunner::OnSignal(uv_signal_t* signal, int) {
  auto* self = static_cast<BlastRunner*>(signal->data);
  Guarded("signal", [&] {
    ++self->signals_seen_;
    bool force = self->signals_seen_ > 1;
    // Every loop watches the signal (libuv tells each of them), so that one that finished its
    // share early does not leave Ctrl-C to kill the process unreported; one of them says so.
    static std::atomic<bool> announced{false};
    if (!force && !announced.exchange(true)) {
      std::fprintf(stderr,
                   "postdesk-blast: stopping; messages in flight finish (again to abandon them)\n");
    }
    if (self->plan_.stop_all) {
      self->plan_.stop_all(force);
    } else {
      self->BeginStop(force);
    }
  });
}

void BlastRunner::OnTick(uv_timer_t* timer) {
  auto* self = static_cast<BlastRunner*>(timer->data);
  Guarded("tick", [&] {
    uint64_t now = uv_now(self->loop_.get());
    while (!self->retry_at_.empty() && self->retry_at_.begin()->first <= now) {
      self->to_start_.push_back(self->retry_at_.begin()->second);
      self->retry_at_.erase(self->retry_at_.begin());
    }
    self->StartPending();
    if (self->plan_.rate > 0) self->Arrivals();
  });
}

void BlastRunner::OnDeadline(uv_timer_t* timer) {
  auto* self = static_cast<BlastRunner*>(timer->data);
  Guarded("deadline", [&] { self->BeginStop(false); });
}

void BlastRunner::StartLoad() {
  if (load_started_) return;
  load_started_ = true;
  load_start_ns_ = uv_hrtime();
  if (plan_.rate > 0 || plan_.idle) stats_.first_start_ns = load_start_ns_;
  if (options_.duration_s > 0) {
    auto ms = static_cast<uint64_t>(std::llround(options_.duration_s * 1000));
    uv_timer_start(deadline_, &BlastRunner::OnDeadline, ms, 0);
  }
}

void BlastRunner::StartPending() {
  while (!to_start_.empty() && connecting_ < kMaxConnecting && !stopping_ && !finishing_) {
    size_t slot = to_start_.front();
    to_start_.pop_front();
    StartSlot(slot);
  }
  // --rate's clock starts when the first round of connections is set up (or has failed).
  if (plan_.rate > 0 && !load_started_ && connecting_ == 0 && to_start_.empty()) StartLoad();
}

void BlastRunner::StartSlot(size_t slot) {
  Slot& s = slots_[slot];
  s.client = std::make_unique<BlastClient>(loop_.get(), client_config_, this, slot);
  s.connecting = true;
  s.busy = false;
  ++connecting_;
  ++live_;
  s.client->Start();
}

void BlastRunner::OnReady(BlastClient* client) {
  Slot& s = slots_[client->slot()];
  if (s.connecting) {
    s.connecting = false;
    --connecting_;
    s.setup_failures = 0;
    setup_failures_in_a_row_ = 0;
    ++stats_.connections;
    if (stats_.tls.empty() && client->tls_active()) stats_.tls = client->tls_description();
    if (options_.pipelining && !client->pipelining_active()) stats_.pipelining_refused = true;
    if (plan_.idle) {
      ++idle_open_;
      stats_.idle_open_peak = std::max<uint64_t>(stats_.idle_open_peak, idle_open_);
      ++idle_settled_;
      CheckIdleSettled();
    }
    StartPending();
  }
  if (plan_.idle) {
    if (stopping_ || finishing_) client->Quit();
    return;  // idle connections send nothing more: that is the point
  }
  Dispatch(client);
}

void BlastRunner::Dispatch(BlastClient* client) {
  if (stopping_ || finishing_) {
    client->Quit();
    return;
  }
  if (options_.messages_per_connection > 0 &&
      client->transactions() >= options_.messages_per_connection) {
    client->Quit();  // OnClosed opens the next connection
    return;
  }
  if (plan_.rate > 0) {
    if (backlog_ > 0) {
      --backlog_;
      StartMessage(client);
    } else {
      waiting_.push_back(client->slot());
      MaybeFinish();
    }
    return;
  }
  if (!plan_.shared->TakeOne()) {
    client->Quit();
    MaybeFinish();
    return;
  }
  StartMessage(client);
}

void BlastRunner::StartMessage(BlastClient* client) {
  uint64_t sequence = plan_.shared->sequence.fetch_add(1, std::memory_order_relaxed);
  std::string sender =
      options_.unique_senders ? UniqueSender(options_.from, sequence) : options_.from;
  OutgoingMessage message = plan_.source->Build(sequence, sender, options_.to);
  slots_[client->slot()].busy = true;
  ++in_flight_;
  ++stats_.sent;
  client->Send(std::move(message), sender, options_.to);
}

void BlastRunner::Arrivals() {
  if (!load_started_ || stopping_ || finishing_) return;
  // Open loop: message k is due at load_start + k / rate, whether or not the server kept up.
  double elapsed_s = static_cast<double>(uv_hrtime() - load_start_ns_) / 1e9;
  auto due = static_cast<uint64_t>(std::floor(elapsed_s * plan_.rate)) + 1;
  while (arrivals_ < due) {
    if (!plan_.shared->TakeOne()) {
      MaybeFinish();
      return;
    }
    ++arrivals_;
    BlastClient* ready = nullptr;
    while (!waiting_.empty() && !ready) {
      Slot& s = slots_[waiting_.front()];
      waiting_.pop_front();
      // Entries go stale when their connection closed or took a message since.
      if (s.client && s.client->ready() && !s.busy) ready = s.client.get();
    }
    if (ready) {
      StartMessage(ready);
    } else {
      ++backlog_;
      ++stats_.late;
      stats_.max_backlog = std::max(stats_.max_backlog, backlog_);
    }
  }
}

void BlastRunner::OnTransactionDone(BlastClient* client, const TransactionResult& result) {
  Slot& s = slots_[client->slot()];
  if (s.busy) {
    s.busy = false;
    --in_flight_;
  }
  stats_.last_done_ns = uv_hrtime();
  if (result.accepted) {
    ++stats_.accepted;
    stats_.latency.Record(result.latency_ns);
  } else {
    (result.code / 100 == 4 ? stats_.refused_4xx : stats_.refused_5xx) += 1;
    Sample(&stats_.first_refusals, "connection " + std::to_string(client->slot()) + ", " +
                                       result.stage + ": " + result.reply);
  }
  MaybeFinish();
}

void BlastRunner::OnConnectionError(BlastClient* client, ErrorKind kind, const std::string& what,
                                    bool message_lost) {
  ++stats_.errors[static_cast<size_t>(kind)];
  Slot& s = slots_[client->slot()];
  if (message_lost && s.busy) {
    s.busy = false;
    --in_flight_;
    ++stats_.lost;
    stats_.last_done_ns = uv_hrtime();
  }
  last_error_ = what;
  Sample(&stats_.first_errors,
         "connection " + std::to_string(client->slot()) + ": " + ErrorKindName(kind) + ": " + what);
}

void BlastRunner::OnClosed(BlastClient* client) {
  size_t slot = client->slot();
  Slot& s = slots_[slot];
  bool was_ready = client->was_ready();
  if (client->closed_by_server()) ++stats_.server_closes;
  if (s.connecting) {
    s.connecting = false;
    --connecting_;
  }
  if (s.busy) {  // closed without a word (an abort): the message is abandoned
    s.busy = false;
    --in_flight_;
    ++stats_.abandoned;
  }
  s.client.reset();  // its last callback: nothing of it runs after this
  --live_;
  if (plan_.idle) {
    if (was_ready) {
      --idle_open_;
    } else {
      ++idle_settled_;
      CheckIdleSettled();
    }
    if (idle_announced_ && idle_open_ == 0 && !stopping_) {
      Fatal("every idle connection was closed or failed");
    }
  } else if (!was_ready) {
    ++s.setup_failures;
    if (++setup_failures_in_a_row_ >= kMaxSetupFailures && fatal_.empty()) {
      Fatal(std::to_string(kMaxSetupFailures) +
            " connection setups failed in a row; the last: " + last_error_);
    }
  }
  if (ShouldReconnect()) {
    if (was_ready) {
      to_start_.push_back(slot);
    } else {
      uint64_t backoff =
          std::min(kMaxBackoffMs, kFirstBackoffMs << std::min<uint32_t>(s.setup_failures - 1, 5));
      retry_at_.emplace(uv_now(loop_.get()) + backoff, slot);
    }
  }
  StartPending();
  MaybeFinish();
}

bool BlastRunner::ShouldReconnect() const {
  if (plan_.idle || stopping_ || finishing_) return false;
  if (!plan_.shared->limited) return true;
  // Each connection being set up (and each one waiting under --rate) will take a message of
  // the budget: one more is needed only when the budget outnumbers them.
  auto claimed = static_cast<int64_t>(connecting_ + to_start_.size() + retry_at_.size() +
                                      (plan_.rate > 0 ? waiting_.size() : 0));
  return plan_.shared->budget.load(std::memory_order_relaxed) > claimed;
}

void BlastRunner::CheckIdleSettled() {
  if (idle_announced_ || idle_settled_ < slots_.size()) return;
  idle_announced_ = true;
  char hold[64];
  if (options_.duration_s > 0) {
    std::snprintf(hold, sizeof(hold), "for %g s", options_.duration_s);
  } else {
    std::snprintf(hold, sizeof(hold), "until Ctrl-C");
  }
  std::fprintf(stderr, "postdesk-blast: %zu of %zu idle connections open; holding them %s\n",
               idle_open_, slots_.size(), hold);
  std::fflush(stderr);
  if (idle_open_ == 0) {
    Fatal("no idle connection could be opened; the last error: " + last_error_);
    return;
  }
  StartLoad();
}

void BlastRunner::BeginStop(bool force) {
  if (!stopping_) {
    stopping_ = true;
    if (plan_.idle) stats_.idle_open_at_end = idle_open_;
    stats_.unsent += backlog_;  // --rate: messages due but not started are not sent
    backlog_ = 0;
    to_start_.clear();
    retry_at_.clear();
  }
  if (force && !forced_) {
    forced_ = true;
    for (Slot& s : slots_) {
      if (s.client) s.client->Abort();
    }
  }
  MaybeFinish();
}

void BlastRunner::MaybeFinish() {
  if (!finishing_) {
    bool done = false;
    if (plan_.idle) {
      done = stopping_;
    } else if (in_flight_ == 0) {
      done = stopping_ || (plan_.shared->Exhausted() && backlog_ == 0);
    }
    if (!done) return;
    finishing_ = true;
    if (plan_.idle && !stopping_) stats_.idle_open_at_end = idle_open_;
    to_start_.clear();
    retry_at_.clear();
    waiting_.clear();
    for (Slot& s : slots_) {
      if (!s.client) continue;
      // Set-up connections say QUIT; those still being set up are simply closed.
      if (s.client->ready()) {
        s.client->Quit();
      } else if (!s.client->in_transaction()) {
        s.client->Abort();
      }
    }
  }
  if (live_ == 0) CloseRunnerHandles();
}

void BlastRunner::CloseRunnerHandles() {
  if (handles_closed_) return;
  handles_closed_ = true;
  CloseAndDelete(tick_);
  CloseAndDelete(deadline_);
  for (uv_signal_t* signal : signals_) CloseAndDelete(signal);
  signals_.clear();
  std::lock_guard<std::mutex> lock(async_mutex_);
  async_open_ = false;
  CloseAndDelete(async_);
}

void BlastRunner::Fatal(std::string why) {
  if (fatal_.empty()) fatal_ = std::move(why);
  if (plan_.stop_all) plan_.stop_all(false);
  BeginStop(false);
}

void BlastRunner::Sample(std::vector<std::string>* samples, const std::string& text) {
  if (samples->size() < kShownSamples) samples->push_back(text);
}

}  // namespace postdesk::blast
