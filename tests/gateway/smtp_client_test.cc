// SmtpClient against real relays: Postfix's smtp-sink (skipped when it is not installed; it
// comes with Debian's postfix package) and tests/gateway/smtp_test_server.py (python3, for
// STARTTLS and scripted replies under PIPELINING). Every test runs the client on its own loop
// and ends with the loop closed, so a handle left open fails it (and ASan reports a leak).
#include "gateway/smtp_client.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

namespace postdesk {
namespace {

using Kind = DeliveryResult::Kind;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr char kSmtpSink[] = "/usr/sbin/smtp-sink";
constexpr char kRelayScript[] = POSTDESK_SOURCE_DIR "/tests/gateway/smtp_test_server.py";

std::string MakeTempDir() {
  std::string dir = (std::filesystem::temp_directory_path() / "pd-smtpc-XXXXXX").string();
  if (!mkdtemp(dir.data())) std::abort();
  return dir;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A port nothing listens on (bound, then released), for a server that binds it a moment later.
// It is drawn below Linux's ephemeral range (32768 and up): a port that bind(0) handed out could
// meanwhile become the source port of any outgoing connection of a test running beside this one
// (tests/integration/postdesk_harness.py free_port says the same).
uint16_t FreePort() {
  static std::mt19937 generator{std::random_device{}()};
  std::uniform_int_distribution<int> pick(20000, 32767);
  for (int attempt = 0; attempt < 1000; ++attempt) {
    const auto port = static_cast<uint16_t>(pick(generator));
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(port);
    const bool bound = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    close(fd);
    if (bound) return port;
  }
  std::abort();
}

bool CanConnect(uint16_t port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  bool ok = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
  close(fd);
  return ok;
}

// A child process, stopped with SIGTERM and reaped when this goes.
class Child {
 public:
  Child() = default;
  ~Child() { Stop(); }
  Child(const Child&) = delete;
  Child& operator=(const Child&) = delete;

  // stdout goes to `stdout_path`, or to a pipe for ReadLine() when it is empty.
  bool Start(const std::vector<std::string>& argv, const std::string& stdout_path) {
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int pipe_fds[2] = {-1, -1};
    if (stdout_path.empty()) {
      if (pipe2(pipe_fds, O_CLOEXEC) != 0) return false;
      posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    } else {
      posix_spawn_file_actions_addopen(&actions, 1, stdout_path.c_str(),
                                       O_WRONLY | O_CREAT | O_TRUNC, 0644);
    }
    std::vector<char*> args;
    for (const std::string& arg : argv) args.push_back(const_cast<char*>(arg.c_str()));
    args.push_back(nullptr);
    int rc = posix_spawn(&pid_, argv[0].c_str(), &actions, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (pipe_fds[1] >= 0) close(pipe_fds[1]);
    out_ = pipe_fds[0];
    if (rc != 0) pid_ = -1;
    return rc == 0;
  }

  std::string ReadLine(milliseconds timeout) {
    std::string line;
    auto deadline = Clock::now() + timeout;
    while (Clock::now() < deadline) {
      pollfd p{out_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char c;
      if (read(out_, &c, 1) != 1) break;
      if (c == '\n') return line;
      line += c;
    }
    return "";
  }

  void Stop() {
    if (pid_ > 0) {
      kill(pid_, SIGTERM);
      waitpid(pid_, nullptr, 0);
      pid_ = -1;
    }
    if (out_ >= 0) close(out_);
    out_ = -1;
  }

 private:
  pid_t pid_ = -1;
  int out_ = -1;
};

// Postfix's smtp-sink: PIPELINING unless an error option is given (-f, -r imply -p), every
// message dumped to its own file, session counters on stdout.
class SmtpSink {
 public:
  static bool Available() { return access(kSmtpSink, X_OK) == 0; }

  bool Start(const std::vector<std::string>& flags) {
    dir_ = MakeTempDir();
    chmod(dir_.c_str(), 0777);  // smtp-sink run by root drops to nobody, who writes the dumps
    port_ = FreePort();
    std::vector<std::string> argv = {kSmtpSink};
    if (geteuid() == 0) argv.insert(argv.end(), {"-u", "nobody"});
    argv.insert(argv.end(), {"-c", "-d", dir_ + "/dumps/%M."});
    argv.insert(argv.end(), flags.begin(), flags.end());
    argv.insert(argv.end(), {"127.0.0.1:" + std::to_string(port_), "100"});
    if (!child_.Start(argv, dir_ + "/counters.txt")) return false;
    // Ready when it answers; that probe is a session of its own, counted out of the figures.
    auto deadline = Clock::now() + std::chrono::seconds(10);
    while (!CanConnect(port_)) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(20));
    }
    while (Read().sessions < 1) {
      if (Clock::now() > deadline) return false;
      std::this_thread::sleep_for(milliseconds(20));
    }
    return true;
  }

  uint16_t port() const { return port_; }

  // The dumped messages (smtp-sink's X- headers first), once `expected` are there (5 s at most).
  std::vector<std::string> Messages(size_t expected) const {
    std::vector<std::string> messages;
    auto deadline = Clock::now() + std::chrono::seconds(5);
    do {
      messages.clear();
      std::error_code ec;
      for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/dumps", ec)) {
        messages.push_back(ReadFile(entry.path().string()));
      }
      if (messages.size() >= expected) break;
      std::this_thread::sleep_for(milliseconds(50));
    } while (Clock::now() < deadline);
    return messages;
  }

  struct Counters {
    int sessions = 0;  // ended sessions, the readiness probe not included
    int quits = 0;
    int messages = 0;
  };
  // The counters once `messages` arrived, every session ended with QUIT and nothing changed
  // for 300 ms (smtp-sink updates them after its replies). 5 s at most.
  Counters Settled(int messages) const {
    Counters c, before;
    auto deadline = Clock::now() + std::chrono::seconds(5);
    auto stable_since = Clock::now();
    do {
      c = Read();
      c.sessions -= 1;
      if (c.sessions != before.sessions || c.quits != before.quits ||
          c.messages != before.messages) {
        stable_since = Clock::now();
        before = c;
      }
      if (c.messages >= messages && c.sessions == c.quits &&
          Clock::now() - stable_since >= milliseconds(300)) {
        break;
      }
      std::this_thread::sleep_for(milliseconds(50));
    } while (Clock::now() < deadline);
    return c;
  }

 private:
  Counters Read() const {
    // "sess=2 quit=2 mesg=50\r", rewritten in place as sessions end.
    Counters c;
    std::string text = ReadFile(dir_ + "/counters.txt");
    size_t last = text.rfind("sess=");
    if (last != std::string::npos) {
      std::sscanf(text.c_str() + last, "sess=%d quit=%d mesg=%d", &c.sessions, &c.quits,
                  &c.messages);
    }
    return c;
  }

  std::string dir_;
  uint16_t port_ = 0;
  Child child_;
};

// tests/gateway/smtp_test_server.py: what it saw, as JSON events.
class ScriptedRelay {
 public:
  bool Start(const std::vector<std::string>& flags) {
    log_ = MakeTempDir() + "/relay.jsonl";
    std::vector<std::string> argv = {"/usr/bin/python3", kRelayScript, "--log", log_};
    argv.insert(argv.end(), flags.begin(), flags.end());
    if (!child_.Start(argv, "")) return false;
    std::string port = child_.ReadLine(std::chrono::seconds(15));
    if (port.empty()) return false;
    port_ = static_cast<uint16_t>(std::stoi(port));
    return true;
  }

