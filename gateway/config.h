// Config: the gateway's configuration, read from one TOML file (toml++).
//
// LoadConfigFile/ParseConfig validate everything before returning: an unknown key, a value of
// the wrong type or out of range, an invalid address or a duplicate one is refused with a
// message that names the key ("config.toml: [[brand]] #2 addresses[1]: ..."). A Config is an
// immutable value once loaded: the serving loops share one through a shared_ptr<const Config>.
// Configurations compare member by member (the loaded trigger set by pointer).
// Pure code, no I/O beyond reading the file and those it names; callable from any thread.
#ifndef POSTDESK_GATEWAY_CONFIG_H_
#define POSTDESK_GATEWAY_CONFIG_H_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/ip_network.h"
#include "parser/result.h"
#include "rules/trigger.h"
#include "storage/embedded_redis.h"
#include "storage/redis_address.h"

namespace postdesk {

struct ListenAddress {
  std::string host;  // IPv4 or IPv6 literal, without brackets
  uint16_t port = 0;
  bool operator==(const ListenAddress&) const = default;
};

struct BrandConfig {
  std::string name;
  // Lower case; the first is the brand's default. The inline ones, then (once LoadConfigFile
  // has read it) addresses_file's, so that a changed file alone changes the configuration.
  std::vector<std::string> addresses;
  std::vector<std::string> wildcards;  // lower case domains of "*@domain"; inline, then the file's
  std::vector<std::string> external_addresses;  // lower case; mailboxes that forward to us
  std::string addresses_file;                   // as written; empty: none
  bool operator==(const BrandConfig&) const = default;
};

struct LimitsConfig {
  size_t max_message_size = 25 * 1024 * 1024;  // bytes; SIZE (RFC 1870) and 552 5.3.4
  size_t max_recipients = 100;                 // RFC 5321 4.5.3.1.8: at least 100
  size_t max_line_length = 2048;               // command lines, CRLF included
  size_t max_errors = 20;                      // 4xx/5xx replies before 421 and close
  size_t max_connections = 10000;              // at once, all clients; then 421 4.7.0
  size_t max_connections_per_ip = 50;          // at once, one client address; then 421 4.7.0
  std::chrono::milliseconds command_timeout{std::chrono::minutes(5)};  // RFC 5321 4.5.3.2.7
  std::chrono::milliseconds data_timeout{std::chrono::minutes(10)};    // RFC 5321 4.5.3.2.6
  std::chrono::milliseconds shutdown_grace{std::chrono::seconds(30)};  // SIGTERM: in-flight work
  // From this many connections at once the gateway is under stress, and a session waiting for
  // a command gets stress_command_timeout (design.md; Postfix's stress timeouts). Unset in a
  // file: four fifths of max_connections.
  size_t stress_connections = 8000;
  std::chrono::milliseconds stress_command_timeout{std::chrono::seconds(10)};
  size_t stress_max_errors = 1;  // max_errors under stress; Postfix's ${stress?{1}:{20}}
  bool operator==(const LimitsConfig&) const = default;
};

// What happens to a message before it becomes a ticket (design.md, "Classification").
struct ClassificationConfig {
  // Key of the ticket tokens' MAC; empty: generated once into data_dir/token.key.
  std::string token_secret;
  int64_t rate_limit = 20;  // messages from one sender to one brand...
  std::chrono::milliseconds rate_window{std::chrono::hours(1)};  // ...within this window
  std::chrono::milliseconds block_time{std::chrono::hours(1)};   // then blocked this long
  std::chrono::milliseconds duplicate_window{std::chrono::hours(24 * 7)};
  std::chrono::milliseconds suspended_retention{std::chrono::hours(24 * 14)};
  bool operator==(const ClassificationConfig&) const = default;
};

// The business rules (design.md, "Triggers") and the workers that run them.
struct TriggersConfig {
  std::string file;       // Zendesk trigger JSON; empty: none
  bool defaults = false;  // add the email channel's default triggers before the file's
  size_t workers = 2;     // worker threads in `postdesk serve`; 0: run `postdesk workers` apart
  std::chrono::milliseconds claim_timeout{std::chrono::seconds(30)};  // then a dead worker's
                                                                      // events are taken over
  std::shared_ptr<const TriggerSet> set;  // loaded by LoadConfigFile
  bool operator==(const TriggersConfig&) const = default;
};

// An email target (Zendesk's "email target"): notification_target actions send to it.
struct TargetConfig {
  std::string id;
  std::string title;
  std::string email;
  std::string subject;  // the subject of every message to it (placeholders are not expanded)
  std::string relay;    // "host:port"; empty: [notify] relay
  // False: an operator took the target out of service; nothing is sent to it whatever its
  // state in Redis (where 21 consecutive failures or `targets deactivate` switch it off too).
  bool active = true;
  bool operator==(const TargetConfig&) const = default;
};

// A group of agents that notification_group actions reach.
struct GroupConfig {
  std::string id;
  std::string name;
  std::vector<std::string> members;  // addresses, lower case
  bool operator==(const GroupConfig&) const = default;
};

// Outbound notifications (design.md, "Targets and notifications").
struct NotifyConfig {
  std::string relay;  // smarthost "host:port"; empty: write data_dir/outbox/*.eml
  bool relay_tls = true;           // STARTTLS when the relay offers it
  bool relay_require_tls = false;  // refuse to send in clear
  std::chrono::milliseconds retry_initial{1000};   // first retry after a temporary failure...
  std::chrono::milliseconds retry_max{300000};     // ...doubling up to this
  std::string admin_email;                 // alerts (a deactivated target); empty: log only
  std::string archive_address;             // a blind copy of every notification
  std::vector<std::string> partner_addresses;  // ticket-sharing partners: never notified
  std::vector<std::string> agents;         // "all_agents"
  // Per-recipient caps (loop safety, in the spirit of Zammad's): per ticket and recipient, and
  // per recipient overall.
  int64_t ticket_recipient_limit = 10;
  std::chrono::milliseconds ticket_recipient_window{std::chrono::minutes(10)};
  int64_t recipient_limit = 60;
  std::chrono::milliseconds recipient_window{std::chrono::hours(10)};
  int64_t target_failure_limit = 21;  // consecutive failures that deactivate a target
  bool operator==(const NotifyConfig&) const = default;
};

// Logs on stderr ([log]): `serve --log-level` wins over `level`.
enum class LogFormat { kText, kJson };
struct LogConfig {
  std::string level = "info";  // trace, debug, info, warn, error
  LogFormat format = LogFormat::kText;
  bool operator==(const LogConfig&) const = default;
};

struct Config {
  std::string source;  // file name, for messages
  std::string data_dir = "./var";
  std::vector<ListenAddress> listen = {{"127.0.0.1", 2525}};
  std::vector<ListenAddress> listen_tls;  // implicit TLS (port 465 style); needs [tls]
  std::string hostname;  // default: the machine's host name
  size_t loops = 0;      // event loops; 0 = one per core
  // Load balancers in front of the gateway: a connection from one of these networks must
  // start with a PROXY protocol header (v1 or v2), and is served as the client it names.
  std::vector<IpNetwork> proxy_protocol_from;
  std::string redis_url;  // empty: start the embedded redis-server under data_dir
  std::string redis_password_file;  // [redis] password_file: the AUTH password, read at use
  // [redis] sentinel_password_file: the sentinels' own AUTH password (redis-sentinel:// only)
  std::string redis_sentinel_password_file;
  // [redis] sentinel_timeout: how long one sentinel may take to connect and answer before the
  // next is asked (redis-sentinel:// only).
  std::chrono::milliseconds redis_sentinel_timeout = kDefaultSentinelTimeout;
  // [redis] reply_timeout: how long the loops' stores let messages wait on a Redis that answers
  // nothing before they give the connection up (the messages hear 451, a drain ends).
  std::chrono::milliseconds redis_reply_timeout = kDefaultReplyTimeout;
  // [redis] appendfsync for the embedded server: "always" (unset) or "everysec", the explicit
  // trade of up to a second of acknowledged mail for fewer waits on the disk.
  EmbeddedFsync redis_fsync = EmbeddedFsync::kAlways;
  std::string tls_cert;   // PEM certificate chain; with tls_key, enables STARTTLS
  std::string tls_key;    // PEM private key
  std::optional<ListenAddress> http_listen;  // [http] listen: /metrics and /healthz; unset: none
  LogConfig log;
  LimitsConfig limits;
  ClassificationConfig classification;
  TriggersConfig triggers;
  NotifyConfig notify;
  std::vector<TargetConfig> targets;
  std::vector<GroupConfig> groups;
  std::vector<BrandConfig> brands;
  bool operator==(const Config&) const = default;
};

// ParseConfig is pure: it checks what the text says, and leaves the brands' addresses_file
// unread (a brand with one and nothing inline has no address yet).
// `keys`, when not null, receives every key the parser takes: "data_dir" and the section names
// at the top level, "smtp.listen" in a section (absent sections included), "brand.name" in an
// array of tables (for the entries the file has). tests/gateway/config_reference_test.cc holds
// docs/configuration.md to them.
Result<Config> ParseConfig(std::string_view toml_text, std::string_view source_name,
                           std::set<std::string>* keys = nullptr);
// LoadConfigFile: ParseConfig, then the brands' addresses_file (LoadBrandAddressFiles in
// gateway/brand_addresses.h) and LoadConfiguredTriggers: the file and everything it names. Tools
// that only read tickets skip the triggers, so that a broken trigger file does not lock them
// out; the addresses they all read, since what a brand is includes them (`postdesk parse`
// needs them for its verdict).
enum class ConfigParts { kAll, kWithoutTriggers };
Result<Config> LoadConfigFile(const std::string& path, ConfigParts parts = ConfigParts::kAll);
// Reads [triggers] file (and the defaults) into config->triggers.set; a broken set fails whole.
Status LoadConfiguredTriggers(Config* config);

// The server of [redis] url (which must be set), with the password of [redis] password_file
// when one is named, and the sentinels' of [redis] sentinel_password_file: each file is read at
// each call (a start, a tool's run), its trailing line break dropped. Fails naming the key: a
// malformed url, an unreadable, empty or multi-line file, a password given both ways, or a
// sentinel password without a redis-sentinel:// url.
Result<RedisAddress> ExternalRedisAddress(const Config& config);

// Fills config->classification.token_secret when the configuration has none (32 random bytes
// as hex, made the first time): with the embedded Redis from data_dir/token.key (mode 0600);
// with [redis] url from Redis itself (kSharedTokenSecretKey), so that every node sharing that
// Redis uses the same key. Fails when that Redis cannot be reached (then set it explicitly).
// On SIGHUP `running` is the configuration in use: a file that still names no secret, with the
// same [redis] url and data_dir, keeps the running one (a reload needs neither reachable).
inline constexpr const char* kSharedTokenSecretKey = "{pd}:token_secret";
Status ResolveTokenSecret(Config* config, const Config* running = nullptr);

// "25MiB", "10MB", "4096" -> bytes; "5m", "30s", "250ms", "1h", "7d" -> milliseconds.
Result<size_t> ParseSize(std::string_view text);
Result<std::chrono::milliseconds> ParseDuration(std::string_view text);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_CONFIG_H_
