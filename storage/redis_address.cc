#include "storage/redis_address.h"

#include <charconv>

#include "parser/transfer_decoding.h"

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

// "[v6]" -> "v6" (RFC 3986 3.2.2's IP-literal); any other host as it is.
std::string_view WithoutBrackets(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    return host.substr(1, host.size() - 2);
  }
  return host;
}

// RFC 3986 section 2.1: "%" and two hex digits stand for one byte.
bool PercentDecode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      *out += text[i];
      continue;
    }
    if (i + 2 >= text.size()) return false;
    int high = HexDigitValue(text[i + 1]);
    int low = HexDigitValue(text[i + 2]);
    if (high < 0 || low < 0) return false;
    *out += static_cast<char>(high * 16 + low);
    i += 2;
  }
  return true;
}

// "user:password", ":password", or "user" alone (its password given elsewhere). The separator
// is the first ':', so that a password may hold one unescaped.
Status ParseCredentials(std::string_view userinfo, RedisAddress* address) {
  size_t colon = userinfo.find(':');
  if (colon == std::string_view::npos) {
    if (userinfo.empty() || !PercentDecode(userinfo, &address->username)) {
      return Status::Error("redis url: credentials must be user:password@, :password@ or user@");
    }
    return Status::Ok();
  }
  if (!PercentDecode(userinfo.substr(0, colon), &address->username) ||
      !PercentDecode(userinfo.substr(colon + 1), &address->password)) {
    return Status::Error("redis url: '%' in the credentials must be followed by two hex digits");
  }
  if (address->password.empty()) return Status::Error("redis url: the password is empty");
  return Status::Ok();
}

}  // namespace

std::string RedisAddress::ToString() const {
  std::string credentials;
  if (!password.empty()) credentials = username + ":***@";
  if (!unix_path.empty()) {
    return "unix://" + credentials + unix_path + (db ? "?db=" + std::to_string(db) : "");
  }
  std::string db_suffix = db ? "/" + std::to_string(db) : "";
  return "redis://" + credentials + host + ":" + std::to_string(port) + db_suffix;
}

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  RedisAddress address;
  const bool unix_socket = url.substr(0, 7) == "unix://";
  if (!unix_socket && url.substr(0, 8) != "redis://") {
    return Status::Error("redis url: must start with redis:// or unix://");
  }
  std::string_view rest = url.substr(unix_socket ? 7 : 8);
  // The credentials end at the last '@': neither a host, a port, a path nor a database holds
  // one, and a password that does is still read whole.
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    if (Status s = ParseCredentials(rest.substr(0, at), &address); !s.ok()) return s;
    rest = rest.substr(at + 1);
  }
  if (unix_socket) {
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
  host = WithoutBrackets(host);
  if (host.empty()) return Status::Error("redis url: missing host");
  address.host = std::string(host);
  return address;
}

std::optional<RedisAddress> MovedTarget(std::string_view error, const RedisAddress& from) {
  constexpr std::string_view kMoved = "MOVED ";
  if (error.substr(0, kMoved.size()) != kMoved) return std::nullopt;
  error.remove_prefix(kMoved.size());
  const size_t space = error.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  const std::string_view node = error.substr(space + 1);
  // The port follows the last ':' (an IPv6 address holds others).
  const size_t colon = node.rfind(':');
  if (colon == std::string_view::npos) return std::nullopt;
  uint16_t port = 0;
  if (!ParseInt<uint16_t>(node.substr(colon + 1), 1, 65535, &port)) return std::nullopt;
  std::string_view host = WithoutBrackets(node.substr(0, colon));
  if (host.empty() && from.unix_path.empty()) host = from.host;
  if (host.empty()) return std::nullopt;
  RedisAddress to = from;
  to.unix_path.clear();
  to.host.assign(host);
  to.port = port;
  return to;
}

}  // namespace postdesk