  uint16_t port() const { return port_; }

  std::vector<nlohmann::json> Events(const std::string& kind) const {
    std::vector<nlohmann::json> events;
    std::istringstream lines(ReadFile(log_));
    for (std::string line; std::getline(lines, line);) {
      nlohmann::json event = nlohmann::json::parse(line, nullptr, false);
      if (!event.is_discarded() && event["event"] == kind) events.push_back(event);
    }
    return events;
  }
  // The command lines received, in order.
  std::vector<std::string> Commands() const {
    std::vector<std::string> commands;
    for (const auto& event : Events("command"))
      commands.push_back(event["line"].get<std::string>());
    return commands;
  }
  nlohmann::json FirstCommand(const std::string& prefix) const {
    for (const auto& event : Events("command")) {
      if (event["line"].get<std::string>().rfind(prefix, 0) == 0) return event;
    }
    return nlohmann::json();
  }
  size_t Connections() const { return Events("connect").size(); }

 private:
  std::string log_;
  uint16_t port_ = 0;
  Child child_;
};

// A throwaway self-signed certificate, made with the openssl tool once per test binary.
class TlsFiles {
 public:
  static const TlsFiles& Get() {
    static TlsFiles files;
    return files;
  }
  std::string cert, key;
  std::string other_cert;  // of another key: verifying the relay against it fails

 private:
  TlsFiles() {
    std::string dir = MakeTempDir();
    cert = dir + "/cert.pem";
    key = dir + "/key.pem";
    other_cert = dir + "/other.pem";
    Make(cert, key);
    Make(other_cert, dir + "/other-key.pem");
  }
  static void Make(const std::string& cert_file, const std::string& key_file) {
    std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
        "-days 2 -subj /CN=relay.test -addext subjectAltName=IP:127.0.0.1,DNS:localhost "
        "-keyout " +
        key_file + " -out " + cert_file + " >/dev/null 2>&1";
    if (std::system(command.c_str()) != 0) std::abort();
  }
};

// A libuv loop for one test; closing it checks that no handle was left open.
class Loop {
 public:
  Loop() { uv_loop_init(&loop_); }
  ~Loop() {
    uv_run(&loop_, UV_RUN_DEFAULT);
    EXPECT_EQ(uv_loop_close(&loop_), 0) << "a libuv handle was left open";
  }
  uv_loop_t* get() { return &loop_; }

  // Runs `fn` on the loop after `delay`.
  void After(milliseconds delay, std::function<void()> fn) {
    auto* timer = new Timer{{}, std::move(fn)};
    uv_timer_init(&loop_, &timer->handle);
    timer->handle.data = timer;
    uv_timer_start(
        &timer->handle,
        [](uv_timer_t* t) {
          auto* self = static_cast<Timer*>(t->data);
          self->fn();
          uv_close(reinterpret_cast<uv_handle_t*>(t),
                   [](uv_handle_t* h) { delete static_cast<Timer*>(h->data); });
        },
        static_cast<uint64_t>(delay.count()), 0);
  }

