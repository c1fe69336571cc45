#include "gateway/connection_limits.h"

#include <cassert>

namespace postdesk {

ConnectionLimits::Verdict ConnectionLimits::Acquire(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  if (total_ >= max_total_) return Verdict::kServerFull;
  size_t& count = per_client_[client];
  if (count >= max_per_client_) {
    if (count == 0) per_client_.erase(client);
    return Verdict::kClientFull;
  }
  ++count;
  ++total_;
  UpdateStress();
  return Verdict::kAccepted;
}

void ConnectionLimits::Release(const std::string& client) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = per_client_.find(client);
  assert(it != per_client_.end() && it->second > 0 && total_ > 0);
  if (it == per_client_.end()) return;
  if (--it->second == 0) per_client_.erase(it);
  --total_;
  UpdateStress();
}

void ConnectionLimits::UpdateStress() {
  const bool stressed = total_ >= stress_at_;
  if (stressed == stressed_.load(std::memory_order_relaxed)) return;
  stressed_.store(stressed, std::memory_order_relaxed);
  if (observer_) observer_(stressed);
}

size_t ConnectionLimits::total() const {
  std::lock_guard<std::mutex> lock(mu_);
  return total_;
}

}  // namespace postdesk
