#include "gateway/config.h"

#include <arpa/inet.h>
#include <hiredis/hiredis.h>
#include <toml++/toml.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include "gateway/bounded_file.h"
#include "gateway/brand_addresses.h"
#include "gateway/notify_config.h"
#include "gateway/toml_table_reader.h"
#include "parser/email_address.h"
#include "rules/default_triggers.h"
#include "rules/trigger_loader.h"
#include "storage/redis_address.h"
#include "storage/redis_connection.h"

namespace postdesk {
namespace {

constexpr std::chrono::milliseconds kMinimumTimeout{1000};
// Redis takes a value of at most 512 MB (proto-max-bulk-len's default); the rest is room for
// our Received: header.
constexpr size_t kMaxMessageSizeBytes = 500u * 1024 * 1024;
// Hundreds of thousands of addresses fit in a few MiB; a larger file is a mistake.
constexpr size_t kMaxConfigFileBytes = 64u * 1024 * 1024;

Result<ListenAddress> ParseListen(std::string_view text) {
  ListenAddress out;
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Status::Error("expected host:port");
  std::string_view host = text.substr(0, colon);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  std::string_view port = text.substr(colon + 1);
  int value = 0;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || ptr != port.data() + port.size() || value < 1 || value > 65535) {
    return Status::Error("port must be 1-65535");
  }
  if (host.empty()) return Status::Error("expected host:port");
  out.host = std::string(host);
  out.port = static_cast<uint16_t>(value);
  return out;
}

Status ReadListen(TableReader& smtp, std::string_view key, std::vector<ListenAddress>* out) {
  std::vector<std::string> listen;
  RETURN_IF_ERROR(smtp.StringList(key, &listen));
  if (!smtp.Get(key)) return Status::Ok();
  out->clear();
  for (size_t i = 0; i < listen.size(); ++i) {
    Result<ListenAddress> address = ParseListen(listen[i]);
    if (!address.ok()) {
      return Status::Error(smtp.Name(key) + "[" + std::to_string(i) + "]: " +
                           address.status().message());
    }
    out->push_back(address.value());
  }
  return Status::Ok();
}

Status ReadSmtp(TableReader& smtp, Config* config) {
  RETURN_IF_ERROR(ReadListen(smtp, "listen", &config->listen));
  RETURN_IF_ERROR(ReadListen(smtp, "listen_tls", &config->listen_tls));
  if (config->listen.empty() && config->listen_tls.empty()) {
    return Status::Error(smtp.Name("listen") + ": needs at least one address");
  }
  RETURN_IF_ERROR(smtp.String("hostname", &config->hostname));
  RETURN_IF_ERROR(smtp.Count("loops", 0, 256, &config->loops));
  std::vector<std::string> proxies;
  RETURN_IF_ERROR(smtp.StringList("proxy_protocol_from", &proxies));
  for (size_t i = 0; i < proxies.size(); ++i) {
    Result<IpNetwork> network = ParseIpNetwork(proxies[i]);
    if (!network.ok()) {
      return Status::Error(smtp.Name("proxy_protocol_from") + "[" + std::to_string(i) +
                           "]: " + network.status().message());
    }
    config->proxy_protocol_from.push_back(network.value());
  }
  return smtp.Finish();
}

// [http] listen: one address for the metrics and health endpoints.
Status ReadHttp(TableReader& http, Config* config) {
  std::string listen;
  RETURN_IF_ERROR(http.String("listen", &listen));
  if (http.Get("listen")) {
    Result<ListenAddress> address = ParseListen(listen);
    if (!address.ok()) {
      return Status::Error(http.Name("listen") + ": " + address.status().message());
    }
    // Bound as given, never resolved: a name would make the port depend on DNS at start.
    unsigned char ip[sizeof(in6_addr)];
    if (inet_pton(AF_INET, address->host.c_str(), ip) != 1 &&
        inet_pton(AF_INET6, address->host.c_str(), ip) != 1) {
      return Status::Error(http.Name("listen") + ": \"" + address->host +
                           "\" is not an IP address");
    }
    config->http_listen = address.value();
  }
  return http.Finish();
}

Status ReadLog(TableReader& log, Config* config) {
  RETURN_IF_ERROR(log.String("level", &config->log.level));
  static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error"};
  if (std::find(std::begin(kLevels), std::end(kLevels), config->log.level) == std::end(kLevels)) {
    return Status::Error(log.Name("level") + ": must be trace, debug, info, warn or error");
  }
  std::string format = "text";
  RETURN_IF_ERROR(log.String("format", &format));
  if (format != "text" && format != "json") {
    return Status::Error(log.Name("format") + ": must be \"text\" or \"json\"");
  }
  config->log.format = format == "json" ? LogFormat::kJson : LogFormat::kText;
  return log.Finish();
}

Status ReadLimits(TableReader& limits, LimitsConfig* out) {
  RETURN_IF_ERROR(limits.Size("max_message_size", &out->max_message_size));
  // RFC 5321 4.5.3.1.8: at least 100 recipients must be accepted.
  RETURN_IF_ERROR(limits.Count("max_recipients", 100, 100000, &out->max_recipients));
  RETURN_IF_ERROR(limits.Count("max_line_length", 512, 65536, &out->max_line_length));
  RETURN_IF_ERROR(limits.Count("max_errors", 1, 1000, &out->max_errors));
  RETURN_IF_ERROR(limits.Count("max_connections", 1, 1000000, &out->max_connections));
  RETURN_IF_ERROR(
      limits.Count("max_connections_per_ip", 1, 1000000, &out->max_connections_per_ip));
  // A zero timeout would end every session (or every DATA) at once.
  RETURN_IF_ERROR(limits.Duration("command_timeout", &out->command_timeout, kMinimumTimeout));
  RETURN_IF_ERROR(limits.Duration("data_timeout", &out->data_timeout, kMinimumTimeout));
  RETURN_IF_ERROR(limits.Duration("shutdown_grace", &out->shutdown_grace));
  out->stress_connections = std::max<size_t>(1, out->max_connections * 4 / 5);
  RETURN_IF_ERROR(limits.Count("stress_connections", 1, static_cast<int64_t>(out->max_connections),
                               &out->stress_connections));
  RETURN_IF_ERROR(
      limits.Duration("stress_command_timeout", &out->stress_command_timeout, kMinimumTimeout));
  // Stress never lengthens a wait: a short command_timeout (a test's "2s") stays the bound.
  out->stress_command_timeout = std::min(out->stress_command_timeout, out->command_timeout);
  RETURN_IF_ERROR(limits.Count("stress_max_errors", 1, 1000, &out->stress_max_errors));
  out->stress_max_errors = std::min(out->stress_max_errors, out->max_errors);
  if (out->max_message_size < 1024) {
    return Status::Error(limits.Name("max_message_size") + ": must be at least 1KiB");
  }
  // Redis refuses a larger value and drops the connection: every such message would hear 451
  // and come back for ever.
  if (out->max_message_size > kMaxMessageSizeBytes) {
    return Status::Error(limits.Name("max_message_size") +
                         ": at most 500MiB (Redis stores a value of at most 512MB)");
  }
  return limits.Finish();
}

Status ReadClassification(TableReader& r, ClassificationConfig* out) {
  RETURN_IF_ERROR(r.String("token_secret", &out->token_secret));
  if (!out->token_secret.empty() && out->token_secret.size() < 16) {
    return Status::Error(r.Name("token_secret") + ": at least 16 characters");
  }
  RETURN_IF_ERROR(r.Integer("rate_limit", 1, 1000000, &out->rate_limit));
  RETURN_IF_ERROR(r.Duration("rate_window", &out->rate_window));
  RETURN_IF_ERROR(r.Duration("block_time", &out->block_time));
  RETURN_IF_ERROR(r.Duration("duplicate_window", &out->duplicate_window));
  RETURN_IF_ERROR(r.Duration("suspended_retention", &out->suspended_retention));
  for (auto [key, value] : {std::pair{"rate_window", out->rate_window},
                            {"block_time", out->block_time},
                            {"duplicate_window", out->duplicate_window},
                            {"suspended_retention", out->suspended_retention}}) {
    if (value.count() < 1000) return Status::Error(r.Name(key) + ": at least 1s");
  }
  return r.Finish();
}

// `key`'s list of strings, each checked and normalized by `check` (BrandMailbox,
// WildcardDomain); a bad one is named by its index.
Status ReadEntries(TableReader& brand, std::string_view key,
                   Result<std::string> (*check)(std::string_view), std::vector<std::string>* out) {
  RETURN_IF_ERROR(brand.StringList(key, out));
  for (size_t i = 0; i < out->size(); ++i) {
    Result<std::string> entry = check((*out)[i]);
    if (!entry.ok()) {
      return Status::Error(brand.Name(key) + "[" + std::to_string(i) +
                           "]: " + entry.status().message());
    }
    (*out)[i] = std::move(entry).value();
  }
  return Status::Ok();
}

Status ReadBrand(TableReader& brand, BrandConfig* out) {
  RETURN_IF_ERROR(brand.String("name", &out->name));
  if (out->name.empty()) return Status::Error(brand.Name("name") + ": required");
  RETURN_IF_ERROR(ReadEntries(brand, "addresses", &BrandMailbox, &out->addresses));
  RETURN_IF_ERROR(
      ReadEntries(brand, "external_addresses", &BrandMailbox, &out->external_addresses));
  RETURN_IF_ERROR(ReadEntries(brand, "wildcards", &WildcardDomain, &out->wildcards));
  RETURN_IF_ERROR(brand.String("addresses_file", &out->addresses_file));
  if (brand.Get("addresses_file") && out->addresses_file.empty()) {
    return Status::Error(brand.Name("addresses_file") +
                         ": must not be empty (leave it out for none)");
  }
  // With a file, LoadBrandAddressFiles checks this once it has read it.
  if (out->addresses.empty() && out->wildcards.empty() && out->addresses_file.empty()) {
    return Status::Error(brand.Name("addresses") + ": a brand needs at least one address");
  }
  return brand.Finish();
}

// ParseConfig's `keys`: what `reader` asked for, under `table` ("" at the top level).
void NoteKeys(const TableReader& reader, std::string_view table, std::set<std::string>* keys) {
  if (!keys) return;
  for (const std::string& key : reader.asked()) {
    keys->insert(table.empty() ? key : std::string(table) + "." + key);
  }
}

std::string MachineHostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

}  // namespace