  // Runs until nothing is left to do; after `limit`, `on_limit` runs (it should Close).
  void Run(milliseconds limit, std::function<void()> on_limit) {
    Timer watchdog{{}, std::move(on_limit)};
    uv_timer_init(&loop_, &watchdog.handle);
    watchdog.handle.data = &watchdog;
    uv_timer_start(
        &watchdog.handle, [](uv_timer_t* t) { static_cast<Timer*>(t->data)->fn(); },
        static_cast<uint64_t>(limit.count()), 0);
    uv_unref(reinterpret_cast<uv_handle_t*>(&watchdog.handle));  // it keeps nothing running
    uv_run(&loop_, UV_RUN_DEFAULT);
    uv_close(reinterpret_cast<uv_handle_t*>(&watchdog.handle), nullptr);
    uv_run(&loop_, UV_RUN_DEFAULT);
  }

 private:
  struct Timer {
    uv_timer_t handle;
    std::function<void()> fn;
  };
  uv_loop_t loop_;
};

SmtpClient::Options RelayOptions(uint16_t port) {
  SmtpClient::Options options;
  options.host = "127.0.0.1";
  options.port = port;
  options.helo_name = "notify.postdesk.test";
  options.connect_timeout = std::chrono::seconds(5);
  options.command_timeout = std::chrono::seconds(10);
  options.idle_timeout = std::chrono::seconds(5);
  return options;
}

OutboundMessage Message(std::vector<std::string> rcpt_to, std::string body = "Hello.\r\n",
                        std::string subject = "Ticket 42 updated") {
  OutboundMessage message;
  message.mail_from = "support@acme.test";
  message.rcpt_to = std::move(rcpt_to);
  message.data =
      "From: Acme Support <support@acme.test>\r\nTo: ann@customer.test\r\nSubject: " + subject +
      "\r\n\r\n" + body;
  return message;
}

struct Sent {
  std::vector<DeliveryResult> results;  // in the order sent
  std::vector<int> calls;               // how often each `done` ran
  std::vector<milliseconds> after;      // since the first Send
  size_t most_connections = 0;          // connections() seen in the callbacks
  bool closed = false;
};

// Sends every message through one client, Closes it once every `done` ran, and runs the loop
// until it is closed (30 s at most, then it is closed and the test fails).
Sent SendAll(const SmtpClient::Options& options, std::vector<OutboundMessage> messages) {
  Sent sent;
  sent.results.resize(messages.size());
  sent.calls.resize(messages.size());
  sent.after.resize(messages.size());
  Loop loop;
  SmtpClient client(loop.get(), options);
  size_t finished = 0;
  auto start = Clock::now();
  for (size_t i = 0; i < messages.size(); ++i) {
    client.Send(std::move(messages[i]), [&, i](DeliveryResult result) {
      sent.results[i] = std::move(result);
      sent.after[i] = std::chrono::duration_cast<milliseconds>(Clock::now() - start);
      ++sent.calls[i];
      sent.most_connections = std::max(sent.most_connections, client.connections());
      if (++finished == sent.results.size()) client.Close([&] { sent.closed = true; });
    });
  }
  loop.Run(std::chrono::seconds(30), [&] {
    ADD_FAILURE() << "the deliveries did not end within 30 s";
    client.Close([&] { sent.closed = true; });
  });
  EXPECT_TRUE(sent.closed);
  EXPECT_EQ(client.connections(), 0u);
  for (size_t i = 0; i < sent.calls.size(); ++i) {
    EXPECT_EQ(sent.calls[i], 1) << "done of message " << i << " ran " << sent.calls[i] << " times";
  }
  return sent;
}

#define SKIP_WITHOUT_SMTP_SINK() \
  if (!SmtpSink::Available()) GTEST_SKIP() << kSmtpSink << " is missing (Debian: postfix)"

// --- delivery ---------------------------------------------------------------------------------

TEST(SmtpClientTest, LinesStartingWithADotArriveIntactThroughSmtpSink) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  // Unstuffed, ".\r\n" would end the message there and "..two" would lose a dot.
  Sent sent =
      SendAll(RelayOptions(sink.port()),
              {Message({"ann@customer.test"},
                       ".leading dot\r\n..two dots\r\n.\r\n...\r\nafter a lone dot\r\n", "dots")});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  EXPECT_EQ(sent.results[0].code, 250);
  std::vector<std::string> dumps = sink.Messages(1);
  ASSERT_EQ(dumps.size(), 1u);
  EXPECT_NE(dumps[0].find("Subject: dots\n\n.leading dot\n..two dots\n.\n...\nafter a lone dot\n"),
            std::string::npos)
      << dumps[0];
  EXPECT_NE(dumps[0].find("X-Rcpt-Args: <ann@customer.test>"), std::string::npos) << dumps[0];
}

TEST(SmtpClientTest, FiftyPipelinedMessagesShareAtMostMaxConnections) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  SmtpClient::Options options = RelayOptions(sink.port());
  options.max_connections = 2;
  std::vector<OutboundMessage> messages;
  for (int i = 0; i < 50; ++i) {
    messages.push_back(Message({"ann@customer.test", "bob@customer.test"}, "Body.\r\n",
                               "message " + std::to_string(i)));
  }
  Sent sent = SendAll(options, std::move(messages));
  for (size_t i = 0; i < sent.results.size(); ++i) {
    EXPECT_EQ(KindName(sent.results[i].kind), "delivered") << i << ": " << sent.results[i].reply;
  }
  EXPECT_LE(sent.most_connections, 2u);
  EXPECT_EQ(sink.Messages(50).size(), 50u);
  SmtpSink::Counters counters = sink.Settled(50);
  EXPECT_EQ(counters.messages, 50);
  EXPECT_GE(counters.sessions, 1);
  EXPECT_LE(counters.sessions, 2) << "each connection should carry many messages";
  EXPECT_EQ(counters.quits, counters.sessions) << "every connection should end with QUIT";
}

