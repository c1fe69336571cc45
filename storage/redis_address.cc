#include "storage/redis_address.h"

#include <charconv>

namespace postdesk {
namespace {

template <typename Int>
bool ParseInt(std::string_view text, Int min, Int max, Int* out) {
  Int value{};
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr != text.data() + text.size() || value < min || value > max) {
    return false;
  }
  *out = value;
  return true;
}

}  // namespace

std::string RedisAddress::ToString() const {
  std::string db_suffix = db ? "/" + std::to_string(db) : "";
  if (!unix_path.empty()) return "unix://" + unix_path + (db ? "?db=" + std::to_string(db) : "");
  return "redis://" + host + ":" + std::to_string(port) + db_suffix;
}

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  RedisAddress address;
  if (url.substr(0, 7) == "unix://") {
    std::string_view rest = url.substr(7);
    size_t query = rest.find('?');
    if (query != std::string_view::npos) {
      std::string_view q = rest.substr(query + 1);
      if (q.substr(0, 3) != "db=" || !ParseInt(q.substr(3), 0, 15, &address.db)) {
        return Status::Error("redis url: only ?db=N (0-15) may follow a socket path");
      }
      rest = rest.substr(0, query);
    }
    if (rest.empty() || rest.front() != '/') {
      return Status::Error("redis url: unix:// needs an absolute socket path");
    }
    address.unix_path = std::string(rest);
    return address;
  }
  if (url.substr(0, 8) != "redis://") {
    return Status::Error("redis url: must start with redis:// or unix://");
  }
  std::string_view rest = url.substr(8);
  if (rest.find('@') != std::string_view::npos) {
    return Status::Error("redis url: credentials in the url are not supported yet");
  }
  size_t slash = rest.find('/');
  if (slash != std::string_view::npos) {
    std::string_view db = rest.substr(slash + 1);
    if (!db.empty() && !ParseInt(db, 0, 15, &address.db)) {
      return Status::Error("redis url: database must be 0-15");
    }
    rest = rest.substr(0, slash);
  }
  // "host:port", "[v6]:port", "host" or "[v6]"; a bare IPv6 literal needs its brackets.
  std::string_view host = rest;
  size_t bracket = rest.find(']');
  size_t colon = rest.rfind(':');
  bool has_port = colon != std::string_view::npos &&
                  (bracket == std::string_view::npos ? rest.find(':') == colon : colon > bracket);
  if (has_port) {
    if (!ParseInt<uint16_t>(rest.substr(colon + 1), 1, 65535, &address.port)) {
      return Status::Error("redis url: port must be 1-65535");
    }
    host = rest.substr(0, colon);
  }
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty()) return Status::Error("redis url: missing host");
  address.host = std::string(host);
  return address;
}

}  // namespace postdesk