Result<size_t> ParseSize(std::string_view text) {
  size_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || ptr == text.data()) return Status::Error("expected a size like \"25MiB\"");
  std::string unit = LowerAscii(std::string_view(ptr, text.data() + text.size() - ptr));
  size_t multiplier = 0;
  if (unit.empty() || unit == "b") multiplier = 1;
  else if (unit == "kb") multiplier = 1000;
  else if (unit == "kib" || unit == "k") multiplier = 1024;
  else if (unit == "mb") multiplier = 1000 * 1000;
  else if (unit == "mib" || unit == "m") multiplier = 1024 * 1024;
  else if (unit == "gb") multiplier = 1000 * 1000 * 1000;
  else if (unit == "gib" || unit == "g") multiplier = size_t{1} << 30;
  else return Status::Error("unknown unit \"" + unit + "\" (use B, KiB, MiB, GiB, KB, MB, GB)");
  if (value > std::numeric_limits<size_t>::max() / multiplier) return Status::Error("too large");
  return value * multiplier;
}

Result<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  uint64_t value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  std::string_view unit(ptr, text.data() + text.size() - ptr);
  if (ec != std::errc() || ptr == text.data() || value > 1000000000) {
    return Status::Error("expected a duration like \"30s\" or \"5m\"");
  }
  using std::chrono::milliseconds;
  if (unit == "ms") return milliseconds(value);
  if (unit == "s") return milliseconds(value * 1000);
  if (unit == "m") return milliseconds(value * 60 * 1000);
  if (unit == "h") return milliseconds(value * 3600 * 1000);
  if (unit == "d") return milliseconds(value * 24 * 3600 * 1000);
  return Status::Error("unknown unit \"" + std::string(unit) + "\" (use ms, s, m, h, d)");
}

Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name,
                           std::set<std::string>* keys) {
  Config config;
  config.source = std::string(source_name);
  auto fail = [&](const Status& s) {
    return Status::Error(std::string(source_name) + ": " + s.message());
  };
  toml::table root;
  try {
    root = toml::parse(toml_text, source_name);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return Status::Error(std::string(source_name) + ":" + where.str().substr(where.str().find("line")) +
                         ": " + std::string(e.description()));
  }

  TableReader top(root, "");
  Status s = top.String("data_dir", &config.data_dir);
  if (!s.ok()) return fail(s);
  if (config.data_dir.empty()) return fail(Status::Error("data_dir: must not be empty"));

  struct Section {
    const char* name;
    Status (*read)(TableReader&, Config*);
  };
  const Section sections[] = {
      {"smtp", &ReadSmtp},
      {"limits", [](TableReader& r, Config* c) { return ReadLimits(r, &c->limits); }},
      {"classification",
       [](TableReader& r, Config* c) { return ReadClassification(r, &c->classification); }},
      {"redis",
       [](TableReader& r, Config* c) {
         RETURN_IF_ERROR(r.String("url", &c->redis_url));
         RETURN_IF_ERROR(r.String("password_file", &c->redis_password_file));
         RETURN_IF_ERROR(r.String("sentinel_password_file", &c->redis_sentinel_password_file));
         RETURN_IF_ERROR(r.Duration("sentinel_timeout", &c->redis_sentinel_timeout,
                                    std::chrono::milliseconds(10), std::chrono::seconds(60)));
         RETURN_IF_ERROR(r.Duration("reply_timeout", &c->redis_reply_timeout,
                                    std::chrono::seconds(1), std::chrono::minutes(10)));
         const std::pair<const char*, const std::string*> files[] = {
             {"password_file", &c->redis_password_file},
             {"sentinel_password_file", &c->redis_sentinel_password_file}};
         for (auto [key, path] : files) {
           if (!path->empty() && c->redis_url.empty()) {
             return Status::Error(r.Name(key) +
                                  ": needs url (the embedded redis-server takes no password)");
           }
         }
         std::string fsync;
         RETURN_IF_ERROR(r.String("appendfsync", &fsync));
         if (!fsync.empty() && !c->redis_url.empty()) {
           return Status::Error(r.Name("appendfsync") +
                                ": for the embedded redis-server only; with url, set it in that "
                                "server's redis.conf");
         }
         if (!fsync.empty() && fsync != "always" && fsync != "everysec") {
           return Status::Error(r.Name("appendfsync") + ": \"" + fsync +
                                "\" is neither \"always\" nor \"everysec\"");
         }
         if (fsync == "everysec") c->redis_fsync = EmbeddedFsync::kEverySecond;
         return r.Finish();
       }},
      {"triggers",
       [](TableReader& r, Config* c) {
         RETURN_IF_ERROR(r.String("file", &c->triggers.file));
         RETURN_IF_ERROR(r.Bool("defaults", &c->triggers.defaults));
         RETURN_IF_ERROR(r.Count("workers", 0, 256, &c->triggers.workers));
         RETURN_IF_ERROR(r.Duration("claim_timeout", &c->triggers.claim_timeout));
         if (c->triggers.claim_timeout.count() < 1000) {
           return Status::Error(r.Name("claim_timeout") + ": at least 1s");
         }
         return r.Finish();
       }},
      {"notify", [](TableReader& r, Config* c) { return ReadNotify(r, &c->notify); }},
      {"http", &ReadHttp},
      {"log", &ReadLog},
      {"tls",
       [](TableReader& r, Config* c) {
         RETURN_IF_ERROR(r.String("cert", &c->tls_cert));
         RETURN_IF_ERROR(r.String("key", &c->tls_key));
         if (c->tls_cert.empty() != c->tls_key.empty()) {
           return Status::Error(r.Name(c->tls_cert.empty() ? "cert" : "key") +
                                ": cert and key go together");
         }
         return r.Finish();
       }},
  };
  // An absent section reads as an empty one: its defaults, checked as a written one would be.
  static const toml::table kEmptyTable;
  for (const Section& section : sections) {
    const toml::node* node = top.Get(section.name);
    if (node && !node->is_table()) {
      return fail(Status::Error(std::string(section.name) + ": expected a table"));
    }
    TableReader reader(node ? *node->as_table() : kEmptyTable,
                       std::string("[") + section.name + "]");
    s = section.read(reader, &config);
    if (!s.ok()) return fail(s);
    NoteKeys(reader, section.name, keys);
  }

  // [[target]] and [[group]]: arrays of tables, read like the brands.
  for (const char* name : {"target", "group"}) {
    const toml::node* node = top.Get(name);
    if (!node) continue;
    const toml::array* tables = node->as_array();
    if (!tables || !tables->is_array_of_tables()) {
      return fail(Status::Error(std::string(name) + ": expected [[" + name + "]] tables"));
    }
    for (size_t i = 0; i < tables->size(); ++i) {
      TableReader reader(*tables->get(i)->as_table(),
                         "[[" + std::string(name) + "]] #" + std::to_string(i + 1));
      if (std::string_view(name) == "target") {
        config.targets.emplace_back();
        s = ReadTarget(reader, &config.targets.back());
      } else {
        config.groups.emplace_back();
        s = ReadGroup(reader, &config.groups.back());
      }
      if (!s.ok()) return fail(s);
      NoteKeys(reader, name, keys);
    }
  }
  if (const toml::node* node = top.Get("brand")) {
    const toml::array* brands = node->as_array();
    if (!brands || !brands->is_array_of_tables()) {
      return fail(Status::Error("brand: expected [[brand]] tables"));
    }
    for (size_t i = 0; i < brands->size(); ++i) {
      TableReader reader(*brands->get(i)->as_table(), "[[brand]] #" + std::to_string(i + 1));
      BrandConfig brand;
      s = ReadBrand(reader, &brand);
      if (!s.ok()) return fail(s);
      NoteKeys(reader, "brand", keys);
      config.brands.push_back(std::move(brand));
    }
  }
  s = top.Finish();
  if (!s.ok()) return fail(s);
  NoteKeys(top, "", keys);
  if (config.brands.empty()) {
    return fail(Status::Error("no [[brand]]: every recipient would be refused"));
  }
  if (!config.listen_tls.empty() && config.tls_cert.empty()) {
    return fail(Status::Error("[smtp].listen_tls: needs [tls] cert and key"));
  }
  s = CheckBrandsUnique(config.brands);
  if (!s.ok()) return fail(s);
  if (config.hostname.empty()) config.hostname = MachineHostName();
  return config;
}