TEST(SmtpClientTest, ConnectionIsReplacedAfterMaxMessagesPerConnection) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  SmtpClient::Options options = RelayOptions(sink.port());
  options.max_connections = 1;
  options.max_messages_per_connection = 3;
  std::vector<OutboundMessage> messages;
  for (int i = 0; i < 7; ++i) messages.push_back(Message({"ann@customer.test"}));
  Sent sent = SendAll(options, std::move(messages));
  for (const DeliveryResult& result : sent.results) {
    EXPECT_EQ(KindName(result.kind), "delivered") << result.reply;
  }
  SmtpSink::Counters counters = sink.Settled(7);
  EXPECT_EQ(counters.messages, 7);
  EXPECT_EQ(counters.sessions, 3);  // 3 + 3 + 1
  EXPECT_EQ(counters.quits, 3);
}

TEST(SmtpClientTest, LargeMessageArrivesWholeThroughSmtpSink) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  std::string body;
  for (int i = 0; i < 200000; ++i) {
    body += ".line " + std::to_string(i) + " " + std::string(64, 'x') + "\r\n";
  }
  Sent sent = SendAll(RelayOptions(sink.port()), {Message({"ann@customer.test"}, body)});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  std::vector<std::string> dumps = sink.Messages(1);
  ASSERT_EQ(dumps.size(), 1u);
  EXPECT_NE(dumps[0].find("\n\n.line 0 xxx"), std::string::npos);
  EXPECT_NE(dumps[0].find("\n.line 199999 " + std::string(64, 'x') + "\n"), std::string::npos);
  // smtp-sink writes LF line ends: one byte less per line.
  EXPECT_GT(dumps[0].size(), body.size() - 200000);
}

TEST(SmtpClientTest, StalledDataFailsAfterCommandTimeout) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  // Reads nothing for 3 s after DATA, through a small window: the data backs up at the client.
  ASSERT_TRUE(sink.Start({"-H", "3", "-T", "8192"}));
  std::string body;
  while (body.size() < 40u * 1024 * 1024) body += std::string(70, 'x') + "\r\n";
  SmtpClient::Options options = RelayOptions(sink.port());
  options.command_timeout = milliseconds(500);
  Sent sent = SendAll(options, {Message({"ann@customer.test"}, body)});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("could not send data for 500ms"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_LT(sent.after[0], milliseconds(2500));
}

TEST(SmtpClientTest, SlowButSteadyRelayIsNotTimedOutWhileDataFlows) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--slow-data", "524288"}));  // about 10 MB/s
  std::string body;
  while (body.size() < 24u * 1024 * 1024) body += std::string(70, 'x') + "\r\n";
  SmtpClient::Options options = RelayOptions(relay.port());
  // Less than the whole transfer takes; more than what the relay's and the kernel's buffers
  // hold after the last write takes to drain (the client cannot see that drain).
  options.command_timeout = milliseconds(1500);
  OutboundMessage message = Message({"ann@customer.test"}, body);
  size_t size = message.data.size();
  Sent sent = SendAll(options, {std::move(message)});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  EXPECT_GT(sent.after[0], milliseconds(1500));
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_EQ(relay.Events("message")[0]["size"], size);
}

TEST(SmtpClientTest, HostNameIsResolved) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start({}));
  SmtpClient::Options options = RelayOptions(sink.port());
  options.host = "localhost";
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
}

