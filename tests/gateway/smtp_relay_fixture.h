// The relays and the loop that tests/gateway/smtp_client*_test.cc run SmtpClient against:
// Postfix's smtp-sink (SmtpSink; tests skip without it, it comes with Debian's postfix package),
// tests/gateway/smtp_test_server.py (ScriptedRelay, python3: STARTTLS and scripted replies under
// PIPELINING), throwaway TLS certificates, and a Loop whose close fails the test when a libuv
// handle was left open. Everything runs on the test's thread. A relay that does not start says
// so through its Start() (false); a temporary directory, a free port or a certificate that
// cannot be made aborts the test binary, as nothing after it could mean anything.
#ifndef POSTDESK_TESTS_GATEWAY_SMTP_RELAY_FIXTURE_H_
#define POSTDESK_TESTS_GATEWAY_SMTP_RELAY_FIXTURE_H_

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

#include "gateway/smtp_client.h"
#include "tests/gateway/tls_test_files.h"
#include "tests/temp_dir.h"

extern char** environ;

namespace postdesk::smtp_client_test {

using Kind = DeliveryResult::Kind;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

inline constexpr char kSmtpSink[] = "/usr/sbin/smtp-sink";
inline constexpr char kRelayScript[] = POSTDESK_SOURCE_DIR "/tests/gateway/smtp_test_server.py";

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// A port nothing listens on (bound, then released), for a server that binds it a moment later.
// It is drawn below Linux's ephemeral range (32768 and up): a port that bind(0) handed out could
// meanwhile become the source port of any outgoing connection of a test running beside this one
// (tests/integration/postdesk_harness.py free_port says the same).
inline uint16_t FreePort() {
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

inline bool CanConnect(uint16_t port) {
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
    dir_ = MakeTempDir("pd-smtpc");
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
    log_ = MakeTempDir("pd-smtpc") + "/relay.jsonl";
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

inline SmtpClient::Options RelayOptions(uint16_t port) {
  SmtpClient::Options options;
  options.host = "127.0.0.1";
  options.port = port;
  options.helo_name = "notify.postdesk.test";
  options.connect_timeout = std::chrono::seconds(5);
  options.command_timeout = std::chrono::seconds(10);
  options.idle_timeout = std::chrono::seconds(5);
  return options;
}

inline OutboundMessage Message(std::vector<std::string> rcpt_to, std::string body = "Hello.\r\n",
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
inline Sent SendAll(const SmtpClient::Options& options, std::vector<OutboundMessage> messages) {
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

}  // namespace postdesk::smtp_client_test

#endif  // POSTDESK_TESTS_GATEWAY_SMTP_RELAY_FIXTURE_H_
