// EmbeddedRedis: the redis-server child that `postdesk` starts when no [redis] url is configured
// (design.md, "Storage": the embedded default).
//
// The child listens only on a unix socket under data_dir (no TCP port), keeps its data there,
// and logs AOF with `appendfsync always`, so that a 250 reply follows an fsync as Postfix's does
// (and rewrites it only when it has grown fivefold: the data is append-mostly). `everysec` is
// the operator's explicit trade ([redis] appendfsync): up to a second of acknowledged mail lost
// if the machine crashes, for fewer waits on the disk.
// It runs in its own process group (a terminal's Ctrl-C reaches only postdesk, which drains and
// then stops it) and dies with its parent (PR_SET_PDEATHSIG), so a crashed gateway leaves no
// orphan. The owner holds an flock on data_dir/postdesk.lock for the child's lifetime, so that a
// server still shutting down after its owner was killed (it flushes the AOF on that SIGTERM) is
// told from one that another running postdesk owns. Start() blocks until the server answers PING
// or fails with the reason and the tail of redis.log. Called from the main thread only.
#ifndef POSTDESK_STORAGE_EMBEDDED_REDIS_H_
#define POSTDESK_STORAGE_EMBEDDED_REDIS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "parser/result.h"
#include "storage/redis_address.h"

namespace postdesk {

// When the server's AOF reaches the disk: before each reply, or once a second.
enum class EmbeddedFsync { kAlways, kEverySecond };

class EmbeddedRedis {
 public:
  // Where the embedded server of `data_dir` listens (whether or not it runs).
  static std::string SocketPath(const std::string& data_dir);

  // Creates data_dir if needed and starts redis-server there. Fails if another process holds
  // data_dir's lock (another postdesk on the same data_dir), if the server of a killed owner is
  // still answering after `timeout`, if redis-server is not installed, or if it does not answer
  // within `timeout`.
  static Result<std::unique_ptr<EmbeddedRedis>> Start(
      const std::string& data_dir, EmbeddedFsync fsync = EmbeddedFsync::kAlways,
      std::chrono::milliseconds timeout = std::chrono::seconds(15));

  ~EmbeddedRedis();  // Stop()
  EmbeddedRedis(const EmbeddedRedis&) = delete;
  EmbeddedRedis& operator=(const EmbeddedRedis&) = delete;

  RedisAddress address() const;
  pid_t pid() const { return pid_; }

  // SIGTERM (Redis fsyncs the AOF and exits), then SIGKILL after 10 s. Idempotent.
  Status Stop();

 private:
  void ReleaseLock();
  EmbeddedRedis(std::string data_dir, pid_t pid, int lock_fd)
      : data_dir_(std::move(data_dir)), pid_(pid), lock_fd_(lock_fd) {}

  std::string data_dir_;
  pid_t pid_ = -1;
  int lock_fd_ = -1;  // data_dir/postdesk.lock, flock-ed while the child runs
};

// True when a Redis server answers PING at `address` within `timeout`.
bool RedisAnswers(const RedisAddress& address, std::chrono::milliseconds timeout);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_EMBEDDED_REDIS_H_