TEST(SmtpClientTest, PipeliningSendsMailRcptAndDataInOneWrite) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({}));
  Sent sent = SendAll(RelayOptions(relay.port()),
                      {Message({"a@customer.test", "b@customer.test", "c@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  std::vector<nlohmann::json> commands = relay.Events("command");
  // EHLO, MAIL, RCPT x3, DATA, QUIT; MAIL and the RCPTs arrived with more behind them.
  ASSERT_EQ(commands.size(), 7u);
  EXPECT_EQ(commands[1]["line"],
            "MAIL FROM:<support@acme.test> SIZE=" + std::to_string(Message({}).data.size()));
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(commands[i]["batched"].get<bool>()) << commands[i];
  EXPECT_EQ(commands[5]["line"], "DATA");
  EXPECT_EQ(commands[6]["line"], "QUIT");
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_EQ(relay.Events("message")[0]["rcpt"].size(), 3u);
}

TEST(SmtpClientTest, WithoutPipeliningEachCommandWaitsForItsReply) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--no-pipelining"}));
  Sent sent =
      SendAll(RelayOptions(relay.port()), {Message({"a@customer.test", "b@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  std::vector<nlohmann::json> commands = relay.Events("command");
  ASSERT_EQ(commands.size(), 6u);  // EHLO MAIL RCPT RCPT DATA QUIT
  for (const auto& command : commands) EXPECT_FALSE(command["batched"].get<bool>()) << command;
}

TEST(SmtpClientTest, BareLineEndsAreSentAsCrLfAndTheLastLineIsEnded) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({}));
  OutboundMessage message;
  message.mail_from = "";
  message.rcpt_to = {"ann@customer.test"};
  message.data = "Subject: bare\n\nline one\nline two\rline three\r\n.dot";
  Sent sent = SendAll(RelayOptions(relay.port()), {message});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_EQ(relay.Events("message")[0]["raw"],
            "Subject: bare\r\n\r\nline one\r\nline two\r\nline three\r\n..dot\r\n.\r\n");
  EXPECT_EQ(relay.FirstCommand("MAIL")["line"].get<std::string>().rfind("MAIL FROM:<> ", 0), 0u);
}

TEST(SmtpClientTest, MultiLineGreetingAndHeloWhenEhloIsRefused) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "GREETING=220-relay.test first line\\n220 relay.test ESMTP",
                           "--reply", "EHLO=502 5.5.2 Error: command not recognized"}));
  Sent sent = SendAll(RelayOptions(relay.port()), {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  std::vector<std::string> commands = relay.Commands();
  ASSERT_GE(commands.size(), 3u);
  EXPECT_EQ(commands[0], "EHLO notify.postdesk.test");
  EXPECT_EQ(commands[1], "HELO notify.postdesk.test");
  EXPECT_EQ(commands[2], "MAIL FROM:<support@acme.test>");          // no SIZE: HELO offers nothing
  EXPECT_FALSE(relay.FirstCommand("MAIL")["batched"].get<bool>());  // nor PIPELINING
}

// --- STARTTLS ---------------------------------------------------------------------------------

TEST(SmtpClientTest, StartTlsIsUsedWhenOfferedAndEhloIsSentAgain) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--cert", TlsFiles::Get().cert, "--key", TlsFiles::Get().key}));
  auto tls = TlsContext::Client(TlsFiles::Get().cert);  // verifies the relay's certificate
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  SmtpClient::Options options = RelayOptions(relay.port());
  options.tls = tls.value();
  options.require_tls = true;
  options.max_connections = 1;
  Sent sent = SendAll(options, {Message({"ann@customer.test"}), Message({"bob@customer.test"})});
  for (const DeliveryResult& result : sent.results) {
    EXPECT_EQ(KindName(result.kind), "delivered") << result.reply;
  }
  ASSERT_EQ(relay.Events("tls").size(), 1u);
  std::vector<nlohmann::json> commands = relay.Events("command");
  ASSERT_GE(commands.size(), 4u);
  EXPECT_EQ(commands[0]["line"], "EHLO notify.postdesk.test");
  EXPECT_EQ(commands[1]["line"], "STARTTLS");
  EXPECT_EQ(commands[2]["line"], "EHLO notify.postdesk.test");  // RFC 3207 4.2
  EXPECT_TRUE(commands[2]["tls"].get<bool>());
  std::vector<nlohmann::json> messages = relay.Events("message");
  ASSERT_EQ(messages.size(), 2u);
  for (const auto& message : messages) EXPECT_TRUE(message["tls"].get<bool>());
  EXPECT_EQ(relay.Connections(), 1u);
}

TEST(SmtpClientTest, RequireTlsSendsNothingToARelayWithoutStartTls) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({}));
  auto tls = TlsContext::Client();
  ASSERT_TRUE(tls.ok());
  SmtpClient::Options options = RelayOptions(relay.port());
  options.tls = tls.value();
  options.require_tls = true;
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("does not offer STARTTLS"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_TRUE(relay.FirstCommand("MAIL").is_null());
}

TEST(SmtpClientTest, StartTlsRefusedGoesOnInClearUnlessTlsIsRequired) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--cert", TlsFiles::Get().cert, "--key", TlsFiles::Get().key, "--reply",
                           "STARTTLS=454 4.7.0 TLS not available now"}));
  auto tls = TlsContext::Client();
  ASSERT_TRUE(tls.ok());
  SmtpClient::Options options = RelayOptions(relay.port());
  options.tls = tls.value();
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_FALSE(relay.Events("message")[0]["tls"].get<bool>());

  options.require_tls = true;
  sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 454);
  EXPECT_EQ(relay.Events("message").size(), 1u);
}

TEST(SmtpClientTest, FailedTlsHandshakeFailsTemporarilyWithoutSending) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--cert", TlsFiles::Get().cert, "--key", TlsFiles::Get().key}));
  auto tls = TlsContext::Client(TlsFiles::Get().other_cert);  // the relay's is not trusted
  ASSERT_TRUE(tls.ok()) << tls.status().message();
  SmtpClient::Options options = RelayOptions(relay.port());
  options.tls = tls.value();
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("TLS handshake"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_TRUE(relay.FirstCommand("MAIL").is_null());
}

// --- replies ----------------------------------------------------------------------------------

struct ReplyCase {
  const char* name;
  std::vector<std::string> flags;
  std::string kind;
  int code;
  bool rset;  // the failed transaction is followed by RSET (not after the end of data)
};

