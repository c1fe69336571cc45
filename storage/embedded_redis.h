// EmbeddedRedis: the redis-server child that `postdesk` starts when no [redis] url is configured
// (design.md, "Storage": the embedded default).
//
// The child listens only on a unix socket under data_dir (no TCP port), keeps its data there,
// and logs AOF with `appendfsync always`, so that a 250 reply follows an fsync as Postfix's does.
// It runs in its own process group (a terminal's Ctrl-C reaches only postdesk, which drains and
// then stops it) and dies with its parent (PR_SET_PDEATHSIG), so a crashed gateway leaves no
// orphan. Start() blocks until the server answers PING or fails with the reason and the tail of
// redis.log. Called from the main thread only.
#ifndef POSTDESK_STORAGE_EMBEDDED_REDIS_H_
#define POSTDESK_STORAGE_EMBEDDED_REDIS_H_

#include <sys/types.h>

#include <chrono>
#include <memory>
#include <string>

#include "parser/result.h"
#include "storage/redis_address.h"

namespace postdesk {

class EmbeddedRedis {
 public:
  // Where the embedded server of `data_dir` listens (whether or not it runs).
  static std::string SocketPath(const std::string& data_dir);

  // Creates data_dir if needed and starts redis-server there. Fails if a server already answers
  // on the socket (another postdesk on the same data_dir), if redis-server is not installed, or
  // if it does not answer within `timeout`.
  static Result<std::unique_ptr<EmbeddedRedis>> Start(
      const std::string& data_dir, std::chrono::milliseconds timeout = std::chrono::seconds(15));

  ~EmbeddedRedis();  // Stop()
  EmbeddedRedis(const EmbeddedRedis&) = delete;
  EmbeddedRedis& operator=(const EmbeddedRedis&) = delete;

  RedisAddress address() const;
  pid_t pid() const { return pid_; }

  // SIGTERM (Redis fsyncs the AOF and exits), then SIGKILL after 10 s. Idempotent.
  Status Stop();

 private:
  EmbeddedRedis(std::string data_dir, pid_t pid) : data_dir_(std::move(data_dir)), pid_(pid) {}

  std::string data_dir_;
  pid_t pid_ = -1;
};

// True when a Redis server answers PING at `address` within `timeout`.
bool RedisAnswers(const RedisAddress& address, std::chrono::milliseconds timeout);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_EMBEDDED_REDIS_H_
