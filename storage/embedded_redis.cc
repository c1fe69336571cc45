#include "storage/embedded_redis.h"

#include <fcntl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <spdlog/spdlog.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>
#include <vector>

#include "storage/redis_connection.h"

namespace postdesk {
namespace {

// sockaddr_un.sun_path holds 108 bytes, the terminating NUL included.
constexpr size_t kMaxSocketPath = 107;

std::string LogTail(const std::string& path, size_t max_bytes = 800) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return "";
  // Only the tail is read: a Redis log of months can be large.
  const std::streamoff size = in.tellg();
  if (size < 0) return "";
  const std::streamoff start =
      std::max<std::streamoff>(0, size - static_cast<std::streamoff>(max_bytes));
  in.seekg(start);
  std::string text(static_cast<size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<size_t>(in.gcount()));
  return text;
}

}  // namespace

bool RedisAnswers(const RedisAddress& address, std::chrono::milliseconds timeout) {
  Result<std::unique_ptr<RedisConnection>> connection = RedisConnection::Connect(address, timeout);
  if (!connection.ok()) return false;
  RedisReplyPtr reply = connection.value()->Command("PING");
  return reply && reply->type == REDIS_REPLY_STATUS && std::strcmp(reply->str, "PONG") == 0;
}

std::string EmbeddedRedis::SocketPath(const std::string& data_dir) {
  return data_dir + "/redis.sock";
}

RedisAddress EmbeddedRedis::address() const {
  RedisAddress a;
  a.unix_path = SocketPath(data_dir_);
  return a;
}

Result<std::unique_ptr<EmbeddedRedis>> EmbeddedRedis::Start(const std::string& data_dir,
                                                            EmbeddedFsync fsync,
                                                            std::chrono::milliseconds timeout) {
  std::error_code ec;
  std::filesystem::create_directories(data_dir, ec);
  if (ec) return Status::Error("data_dir " + data_dir + ": " + ec.message());
  std::string dir = std::filesystem::canonical(data_dir, ec).string();
  if (ec) return Status::Error("data_dir " + data_dir + ": " + ec.message());
  ::chmod(dir.c_str(), 0700);  // tickets are personal data
  std::string socket = SocketPath(dir);
  if (socket.size() > kMaxSocketPath) {
    return Status::Error("data_dir " + dir + ": path too long for a unix socket (" +
                         std::to_string(socket.size()) + " > 107 bytes)");
  }
  // O_CLOEXEC: the child must not inherit the lock, or it would outlive a killed owner with it.
  std::string lock_path = dir + "/postdesk.lock";
  int lock_fd = open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (lock_fd < 0) return Status::Error(lock_path + ": " + std::strerror(errno));
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    close(lock_fd);
    return Status::Error(lock_path + ": held by another postdesk using data_dir " + dir);
  }
  auto unlock = [lock_fd] { close(lock_fd); };
  RedisAddress address;
  address.unix_path = socket;
  // The lock is ours, so a server that answers belongs to an owner that was killed: it received
  // SIGTERM with its parent's death and is writing its AOF out. Wait for it to go.
  auto orphan_deadline = std::chrono::steady_clock::now() + timeout;
  bool orphan = false;
  while (RedisAnswers(address, std::chrono::milliseconds(200))) {
    if (!orphan) spdlog::warn("{}: the redis-server of a stopped postdesk is still running; waiting", socket);
    orphan = true;
    if (std::chrono::steady_clock::now() >= orphan_deadline) {
      unlock();
      return Status::Error(socket + ": a redis-server that no postdesk owns still answers after " +
                           std::to_string(timeout.count()) + " ms; stop it, or set [redis] url");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }

  std::string log = dir + "/redis.log";
  std::vector<std::string> args = {
      "redis-server",
      "--port",
      "0",
      "--unixsocket",
      socket,
      "--unixsocketperm",
      "700",
      "--dir",
      dir,
      "--appendonly",
      "yes",
      "--appendfsync",
      fsync == EmbeddedFsync::kAlways ? "always" : "everysec",
      // The dataset only grows (tickets and raw messages are kept), so a rewrite of the AOF
      // reclaims little, while each one writes the whole dataset again: at Redis's default
      // (every doubling) that was a quarter of the throughput in a long run. Rewriting when the
      // AOF is five times its last rewritten size costs a quarter of that, and little disk.
      "--auto-aof-rewrite-percentage",
      "400",
      "--auto-aof-rewrite-min-size",
      "256mb",
      "--save",
      "",
      "--daemonize",
      "no",
      "--logfile",
      log,
      "--databases",
      "16",
  };
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t parent = getpid();
  pid_t pid = fork();
  if (pid < 0) {
    unlock();
    return Status::Error(std::string("fork: ") + std::strerror(errno));
  }
  if (pid == 0) {
    // Child: only async-signal-safe calls until exec.
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent) _exit(1);  // the parent died before prctl took effect
    int devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
      dup2(devnull, 0);
      dup2(devnull, 1);
    }
    execvp("redis-server", argv.data());
    const char msg[] =
        "postdesk: cannot run redis-server (is it installed? tools/install-deps.sh)\n";
    ssize_t ignored = write(2, msg, sizeof(msg) - 1);
    (void)ignored;
    _exit(127);
  }

  auto redis = std::unique_ptr<EmbeddedRedis>(new EmbeddedRedis(dir, pid, lock_fd));
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid, &status, WNOHANG) == pid) {
      redis->pid_ = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 127) {
        return Status::Error("redis-server is not installed (run tools/install-deps.sh)");
      }
      return Status::Error("redis-server exited at start; " + log + " says:\n" + LogTail(log));
    }
    if (RedisAnswers(address, std::chrono::milliseconds(200))) {
      spdlog::info("embedded redis-server pid {} on {}", pid, socket);
      return redis;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  redis->Stop();
  return Status::Error("redis-server did not answer within " + std::to_string(timeout.count()) +
                       " ms; " + log + " says:\n" + LogTail(log));
}

Status EmbeddedRedis::Stop() {
  if (pid_ <= 0) return Status::Ok();
  pid_t pid = pid_;
  pid_ = -1;
  kill(pid, SIGTERM);
  for (int i = 0; i < 1000; ++i) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid || (r < 0 && errno == ECHILD)) {
      spdlog::info("embedded redis-server pid {} stopped", pid);
      ReleaseLock();
      return Status::Ok();
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGKILL);
  waitpid(pid, nullptr, 0);
  ReleaseLock();
  return Status::Error("redis-server did not stop within 10 s; killed");
}

void EmbeddedRedis::ReleaseLock() {
  if (lock_fd_ >= 0) close(lock_fd_);
  lock_fd_ = -1;
}

EmbeddedRedis::~EmbeddedRedis() {
  Stop();
  ReleaseLock();
}

}  // namespace postdesk
