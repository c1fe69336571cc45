#include "gateway/config.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/temp_dir.h"

namespace postdesk {
namespace {

constexpr char kMinimal[] = R"(
[[brand]]
name = "acme"
addresses = ["support@acme.test"]
)";

std::string ErrorOf(const std::string& toml) {
  Result<Config> c = ParseConfig(toml, "t.toml");
  return c.ok() ? "" : c.status().message();
}

TEST(Config, DefaultsApplyToAMinimalFile) {
  Result<Config> c = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->data_dir, "./var");
  ASSERT_EQ(c->listen.size(), 1u);
  EXPECT_EQ(c->listen[0].host, "127.0.0.1");
  EXPECT_EQ(c->listen[0].port, 2525);
  EXPECT_TRUE(c->redis_url.empty());
  EXPECT_FALSE(c->hostname.empty());
  EXPECT_EQ(c->limits.max_recipients, 100u);
  EXPECT_EQ(c->limits.command_timeout, std::chrono::minutes(5));
}

TEST(Config, ExampleFileInTheRepositoryLoads) {
  Result<Config> c = LoadConfigFile(POSTDESK_SOURCE_DIR "/postdesk.example.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_FALSE(c->brands.empty());
}

TEST(Config, TargetIsActiveUnlessTheFileTakesItOutOfService) {
  Result<Config> c = ParseConfig(std::string(kMinimal) + R"(
[[target]]
id = "ops"
email = "pager@ops.test"
[[target]]
id = "retired"
email = "old-pager@ops.test"
active = false
)",
                                 "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_EQ(c->targets.size(), 2u);
  EXPECT_TRUE(c->targets[0].active);
  EXPECT_FALSE(c->targets[1].active);
  EXPECT_NE(ErrorOf(std::string(kMinimal) +
                    "[[target]]\nid = \"ops\"\nemail = \"p@ops.test\"\nactive = \"no\"\n")
                .find("active"),
            std::string::npos);
}

TEST(Config, FullFileIsReadWithAddressesLowerCased) {
  Result<Config> c = ParseConfig(R"(
data_dir = "/tmp/pd"
[smtp]
listen = ["0.0.0.0:25", "[::1]:2525"]
hostname = "mx.acme.test"
loops = 2
[redis]
url = "redis://127.0.0.1:6379/1"
[limits]
max_message_size = "10MiB"
command_timeout = "30s"
[[brand]]
name = "acme"
addresses = ["Support@Acme.test", "help@acme.test"]
wildcards = ["*@In.Acme.test"]
external_addresses = ["acme.support@gmail.test"]
)",
                                 "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->listen[1].host, "::1");
  EXPECT_EQ(c->listen[1].port, 2525);
  EXPECT_EQ(c->loops, 2u);
  EXPECT_EQ(c->limits.max_message_size, 10u * 1024 * 1024);
  EXPECT_EQ(c->limits.command_timeout, std::chrono::seconds(30));
  EXPECT_EQ(c->brands[0].addresses[0], "support@acme.test");
  EXPECT_EQ(c->brands[0].wildcards[0], "in.acme.test");
}

TEST(Config, ProxyProtocolNetworksAreReadAndCheckedByName) {
  Result<Config> c = ParseConfig(
      std::string(kMinimal) + "[smtp]\nproxy_protocol_from = [\"10.0.0.0/8\", \"::1\"]\n",
      "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_TRUE(InNetworks(c->proxy_protocol_from, "10.20.30.40"));
  EXPECT_TRUE(InNetworks(c->proxy_protocol_from, "::1"));
  EXPECT_FALSE(InNetworks(c->proxy_protocol_from, "127.0.0.1"));
  EXPECT_TRUE(ParseConfig(kMinimal, "t.toml")->proxy_protocol_from.empty());
  EXPECT_EQ(ErrorOf(std::string(kMinimal) +
                    "[smtp]\nproxy_protocol_from = [\"10.0.0.1\", \"lb.example.test\"]\n"),
            "t.toml: [smtp].proxy_protocol_from[1]: \"lb.example.test\" is not an IP address or "
            "network");
}

TEST(Config, UnknownKeysAreRefusedByName) {
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "\n[smtp]\nlisten_on = [\"x\"]\n"),
            "t.toml: [smtp].listen_on: unknown key");
  EXPECT_EQ(ErrorOf("datadir = \"x\"\n" + std::string(kMinimal)), "t.toml: datadir: unknown key");
  EXPECT_EQ(ErrorOf("[[brand]]\nname=\"a\"\naddresses=[\"a@b.test\"]\nwildcard=[]\n"),
            "t.toml: [[brand]] #1.wildcard: unknown key");
}