void PrintTo(const ReplyCase& c, std::ostream* os) { *os << c.name; }

// smtp-sink: -f (5xx) and -r (4xx) turn PIPELINING off, so this is the one-at-a-time path.
class SmtpSinkReplyTest : public testing::TestWithParam<ReplyCase> {};

TEST_P(SmtpSinkReplyTest, ReplyDecidesTheOutcome) {
  SKIP_WITHOUT_SMTP_SINK();
  SmtpSink sink;
  ASSERT_TRUE(sink.Start(GetParam().flags));
  Sent sent = SendAll(RelayOptions(sink.port()), {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), GetParam().kind) << sent.results[0].reply;
  EXPECT_EQ(sent.results[0].code, GetParam().code) << sent.results[0].reply;
}

INSTANTIATE_TEST_SUITE_P(
    Commands, SmtpSinkReplyTest,
    testing::Values(ReplyCase{"MailHardReject", {"-f", "MAIL"}, "permanent", 500, true},
                    ReplyCase{"MailSoftReject", {"-r", "MAIL"}, "temporary", 450, true},
                    ReplyCase{"RcptHardReject", {"-f", "RCPT"}, "permanent", 500, true},
                    ReplyCase{"RcptSoftReject", {"-r", "RCPT"}, "temporary", 450, true},
                    ReplyCase{"DataHardReject", {"-f", "DATA"}, "permanent", 500, true},
                    ReplyCase{"DataSoftReject", {"-r", "DATA"}, "temporary", 450, true},
                    ReplyCase{"EndOfDataHardReject", {"-f", "."}, "permanent", 500, false},
                    ReplyCase{"EndOfDataSoftReject", {"-r", "."}, "temporary", 450, false},
                    ReplyCase{"ClosingAtMail", {"-Q", "MAIL"}, "temporary", 421, false},
                    ReplyCase{"DisconnectAtEndOfData", {"-q", "."}, "temporary", 0, false}),
    [](const testing::TestParamInfo<ReplyCase>& p) { return p.param.name; });

// The scripted relay offers PIPELINING: MAIL, RCPT and DATA go together and every reply is
// read, even after the one that failed the transaction.
class PipelinedReplyTest : public testing::TestWithParam<ReplyCase> {};

TEST_P(PipelinedReplyTest, ReplyDecidesTheOutcome) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start(GetParam().flags));
  Sent sent = SendAll(RelayOptions(relay.port()), {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), GetParam().kind) << sent.results[0].reply;
  EXPECT_EQ(sent.results[0].code, GetParam().code) << sent.results[0].reply;
  std::vector<std::string> commands = relay.Commands();
  ASSERT_GE(commands.size(), 2u);
  EXPECT_EQ(commands[commands.size() - 2] == "RSET", GetParam().rset)
      << testing::PrintToString(commands);
  EXPECT_EQ(commands.back(), "QUIT");
}

INSTANTIATE_TEST_SUITE_P(
    Commands, PipelinedReplyTest,
    testing::Values(
        ReplyCase{
            "MailPermanent", {"--reply", "MAIL=550 5.7.1 sender refused"}, "permanent", 550, true},
        ReplyCase{"MailTemporary", {"--reply", "MAIL=451 4.3.0 try later"}, "temporary", 451, true},
        ReplyCase{
            "RcptPermanent", {"--reply", "RCPT=550 5.1.1 no such user"}, "permanent", 550, true},
        ReplyCase{
            "RcptTemporary", {"--reply", "RCPT=450 4.2.0 greylisted"}, "temporary", 450, true},
        ReplyCase{"DataPermanent", {"--reply", "DATA=554 5.3.0 no data"}, "permanent", 554, true},
        ReplyCase{"DataTemporary", {"--reply", "DATA=451 4.3.0 not now"}, "temporary", 451, true},
        ReplyCase{"EndOfDataPermanent",
                  {"--reply", "DOT=554 5.7.1 looks like spam"},
                  "permanent",
                  554,
                  false},
        ReplyCase{
            "EndOfDataTemporary", {"--reply", "DOT=452 4.3.1 disk full"}, "temporary", 452, false}),
    [](const testing::TestParamInfo<ReplyCase>& p) { return p.param.name; });

TEST(SmtpClientTest, SomeRecipientsRefusedDeliversToTheOthersAndNamesTheRefused) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "RCPT:bad@=550 5.1.1 no such user", "--reply",
                           "RCPT:later@=452 4.5.3 too many recipients"}));
  Sent sent =
      SendAll(RelayOptions(relay.port()),
              {Message({"good@customer.test", "bad@customer.test", "later@customer.test"})});
  const DeliveryResult& result = sent.results[0];
  EXPECT_EQ(KindName(result.kind), "delivered") << result.reply;
  EXPECT_EQ(result.code, 250);
  EXPECT_EQ(result.refused, std::vector<std::string>{"bad@customer.test"});
  EXPECT_EQ(result.deferred, std::vector<std::string>{"later@customer.test"});
  ASSERT_EQ(relay.Events("message").size(), 1u);
  EXPECT_EQ(relay.Events("message")[0]["rcpt"], nlohmann::json::array({"TO:<good@customer.test>"}));
}

