#include "storage/redis_address.h"

#include <cctype>
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

// "host:port", "[v6]:port", "host" or "[v6]" (a bare IPv6 literal needs its brackets), the port
// `default_port` when none is given.
Status ParseHostPort(std::string_view text, uint16_t default_port, RedisEndpoint* out) {
  std::string_view host = text;
  size_t bracket = text.find(']');
  size_t colon = text.rfind(':');
  bool has_port = colon != std::string_view::npos &&
                  (bracket == std::string_view::npos ? text.find(':') == colon : colon > bracket);
  out->port = default_port;
  if (has_port) {
    if (!ParseInt<uint16_t>(text.substr(colon + 1), 1, 65535, &out->port)) {
      return Status::Error("redis url: port must be 1-65535");
    }
    host = text.substr(0, colon);
  }
  host = WithoutBrackets(host);
  if (host.empty()) return Status::Error("redis url: missing host");
  out->host = std::string(host);
  return Status::Ok();
}

// After "redis-sentinel://" and the credentials: "host[:port],.../master-name[/db]".
Status ParseSentinels(std::string_view rest, RedisAddress* address) {
  constexpr uint16_t kSentinelPort = 26379;
  size_t slash = rest.find('/');
  if (slash == std::string_view::npos) {
    return Status::Error("redis url: redis-sentinel:// needs /master-name after the sentinels");
  }
  std::string_view hosts = rest.substr(0, slash);
  std::string_view path = rest.substr(slash + 1);
  while (true) {
    size_t comma = hosts.find(',');
    RedisEndpoint sentinel;
    if (Status s = ParseHostPort(hosts.substr(0, comma), kSentinelPort, &sentinel); !s.ok()) {
      return s;
    }
    address->sentinels.push_back(std::move(sentinel));
    if (comma == std::string_view::npos) break;
    hosts.remove_prefix(comma + 1);
  }
  size_t db_slash = path.find('/');
  std::string_view master = path.substr(0, db_slash);
  // Sentinel's own names are words: anything else is a typo in the url.
  bool valid = !master.empty() && master.size() <= 128;
  for (char c : master) {
    valid =
        valid && (std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.');
  }
  if (!valid) {
    return Status::Error("redis url: the master name must be 1-128 letters, digits, '-', '_', '.'");
  }
  address->sentinel_master = std::string(master);
  if (db_slash != std::string_view::npos &&
      !ParseInt(path.substr(db_slash + 1), 0, 15, &address->db)) {
    return Status::Error("redis url: database must be 0-15");
  }
  return Status::Ok();
}

}  // namespace

std::string RedisEndpoint::ToString() const {
  return (host.find(':') == std::string::npos ? host : "[" + host + "]") + ":" +
         std::to_string(port);
}

std::string RedisAddress::ToString() const {
  std::string credentials;
  if (!password.empty()) credentials = username + ":***@";
  if (via_sentinel()) {
    std::string text = "redis-sentinel://" + credentials;
    for (size_t i = 0; i < sentinels.size(); ++i) {
      text += (i ? "," : "") + sentinels[i].ToString();
    }
    return text + "/" + sentinel_master + (db ? "/" + std::to_string(db) : "");
  }
  if (!unix_path.empty()) {
    return "unix://" + credentials + unix_path + (db ? "?db=" + std::to_string(db) : "");
  }
  std::string db_suffix = db ? "/" + std::to_string(db) : "";
  return "redis://" + credentials + host + ":" + std::to_string(port) + db_suffix;
}

Result<RedisAddress> ParseRedisUrl(std::string_view url) {
  RedisAddress address;
  constexpr std::string_view kSentinelScheme = "redis-sentinel://";
  const bool unix_socket = url.substr(0, 7) == "unix://";
  const bool sentinel = url.substr(0, kSentinelScheme.size()) == kSentinelScheme;
  if (!unix_socket && !sentinel && url.substr(0, 8) != "redis://") {
    return Status::Error("redis url: must start with redis://, unix:// or redis-sentinel://");
  }
  std::string_view rest = url.substr(unix_socket ? 7 : sentinel ? kSentinelScheme.size() : 8);
  // The credentials end at the last '@': neither a host, a port, a path nor a database holds
  // one, and a password that does is still read whole.
  size_t at = rest.rfind('@');
  if (at != std::string_view::npos) {
    if (Status s = ParseCredentials(rest.substr(0, at), &address); !s.ok()) return s;
    rest = rest.substr(at + 1);
  }
  if (sentinel) {
    if (Status s = ParseSentinels(rest, &address); !s.ok()) return s;
    return address;
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
  RedisEndpoint server;
  if (Status s = ParseHostPort(rest, 6379, &server); !s.ok()) return s;
  address.host = std::move(server.host);
  address.port = server.port;
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