TEST(Config, WrongValuesAreRefusedByName) {
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[smtp]\nlisten = [\"127.0.0.1:99999\"]\n"),
            "t.toml: [smtp].listen[0]: port must be 1-65535");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[smtp]\nhostname = 5\n"),
            "t.toml: [smtp].hostname: expected a string");
  EXPECT_EQ(ErrorOf("[[brand]]\nname=\"a\"\naddresses=[\"not an address\"]\n"),
            "t.toml: [[brand]] #1.addresses[0]: \"not an address\" is not a mailbox address");
  EXPECT_EQ(ErrorOf("[[brand]]\nname=\"a\"\naddresses=[\"a@b.test\"]\nwildcards=[\"b.test\"]\n"),
            "t.toml: [[brand]] #1.wildcards[0]: \"b.test\" must look like \"*@domain\"");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[limits]\nmax_recipients = 10\n"),
            "t.toml: [limits].max_recipients: must be between 100 and 100000");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[limits]\ndata_timeout = \"10 minutes\"\n"),
            "t.toml: [limits].data_timeout: unknown unit \" minutes\" (use ms, s, m, h, d)");
  // Redis would refuse such a message (and drop its connection) at every retry.
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[limits]\nmax_message_size = \"600MiB\"\n"),
            "t.toml: [limits].max_message_size: at most 500MiB (Redis stores a value of at most "
            "512MB)");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[limits]\nmax_message_size = \"500MiB\"\n"), "");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[limits]\nmax_connections = 100\n"
                                            "stress_connections = 101\n"),
            "t.toml: [limits].stress_connections: must be between 1 and 100");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[limits]\nstress_max_errors = 0\n"),
            "t.toml: [limits].stress_max_errors: must be between 1 and 1000");
}

// Unset, stress begins at four fifths of max_connections, whatever that is.
TEST(Config, StressDefaultsToFourFifthsOfTheMaximumAndNeverLoosensALimit) {
  Result<Config> c =
      ParseConfig(std::string(kMinimal) + "[limits]\nmax_connections = 100\n", "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->limits.stress_connections, 80u);
  EXPECT_EQ(c->limits.stress_command_timeout, std::chrono::seconds(10));
  EXPECT_EQ(c->limits.stress_max_errors, 1u);
  c = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->limits.stress_connections, 8000u);
  // Nor does it allow more errors than max_errors.
  c = ParseConfig(std::string(kMinimal) + "[limits]\nmax_errors = 3\nstress_max_errors = 10\n",
                  "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->limits.stress_max_errors, 3u);
  // Stress never lengthens the wait for a command.
  c = ParseConfig(std::string(kMinimal) + "[limits]\ncommand_timeout = \"2s\"\n", "t.toml");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->limits.stress_command_timeout, std::chrono::seconds(2));
}

TEST(Config, HttpAndLogSectionsAreReadAndDefaultToNoServerAndInfoText) {
  Result<Config> defaults = ParseConfig(kMinimal, "t.toml");
  ASSERT_TRUE(defaults.ok()) << defaults.status().message();
  EXPECT_FALSE(defaults->http_listen.has_value());
  EXPECT_EQ(defaults->log.level, "info");
  EXPECT_EQ(defaults->log.format, LogFormat::kText);

  Result<Config> c = ParseConfig(std::string(kMinimal) +
                                     "[http]\nlisten = \"127.0.0.1:9025\"\n"
                                     "[log]\nlevel = \"debug\"\nformat = \"json\"\n",
                                 "t.toml");
  ASSERT_TRUE(c.ok()) << c.status().message();
  ASSERT_TRUE(c->http_listen.has_value());
  EXPECT_EQ(c->http_listen->host, "127.0.0.1");
  EXPECT_EQ(c->http_listen->port, 9025);
  EXPECT_EQ(c->log.level, "debug");
  EXPECT_EQ(c->log.format, LogFormat::kJson);

  Result<Config> v6 =
      ParseConfig(std::string(kMinimal) + "[http]\nlisten = \"[::1]:9025\"\n", "t.toml");
  ASSERT_TRUE(v6.ok()) << v6.status().message();
  EXPECT_EQ(v6->http_listen->host, "::1");
}

TEST(Config, BadHttpAndLogValuesAreRefusedByName) {
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[http]\nlisten = \"127.0.0.1:0\"\n"),
            "t.toml: [http].listen: port must be 1-65535");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[http]\nlisten = \"localhost:9025\"\n"),
            "t.toml: [http].listen: \"localhost\" is not an IP address");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[http]\nlisten = [\"127.0.0.1:9025\"]\n"),
            "t.toml: [http].listen: expected a string");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[http]\nport = 9025\n"),
            "t.toml: [http].port: unknown key");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[log]\nlevel = \"verbose\"\n"),
            "t.toml: [log].level: must be trace, debug, info, warn or error");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[log]\nformat = \"xml\"\n"),
            "t.toml: [log].format: must be \"text\" or \"json\"");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[log]\nfile = \"/var/log/pd\"\n"),
            "t.toml: [log].file: unknown key");
  EXPECT_EQ(ErrorOf("log = \"json\"\n" + std::string(kMinimal)), "t.toml: log: expected a table");
}

