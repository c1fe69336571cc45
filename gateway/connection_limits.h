// ConnectionLimits: how many SMTP connections the whole process, and each client address, may
// hold at once ([limits] max_connections, max_connections_per_ip), so that one client or a
// flood cannot take every socket (as Postfix's smtpd_client_connection_count_limit).
//
// Shared by every loop: Acquire and Release are thread-safe (one mutex, held for a hash
// lookup). Never fails; a refusal is a verdict the connection answers with 421 4.7.0.
#ifndef POSTDESK_GATEWAY_CONNECTION_LIMITS_H_
#define POSTDESK_GATEWAY_CONNECTION_LIMITS_H_

#include <cstddef>
#include <mutex>
#include <string>
#include <unordered_map>

namespace postdesk {

class ConnectionLimits {
 public:
  enum class Verdict { kAccepted, kServerFull, kClientFull };

  ConnectionLimits(size_t max_total, size_t max_per_client)
      : max_total_(max_total), max_per_client_(max_per_client) {}

  // On kAccepted the caller must Release(client) once the connection ends.
  Verdict Acquire(const std::string& client);
  void Release(const std::string& client);

  size_t total() const;

 private:
  const size_t max_total_;
  const size_t max_per_client_;
  mutable std::mutex mu_;
  size_t total_ = 0;
  std::unordered_map<std::string, size_t> per_client_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_CONNECTION_LIMITS_H_