namespace {

// 32 random bytes as hex.
Result<std::string> RandomSecret() {
  unsigned char bytes[32];
  std::ifstream random("/dev/urandom", std::ios::binary);
  if (!random.read(reinterpret_cast<char*>(bytes), sizeof(bytes))) {
    return Status::Error("cannot read /dev/urandom for the token secret");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string secret;
  for (unsigned char b : bytes) {
    secret += kHex[b >> 4];
    secret += kHex[b & 15];
  }
  return secret;
}

// A secret file as systemd's LoadCredential= and container secrets provide it: one line, at
// most kMaxPasswordBytes (Redis takes longer ones, but a larger file is not a password).
// `key` names the file in errors.
Result<std::string> ReadPasswordFile(std::string_view key, const std::string& path) {
  constexpr size_t kMaxPasswordBytes = 4096;
  const std::string name = "[redis]." + std::string(key) + " " + path;
  // Room for a line break after the longest password, and a byte to see that it is longer.
  Result<std::string> read = ReadFileHead(path, kMaxPasswordBytes + 3);
  if (!read.ok()) {
    return Status::Error(name + ": " + read.status().message());
  }
  std::string text = std::move(read).value();
  if (text.size() >= 1 && text.back() == '\n') text.pop_back();
  if (text.size() >= 1 && text.back() == '\r') text.pop_back();
  if (text.size() > kMaxPasswordBytes) {
    return Status::Error(name + ": longer than " + std::to_string(kMaxPasswordBytes) + " bytes");
  }
  if (text.empty()) return Status::Error(name + ": is empty");
  if (text.find_first_of(std::string_view("\r\n\0", 3)) != std::string::npos) {
    return Status::Error(name + ": holds more than one line");
  }
  return text;
}

// Nodes that share a Redis must share the token key, or a reply that reaches another node than
// the one that sent the notification threads nowhere: the first node to ask stores one there
// (SET NX GET, atomically), and every node uses it.
Status SharedTokenSecret(Config* config) {
  Result<RedisAddress> address = ExternalRedisAddress(*config);
  if (!address.ok()) return address.status();
  Result<std::unique_ptr<RedisConnection>> redis =
      RedisConnection::Connect(address.value(), std::chrono::seconds(2));
  if (!redis.ok()) {
    return Status::Error(redis.status().message() +
                         ": cannot read the token secret that the nodes of this Redis share "
                         "(or set [classification] token_secret)");
  }
  Result<std::string> mine = RandomSecret();
  if (!mine.ok()) return mine.status();
  RedisReplyPtr r = redis.value()->CommandArgv({"SET", kSharedTokenSecretKey, mine.value(), "NX", "GET"});
  if (!r) return Status::Error(redis.value()->LastError());
  if (r->type == REDIS_REPLY_NIL) {
    config->classification.token_secret = mine.value();
  } else if (r->type == REDIS_REPLY_STRING && r->len >= 16) {
    config->classification.token_secret.assign(r->str, r->len);
  } else {
    return Status::Error(std::string("redis: unexpected value at ") + kSharedTokenSecretKey);
  }
  return Status::Ok();
}

}  // namespace

Result<RedisAddress> ExternalRedisAddress(const Config& config) {
  Result<RedisAddress> address = ParseRedisUrl(config.redis_url);
  if (!address.ok()) {
    // ParseRedisUrl's errors start "redis url: "; named as the key here.
    std::string_view why = address.status().message();
    if (why.substr(0, 11) == "redis url: ") why.remove_prefix(11);
    return Status::Error("[redis].url: " + std::string(why));
  }
  if (!config.redis_sentinel_password_file.empty()) {
    if (!address->via_sentinel()) {
      return Status::Error(
          "[redis].sentinel_password_file: needs a redis-sentinel:// url (for a server's own "
          "password, password_file)");
    }
    Result<std::string> password =
        ReadPasswordFile("sentinel_password_file", config.redis_sentinel_password_file);
    if (!password.ok()) return password.status();
    address->sentinel_password = std::move(password).value();
  }
  address->sentinel_timeout = config.redis_sentinel_timeout;
  if (config.redis_password_file.empty()) {
    if (!address->username.empty() && address->password.empty()) {
      return Status::Error(
          "[redis].url: the user needs a password (user:password@, or [redis] "
          "password_file)");
    }
    return address;
  }
  if (!address->password.empty()) {
    return Status::Error("[redis].password_file: the url has a password too; give it one way");
  }
  Result<std::string> password = ReadPasswordFile("password_file", config.redis_password_file);
  if (!password.ok()) return password.status();
  address->password = std::move(password).value();
  return address;
}

Status ResolveTokenSecret(Config* config, const Config* running) {
  if (!config->classification.token_secret.empty()) return Status::Ok();
  if (running && config->redis_url == running->redis_url && config->data_dir == running->data_dir) {
    config->classification.token_secret = running->classification.token_secret;
    return Status::Ok();
  }
  if (!config->redis_url.empty()) return SharedTokenSecret(config);
  std::error_code ec;
  std::filesystem::create_directories(config->data_dir, ec);
  if (ec) return Status::Error("data_dir " + config->data_dir + ": " + ec.message());
  std::string path = config->data_dir + "/token.key";
  Result<std::string> stored = ReadFileAtMost(path, 4096);
  std::string secret;
  if (stored.ok()) secret = stored->substr(0, stored->find('\n'));
  if (secret.size() >= 16) {
    config->classification.token_secret = secret;
    return Status::Ok();
  }
  Result<std::string> generated = RandomSecret();
  if (!generated.ok()) return generated.status();
  secret = generated.value();
  // Written to a temporary file and renamed, so that a crash never leaves half a key.
  std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << secret << "\n";
    if (!out.flush()) return Status::Error(tmp + ": cannot write the token secret");
  }
  std::filesystem::permissions(tmp, std::filesystem::perms::owner_read | std::filesystem::perms::owner_write,
                               ec);
  std::filesystem::rename(tmp, path, ec);
  if (ec) return Status::Error(path + ": " + ec.message());
  config->classification.token_secret = secret;
  return Status::Ok();
}

