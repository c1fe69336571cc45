// OutboxSender: delivers the notification outbox (storage/outbox_queue.h) to the relay, or to
// .eml files under data_dir/outbox/ when no relay is configured (design.md, "Targets and
// notifications").
//
// For each notification it resolves the recipients (the requester or assignee address, a
// group's members, "all_agents", a target's address, the administrator for alerts), drops our own
// support addresses and the partner addresses (loop safety), applies the per-recipient caps,
// builds the message (parser/notification_message.h: From and Reply-To the ticket's
// received_at, or the brand's default address for an external mailbox's; Auto-Submitted, X-Auto-Response-Suppress, X-Loop, a Message-ID that encodes the
// ticket, In-Reply-To/References, the ticket token), and hands it to an SmtpClient (pipelining,
// connection reuse, STARTTLS). The entry is acknowledged only after the relay's 250, after a
// permanent failure (recorded on the ticket), or when nothing is left to send (recorded too).
// Temporary failures retry with exponential backoff from retry_initial_ms to retry_max_ms;
// target_failure_limit consecutive failures deactivate a target and raise an alert (error log,
// counter, mail to admin_email).
//
// Owns one thread with its own libuv loop, the SmtpClients on it and a blocking Redis
// connection. Start/Stop/UpdateConfig are called from the main thread. Redis failures are
// logged and retried; nothing is acknowledged that was not delivered or recorded.
#ifndef POSTDESK_GATEWAY_OUTBOX_SENDER_H_
#define POSTDESK_GATEWAY_OUTBOX_SENDER_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <thread>

#include "gateway/config.h"
#include "storage/redis_address.h"

namespace postdesk {

struct OutboxCounters {
  std::atomic<uint64_t> delivered{0};   // relay said 250 (or written to a file)
  std::atomic<uint64_t> deferred{0};    // temporary failures, retried
  std::atomic<uint64_t> failed{0};      // permanent failures, recorded on the ticket
  std::atomic<uint64_t> suppressed{0};  // recipients dropped: our addresses, partners, caps
  std::atomic<uint64_t> alerts{0};      // targets deactivated
};

class OutboxSender {
 public:
  OutboxSender(const Config& config, RedisAddress redis);
  ~OutboxSender();  // Stop()
  OutboxSender(const OutboxSender&) = delete;
  OutboxSender& operator=(const OutboxSender&) = delete;

  void Start();
  // Stops reading; deliveries in flight get up to `grace` to finish, the rest stay pending in
  // Redis for the next start.
  void Stop(std::chrono::milliseconds grace = std::chrono::seconds(10));
  // SIGHUP: targets, groups, caps, addresses and brands for notifications read from now on.
  void UpdateConfig(const Config& config);
  const OutboxCounters& counters() const { return counters_; }

 private:
  class Worker;
  std::unique_ptr<Worker> worker_;
  std::thread thread_;
  OutboxCounters counters_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_OUTBOX_SENDER_H_
