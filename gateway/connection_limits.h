// ConnectionLimits: how many SMTP connections the whole process, and each client address, may
// hold at once ([limits] max_connections, max_connections_per_ip), so that one client or a
// flood cannot take every socket (as Postfix's smtpd_client_connection_count_limit); and
// whether the process is under stress (at least [limits] stress_connections open), when
// sessions wait a shorter time for a command.
//
// Shared by every loop: Acquire and Release are thread-safe (one mutex, held for a hash
// lookup); under_stress() reads an atomic. The stress observer runs on the thread of the
// Acquire or Release that crossed the threshold, with the mutex held (so that its calls come
// in order): it must only hand the news on (ServerLoop::StressBegan). Never fails; a refusal is a
// verdict the connection answers with 421 4.7.0.
#ifndef POSTDESK_GATEWAY_CONNECTION_LIMITS_H_
#define POSTDESK_GATEWAY_CONNECTION_LIMITS_H_

#include <atomic>
#include <cstddef>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

namespace postdesk {

class ConnectionLimits {
 public:
  enum class Verdict { kAccepted, kServerFull, kClientFull };

  ConnectionLimits(size_t max_total, size_t max_per_client, size_t stress_at)
      : max_total_(max_total), max_per_client_(max_per_client), stress_at_(stress_at) {}

  // Called with true when the open connections reach stress_at, with false when they fall
  // below it again. Set before the loops run.
  void SetStressObserver(std::function<void(bool under_stress)> observer) {
    observer_ = std::move(observer);
  }

  // On kAccepted the caller must Release(client) once the connection ends.
  Verdict Acquire(const std::string& client);
  void Release(const std::string& client);

  size_t total() const;
  bool under_stress() const { return stressed_.load(std::memory_order_relaxed); }

 private:
  void UpdateStress();  // with mu_ held

  const size_t max_total_;
  const size_t max_per_client_;
  const size_t stress_at_;
  std::function<void(bool)> observer_;
  std::atomic<bool> stressed_{false};
  mutable std::mutex mu_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> per_client_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_CONNECTION_LIMITS_H_