TEST(SmtpClientTest, AllRecipientsRefusedUnderPipeliningResetsAndTheConnectionGoesOn) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "RCPT:bad@=550 5.1.1 no such user"}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.max_connections = 1;
  Sent sent = SendAll(options, {Message({"bad@customer.test"}), Message({"good@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "permanent") << sent.results[0].reply;
  EXPECT_EQ(sent.results[0].code, 550);
  EXPECT_EQ(sent.results[0].refused, std::vector<std::string>{"bad@customer.test"});
  EXPECT_EQ(KindName(sent.results[1].kind), "delivered") << sent.results[1].reply;
  // The relay answered the pipelined DATA 554 (no valid recipients); RSET came before the next.
  std::vector<std::string> commands = relay.Commands();
  std::string mail =
      "MAIL FROM:<support@acme.test> SIZE=" + std::to_string(Message({}).data.size());
  std::vector<std::string> expected = {"EHLO notify.postdesk.test",
                                       mail,
                                       "RCPT TO:<bad@customer.test>",
                                       "DATA",
                                       "RSET",
                                       mail,
                                       "RCPT TO:<good@customer.test>",
                                       "DATA",
                                       "QUIT"};
  EXPECT_EQ(commands, expected);
  EXPECT_EQ(relay.Connections(), 1u);
  EXPECT_EQ(relay.Events("message").size(), 1u);
}

TEST(SmtpClientTest, MessageOverTheAdvertisedSizeFailsPermanentlyWithoutBeingSent) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--size", "300"}));
  Sent sent = SendAll(RelayOptions(relay.port()),
                      {Message({"ann@customer.test"}, std::string(400, 'x') + "\r\n"),
                       Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "permanent");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("SIZE limit of 300"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_EQ(KindName(sent.results[1].kind), "delivered") << sent.results[1].reply;
  EXPECT_EQ(relay.Events("message").size(), 1u);
}

TEST(SmtpClientTest, InvalidAddressesAreRefusedBeforeAnyConnection) {
  Loop loop;
  SmtpClient client(loop.get(), RelayOptions(FreePort()));
  std::vector<DeliveryResult> results;
  auto keep = [&](DeliveryResult r) { results.push_back(std::move(r)); };
  client.Send(Message({"ann@customer.test>\r\nRCPT TO:<eve@evil.test"}), keep);
  client.Send(Message({}), keep);
  OutboundMessage bad_sender = Message({"ann@customer.test"});
  bad_sender.mail_from = "support@acme.test>\r\nDATA";
  client.Send(bad_sender, keep);
  EXPECT_EQ(client.connections(), 0u);
  EXPECT_TRUE(results.empty()) << "done must not run inside Send()";
  bool closed = false;
  loop.After(milliseconds(0), [&] { client.Close([&] { closed = true; }); });
  loop.Run(std::chrono::seconds(10), [] { ADD_FAILURE() << "stuck"; });
  EXPECT_TRUE(closed);
  ASSERT_EQ(results.size(), 3u);
  for (const DeliveryResult& result : results) {
    EXPECT_EQ(KindName(result.kind), "permanent") << result.reply;
    EXPECT_EQ(result.code, 0);
  }
  EXPECT_NE(results[0].reply.find("invalid recipient address"), std::string::npos);
  EXPECT_EQ(results[1].reply, "no recipient");
  EXPECT_NE(results[2].reply.find("invalid sender address"), std::string::npos);
}

// --- failures of the connection ---------------------------------------------------------------

TEST(SmtpClientTest, ConnectionRefusedFailsEveryQueuedMessageTemporarilyAndAtOnce) {
  uint16_t port = FreePort();
  Sent sent = SendAll(
      RelayOptions(port),
      {Message({"a@customer.test"}), Message({"b@customer.test"}), Message({"c@customer.test"})});
  for (size_t i = 0; i < sent.results.size(); ++i) {
    EXPECT_EQ(KindName(sent.results[i].kind), "temporary");
    EXPECT_EQ(sent.results[i].code, 0);
    EXPECT_EQ(sent.results[i].reply,
              "connect 127.0.0.1:" + std::to_string(port) + ": connection refused");
    EXPECT_LT(sent.after[i], milliseconds(2000));
  }
}

TEST(SmtpClientTest, GreetingRefusedFailsTheQueueAfterNoMoreThanMaxConnectionsAttempts) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "GREETING=554 5.3.2 relay.test has no service for you"}));
  std::vector<OutboundMessage> messages;
  for (int i = 0; i < 10; ++i) messages.push_back(Message({"ann@customer.test"}));
  Sent sent = SendAll(RelayOptions(relay.port()), std::move(messages));
  for (const DeliveryResult& result : sent.results) {
    // The relay refused the session, not the message: try again later (as Postfix does).
    EXPECT_EQ(KindName(result.kind), "temporary");
    EXPECT_EQ(result.code, 554);
    EXPECT_EQ(result.reply, "554 5.3.2 relay.test has no service for you");
  }
  EXPECT_LE(relay.Connections(), 2u);
}

TEST(SmtpClientTest, SilentServerFailsTemporarilyAfterCommandTimeout) {
  // A listening socket that never accepts: the TCP handshake completes, no greeting comes.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  ASSERT_EQ(listen(fd, 8), 0);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  SmtpClient::Options options = RelayOptions(ntohs(addr.sin_port));
  options.command_timeout = milliseconds(300);
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  close(fd);
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("no reply to the greeting within 300ms"), std::string::npos)
      << sent.results[0].reply;
  EXPECT_GE(sent.after[0], milliseconds(290));
  EXPECT_LT(sent.after[0], milliseconds(3000));
}