Result<Config> LoadConfigFile(const std::string& path, ConfigParts parts) {
  Result<std::string> text = ReadFileAtMost(path, kMaxConfigFileBytes);
  if (!text.ok()) {
    return Status::Error(path + ": the configuration file: " + text.status().message());
  }
  Result<Config> config = ParseConfig(text.value(), path);
  if (!config.ok()) return config;
  // Here rather than in ParseConfig, which stays pure: `check-config`, `serve` and each SIGHUP
  // come this way, so each reads the files as they are now.
  Status addresses = LoadBrandAddressFiles(&config.value());
  if (!addresses.ok()) return addresses;
  if (parts == ConfigParts::kWithoutTriggers) return config;
  Status triggers = LoadConfiguredTriggers(&config.value());
  if (!triggers.ok()) return triggers;
  Status references = CheckNotifyReferences(config.value());
  if (!references.ok()) return Status::Error(path + ": " + references.message());
  return config;
}

Status LoadConfiguredTriggers(Config* config) {
  std::vector<Trigger> all;
  if (config->triggers.defaults) {
    Result<std::vector<Trigger>> defaults = ParseTriggers(kDefaultTriggersJson, "default triggers");
    if (!defaults.ok()) return defaults.status();
    all = std::move(defaults).value();
  }
  const std::string& file = config->triggers.file;
  if (!file.empty()) {
    Result<std::string> text = ReadFileAtMost(file, kMaxTriggerFileBytes);
    if (!text.ok()) {
      return Status::Error("[triggers] file " + file + ": " + text.status().message());
    }
    Result<std::vector<Trigger>> loaded = ParseTriggers(text.value(), file);
    if (!loaded.ok()) return loaded.status();
    // The file's ids are its own (ParseTriggers); here they must not take a default's.
    for (size_t i = 0; i < loaded->size(); ++i) {
      const Trigger& trigger = loaded.value()[i];
      for (const Trigger& other : all) {
        if (other.id != trigger.id) continue;
        return Status::Error(file + ": trigger " + std::to_string(i + 1) + " \"" + trigger.title +
                             "\" (id " + trigger.id + "): the id of the default trigger \"" +
                             other.title + "\"; give it another");
      }
    }
    for (Trigger& trigger : loaded.value()) all.push_back(std::move(trigger));
  }
  GroupNames group_names;
  for (const GroupConfig& group : config->groups) group_names[group.id] = group.name;
  config->triggers.set = std::make_shared<const TriggerSet>(std::move(all), std::move(group_names));
  return Status::Ok();
}

}  // namespace postdesk