TEST(Config, MissingBrandsAndDuplicatesAreRefused) {
  EXPECT_EQ(ErrorOf("data_dir = \"x\"\n"), "t.toml: no [[brand]]: every recipient would be refused");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + kMinimal), "t.toml: brand \"acme\" twice");
  EXPECT_EQ(
      ErrorOf(std::string(kMinimal) + "[[brand]]\nname=\"b\"\naddresses=[\"SUPPORT@acme.test\"]\n"),
      "t.toml: [[brand]] #2.addresses[0]: address \"support@acme.test\" appears twice: "
      "brand \"acme\" has it at [[brand]] #1.addresses[0]");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) +
                    "[[brand]]\nname=\"b\"\nwildcards=[\"*@b.test\", \"*@B.test\"]\n"),
            "t.toml: [[brand]] #2.wildcards[1]: wildcard \"*@b.test\" appears twice: brand \"b\" "
            "has it at [[brand]] #2.wildcards[0]");
}

TEST(Config, TomlSyntaxErrorsNameTheLine) {
  std::string error = ErrorOf("[smtp\nlisten=1\n");
  EXPECT_EQ(error.rfind("t.toml:line 1", 0), 0u) << error;
}

TEST(Config, MissingFileIsAClearError) {
  Result<Config> c = LoadConfigFile("/nonexistent/postdesk.toml");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().message(),
            "/nonexistent/postdesk.toml: the configuration file: cannot open: No such file or "
            "directory");
}

// A config with [redis] url and password_file, and that file's content when given.
class RedisPasswordFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = MakeTempDir("pd-pw");
    path_ = dir_ + "/redis-password";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  Result<RedisAddress> AddressWith(const std::string& url, const std::string* content) {
    if (content) std::ofstream(path_, std::ios::binary) << *content;
    Result<Config> c = ParseConfig(std::string(kMinimal) + "[redis]\nurl = \"" + url +
                                       "\"\npassword_file = \"" + path_ + "\"\n",
                                   "t.toml");
    if (!c.ok()) return c.status();
    return ExternalRedisAddress(c.value());
  }
  std::string ErrorWith(const std::string& content) {
    Result<RedisAddress> a = AddressWith("redis://10.0.0.5", &content);
    return a.ok() ? "" : a.status().message();
  }

  std::string dir_;
  std::string path_;
};

TEST_F(RedisPasswordFileTest, PasswordIsTheFileWithoutItsLineBreak) {
  for (std::string content : {"s3cret pass\n", "s3cret pass\r\n", "s3cret pass"}) {
    Result<RedisAddress> a = AddressWith("redis://postdesk@10.0.0.5:6380/2", &content);
    ASSERT_TRUE(a.ok()) << a.status().message();
    EXPECT_EQ(a->password, "s3cret pass");
    EXPECT_EQ(a->username, "postdesk");
    EXPECT_EQ(a->ToString(), "redis://postdesk:***@10.0.0.5:6380/2");
  }
}

TEST_F(RedisPasswordFileTest, MissingEmptyLongOrMultiLineFileIsRefusedByName) {
  Result<RedisAddress> missing = AddressWith("redis://10.0.0.5", nullptr);
  EXPECT_EQ(missing.status().message(),
            "[redis].password_file " + path_ + ": cannot open: No such file or directory");
  const std::string name = "[redis].password_file " + path_;
  EXPECT_EQ(ErrorWith("\n"), name + ": is empty");
  EXPECT_EQ(ErrorWith("one\ntwo\n"), name + ": holds more than one line");
  EXPECT_EQ(ErrorWith(std::string("nul\0inside", 10)), name + ": holds more than one line");
  EXPECT_EQ(ErrorWith(std::string(4096, 'p') + "\n"), "");
  EXPECT_EQ(ErrorWith(std::string(4097, 'p')), name + ": longer than 4096 bytes");
  // A line past the longest password with its line break is seen, not cut off.
  EXPECT_EQ(ErrorWith(std::string(4096, 'p') + "\r\nx"), name + ": longer than 4096 bytes");
  EXPECT_EQ(ErrorWith(std::string(100000, 'p')), name + ": longer than 4096 bytes");
}

TEST_F(RedisPasswordFileTest, PasswordInTheUrlAndAFileIsRefused) {
  std::string content = "other\n";
  EXPECT_EQ(AddressWith("redis://:inline@10.0.0.5", &content).status().message(),
            "[redis].password_file: the url has a password too; give it one way");
}

