// BlastRunner: one libuv loop's share of a postdesk-blast run. It owns the loop, its
// connections (one BlastClient per slot, replaced when a connection ends), its timers, and its
// BlastStats; it decides which connection sends which message, when to reconnect, and when the
// run is over.
//
// Threads: Run() runs the loop on the calling thread, and everything but RequestStop happens
// there. RequestStop may be called from any thread (a signal on another loop, the main thread);
// it wakes the loop through a uv_async_t guarded by a mutex, so it is safe even after the loop
// has finished. The runners of one run share only SharedRun (atomics): the message budget of
// --count and the message sequence that makes Message-IDs unique.
//
// How it fails: per message and per connection, counted in the stats (see BlastClient). The run
// itself fails (fatal(), a non-empty reason) when kMaxSetupFailures connection setups fail in a
// row with no success between them: the server is down or refuses us, and retrying forever
// would hang. Then it asks every runner to stop. Nothing throws out of a libuv callback.
#ifndef POSTDESK_TOOLS_BLAST_BLAST_RUNNER_H_
#define POSTDESK_TOOLS_BLAST_BLAST_RUNNER_H_

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "tools/blast/blast_client.h"
#include "tools/blast/blast_options.h"
#include "tools/blast/blast_report.h"
#include "tools/blast/message_source.h"

namespace postdesk::blast {

// Connection setups failing in a row (no success between) that end the run.
inline constexpr uint32_t kMaxSetupFailures = 20;

struct SharedRun {
  bool limited = false;               // --count was given: `budget` bounds the run
  std::atomic<int64_t> budget{0};     // messages still to start, across every loop
  std::atomic<uint64_t> sequence{0};  // the next message's number (its Message-ID, its sender)

  // Takes one message from the budget; false when there is none left.
  bool TakeOne();
  bool Exhausted() const { return limited && budget.load(std::memory_order_relaxed) <= 0; }
};

struct RunnerPlan {
  const BlastOptions* options = nullptr;
  const MessageSource* source = nullptr;  // null in idle mode
  std::shared_ptr<const TlsContext> tls;  // null without --starttls
  std::string tls_name;                   // --tls-name, or the --server host
  sockaddr_storage address{};
  size_t connections = 0;  // this loop's share (in idle mode, of --idle)
  double rate = 0;         // this loop's share of --rate; 0: closed loop
  bool idle = false;
  SharedRun* shared = nullptr;
  // This loop watches SIGINT and SIGTERM (every loop of a run does): the first asks every
  // runner to drain, the second to abandon what is in flight.
  bool handle_signals = false;
  // Asks every runner of the run to stop (force: abandon messages in flight). Called on this
  // loop's thread, on a signal or a fatal error.
  std::function<void(bool force)> stop_all;
};

class BlastRunner : public ClientHost {
 public:
  explicit BlastRunner(RunnerPlan plan);
  ~BlastRunner() override;
  BlastRunner(const BlastRunner&) = delete;
  BlastRunner& operator=(const BlastRunner&) = delete;

  // Runs the loop on the calling thread until this share of the run is over (or stopped).
  void Run();
  // Any thread: stop starting messages and finish those in flight; with `force`, close every
  // connection now and count what was in flight as abandoned.
  void RequestStop(bool force);

  const BlastStats& stats() const { return stats_; }
  const std::string& fatal() const { return fatal_; }
  uint64_t stop_ns() const { return stop_ns_; }

  // ClientHost, on the loop thread.
  void OnReady(BlastClient* client) override;
  void OnTransactionDone(BlastClient* client, const TransactionResult& result) override;
  void OnConnectionError(BlastClient* client, ErrorKind kind, const std::string& what,
                         bool message_lost) override;
  void OnClosed(BlastClient* client) override;

 private:
  struct Slot {
    std::unique_ptr<BlastClient> client;
    bool connecting = false;      // started, not yet set up or closed
    bool busy = false;            // a message in flight
    uint32_t setup_failures = 0;  // in a row, for the reconnect backoff
  };

  static void OnAsync(uv_async_t* async);
  static void OnTick(uv_timer_t* timer);
  static void OnDeadline(uv_timer_t* timer);
  static void OnSignal(uv_signal_t* signal, int signum);

  void StartPending();
  void StartSlot(size_t slot);
  void Dispatch(BlastClient* client);
  void StartMessage(BlastClient* client);
  void Arrivals();
  void StartLoad();  // the clock of --rate and --duration starts
  bool ShouldReconnect() const;
  void CheckIdleSettled();
  void BeginStop(bool force);
  void MaybeFinish();
  void CloseRunnerHandles();
  void Fatal(std::string why);
  void Sample(std::vector<std::string>* samples, const std::string& text);

  RunnerPlan plan_;
  const BlastOptions& options_;
  std::unique_ptr<uv_loop_t> loop_;
  std::unique_ptr<char[]> read_buffer_;
  BlastClient::Config client_config_;
  std::vector<Slot> slots_;
  std::deque<size_t> to_start_;               // slots waiting for a connect (throttled)
  std::multimap<uint64_t, size_t> retry_at_;  // uv_now() ms -> slot, after a failed setup
  std::deque<size_t> waiting_;                // --rate: ready slots without a message
  size_t connecting_ = 0;
  size_t live_ = 0;  // clients not yet closed
  size_t in_flight_ = 0;
  size_t idle_open_ = 0;
  size_t idle_settled_ = 0;  // idle slots set up or failed
  bool idle_announced_ = false;
  bool load_started_ = false;
  uint64_t load_start_ns_ = 0;
  uint64_t arrivals_ = 0;
  uint64_t backlog_ = 0;
  uint32_t setup_failures_in_a_row_ = 0;
  std::string last_error_;
  bool stopping_ = false;
  bool forced_ = false;
  bool finishing_ = false;
  bool handles_closed_ = false;
  int signals_seen_ = 0;
  uint64_t stop_ns_ = 0;
  BlastStats stats_;
  std::string fatal_;

  uv_timer_t* tick_ = nullptr;      // retries, and --rate's arrivals; freed in its close callback
  uv_timer_t* deadline_ = nullptr;  // --duration
  std::vector<uv_signal_t*> signals_;
  uv_async_t* async_ = nullptr;
  std::mutex async_mutex_;  // guards async_open_ and uv_async_send against the close
  bool async_open_ = false;
  std::atomic<int> stop_requested_{0};  // 1: drain, 2: force
};

}  // namespace postdesk::blast

#endif  // POSTDESK_TOOLS_BLAST_BLAST_RUNNER_H_