TEST(SmtpClientTest, NoReplyToTheEndOfDataFailsTheMessageAfterCommandTimeout) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "DOT=HANG"}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.command_timeout = milliseconds(500);
  Sent sent = SendAll(options, {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("no reply to the end of data within 500ms"),
            std::string::npos)
      << sent.results[0].reply;
}

TEST(SmtpClientTest, BrokenConnectionFailsOnlyItsMessageAndTheQueueMovesOn) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "RCPT:drop@=CLOSE"}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.max_connections = 1;
  Sent sent = SendAll(options, {Message({"one@customer.test"}), Message({"drop@customer.test"}),
                                Message({"two@customer.test"}), Message({"three@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "delivered") << sent.results[0].reply;
  EXPECT_EQ(KindName(sent.results[1].kind), "temporary");
  EXPECT_EQ(sent.results[1].code, 0);
  EXPECT_NE(sent.results[1].reply.find("connection closed by the relay (awaiting RCPT)"),
            std::string::npos)
      << sent.results[1].reply;
  EXPECT_EQ(KindName(sent.results[2].kind), "delivered") << sent.results[2].reply;
  EXPECT_EQ(KindName(sent.results[3].kind), "delivered") << sent.results[3].reply;
  EXPECT_EQ(relay.Connections(), 2u);
  EXPECT_EQ(relay.Events("message").size(), 3u);
}

TEST(SmtpClientTest, OverlongReplyIsAProtocolErrorNotUnboundedMemory) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "GREETING=HUGE"}));
  Sent sent = SendAll(RelayOptions(relay.port()), {Message({"ann@customer.test"})});
  EXPECT_EQ(KindName(sent.results[0].kind), "temporary");
  EXPECT_EQ(sent.results[0].code, 0);
  EXPECT_NE(sent.results[0].reply.find("reply longer than 65536 bytes"), std::string::npos)
      << sent.results[0].reply;
}

// --- lifetime ---------------------------------------------------------------------------------

TEST(SmtpClientTest, IdleConnectionQuitsAfterIdleTimeout) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.idle_timeout = milliseconds(200);
  Loop loop;
  SmtpClient client(loop.get(), options);
  DeliveryResult result;
  size_t connections_later = 99;
  bool closed = false;
  client.Send(Message({"ann@customer.test"}), [&](DeliveryResult r) {
    result = std::move(r);
    loop.After(milliseconds(1000), [&] {
      connections_later = client.connections();
      client.Close([&] { closed = true; });
    });
  });
  loop.Run(std::chrono::seconds(20), [&] { client.Close([&] { closed = true; }); });
  EXPECT_TRUE(closed);
  EXPECT_EQ(KindName(result.kind), "delivered") << result.reply;
  EXPECT_EQ(connections_later, 0u);
  EXPECT_EQ(relay.Commands().back(), "QUIT");
}

TEST(SmtpClientTest, CloseFailsQueuedAndInFlightMessagesAsTemporaryAndClosesEveryHandle) {
  ScriptedRelay relay;
  ASSERT_TRUE(relay.Start({"--reply", "DOT=HANG"}));
  SmtpClient::Options options = RelayOptions(relay.port());
  options.max_connections = 1;
  Loop loop;
  SmtpClient client(loop.get(), options);
  std::vector<DeliveryResult> results(5);
  std::vector<int> calls(5);
  bool closed = false;
  size_t queued_at_close = 0;
  for (int i = 0; i < 4; ++i) {
    client.Send(Message({"ann@customer.test"}), [&, i](DeliveryResult r) {
      results[i] = std::move(r);
      ++calls[i];
    });
  }
  // By then the first message waits for the reply to its final dot, which never comes.
  loop.After(milliseconds(800), [&] {
    queued_at_close = client.queued();
    client.Close([&] { closed = true; });
    client.Send(Message({"late@customer.test"}), [&](DeliveryResult r) {
      results[4] = std::move(r);
      ++calls[4];
    });
  });
  loop.Run(std::chrono::seconds(20), [] { ADD_FAILURE() << "Close() did not finish"; });
  EXPECT_TRUE(closed);
  EXPECT_EQ(client.connections(), 0u);
  EXPECT_EQ(queued_at_close, 3u);
  EXPECT_EQ(relay.Events("message").size(), 1u) << "the first message was in flight";
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(calls[i], 1) << i;
    EXPECT_EQ(KindName(results[i].kind), "temporary") << i;
    EXPECT_EQ(results[i].code, 0) << i;
    EXPECT_EQ(results[i].reply, "client closing") << i;
  }
}

TEST(SmtpClientTest, CloseOfAnUnusedClientClosesAtOnce) {
  Loop loop;
  SmtpClient client(loop.get(), RelayOptions(FreePort()));
  bool closed = false;
  client.Close([&] { closed = true; });
  loop.Run(std::chrono::seconds(5), [] { ADD_FAILURE() << "Close() did not finish"; });
  EXPECT_TRUE(closed);
}

}  // namespace
}  // namespace postdesk
