// Server: the SMTP service as a whole: one ServerLoop per core, each on its own thread.
//
// Start() binds every listening address on every loop before any thread runs, so a port in
// use fails the start (naming it) rather than half-serving. Shutdown() may be called from any
// thread (the signal loop does); Wait() joins the loop threads once they have drained.
#ifndef POSTDESK_GATEWAY_SERVER_H_
#define POSTDESK_GATEWAY_SERVER_H_

#include <memory>
#include <thread>
#include <vector>

#include "gateway/server_loop.h"

namespace postdesk {

class Server {
 public:
  static Result<std::unique_ptr<Server>> Start(std::shared_ptr<const ServingState> state,
                                               const RedisAddress& redis);
  ~Server();  // Shutdown() and Wait()

  void Shutdown();
  // Any thread: new sessions on every loop use `state` from now on.
  void UpdateState(const std::shared_ptr<const ServingState>& state);
  void Wait();

 private:
  Server() = default;
  std::unique_ptr<ConnectionLimits> limits_;  // shared by the loops; outlives them
  std::vector<std::unique_ptr<ServerLoop>> loops_;
  std::vector<std::thread> threads_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_SERVER_H_