TEST_F(RedisPasswordFileTest, SentinelPasswordIsTheSentinelsAndNotThePrimarys) {
  std::ofstream(path_) << "sentinels' secret\n";
  auto address_with = [&](const std::string& url) {
    Result<Config> c = ParseConfig(std::string(kMinimal) + "[redis]\nurl = \"" + url +
                                       "\"\nsentinel_password_file = \"" + path_ + "\"\n",
                                   "t.toml");
    EXPECT_TRUE(c.ok()) << c.status().message();
    return ExternalRedisAddress(c.value());
  };
  Result<RedisAddress> a = address_with("redis-sentinel://:primarys@10.0.0.7/pd-main");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->sentinel_password, "sentinels' secret");
  EXPECT_EQ(a->password, "primarys");
  EXPECT_EQ(a->ToString().find("secret"), std::string::npos) << a->ToString();
  EXPECT_EQ(address_with("redis://10.0.0.7").status().message(),
            "[redis].sentinel_password_file: needs a redis-sentinel:// url (for a server's own "
            "password, password_file)");
  std::filesystem::remove(path_);
  EXPECT_EQ(address_with("redis-sentinel://10.0.0.7/pd-main").status().message(),
            "[redis].sentinel_password_file " + path_ + ": cannot open: No such file or directory");
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[redis]\nsentinel_password_file = \"/run/pw\"\n"),
            "t.toml: [redis].sentinel_password_file: needs url (the embedded redis-server takes "
            "no password)");
}

TEST(Config, RedisPasswordFileNeedsAUrlAndABadUrlIsNamed) {
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[redis]\npassword_file = \"/run/pw\"\n"),
            "t.toml: [redis].password_file: needs url (the embedded redis-server takes no "
            "password)");
  Result<Config> c = ParseConfig(std::string(kMinimal) + "[redis]\nurl = \"redis://x:0\"\n", "t");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(ExternalRedisAddress(c.value()).status().message(),
            "[redis].url: port must be 1-65535");
  c = ParseConfig(std::string(kMinimal) + "[redis]\nurl = \"redis://someone@host\"\n", "t");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(ExternalRedisAddress(c.value()).status().message(),
            "[redis].url: the user needs a password (user:password@, or [redis] password_file)");
}

TEST(Config, RedisAppendfsyncIsAlwaysOrEverysecForTheEmbeddedServerOnly) {
  Result<Config> c = ParseConfig(kMinimal, "t");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->redis_fsync, EmbeddedFsync::kAlways);
  c = ParseConfig(std::string(kMinimal) + "[redis]\nappendfsync = \"everysec\"\n", "t");
  ASSERT_TRUE(c.ok()) << c.status().message();
  EXPECT_EQ(c->redis_fsync, EmbeddedFsync::kEverySecond);
  EXPECT_EQ(ErrorOf(std::string(kMinimal) + "[redis]\nappendfsync = \"no\"\n"),
            "t.toml: [redis].appendfsync: \"no\" is neither \"always\" nor \"everysec\"");
  EXPECT_EQ(
      ErrorOf(std::string(kMinimal) + "[redis]\nurl = \"redis://h\"\nappendfsync = \"always\"\n"),
      "t.toml: [redis].appendfsync: for the embedded redis-server only; with url, set it in "
      "that server's redis.conf");
}

TEST(Config, TriggerFileMayNotTakeADefaultTriggersId) {
  const std::string pattern = MakeTempDir("pd-trig");
  const std::string path = pattern + "/triggers.json";
  std::ofstream(path) << R"([{"id": "default-notify-requester-received", "title": "Mine",
                              "conditions": {"all": []}, "actions": []}])";
  Config config;
  config.triggers.file = path;
  EXPECT_TRUE(LoadConfiguredTriggers(&config).ok());  // without the defaults the id is free
  config.triggers.defaults = true;
  EXPECT_EQ(LoadConfiguredTriggers(&config).message(),
            path + R"(: trigger 1 "Mine" (id default-notify-requester-received): the id of the )"
                   R"(default trigger "Notify requester of received request"; give it another)");
  std::filesystem::remove_all(pattern);
}

TEST(ConfigUnits, SizesAndDurations) {
  EXPECT_EQ(ParseSize("25MiB").value(), 25u * 1024 * 1024);
  EXPECT_EQ(ParseSize("10MB").value(), 10u * 1000 * 1000);
  EXPECT_EQ(ParseSize("4096").value(), 4096u);
  EXPECT_FALSE(ParseSize("ten").ok());
  EXPECT_FALSE(ParseSize("99999999999999999999GiB").ok());
  EXPECT_EQ(ParseDuration("250ms").value(), std::chrono::milliseconds(250));
  EXPECT_EQ(ParseDuration("1h").value(), std::chrono::hours(1));
  EXPECT_FALSE(ParseDuration("5").ok());
}

}  // namespace
}  // namespace postdesk
