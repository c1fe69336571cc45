// SignalWatch: the process's SIGTERM, SIGINT and SIGHUP, for `serve` and `workers`.
//
// Owns a private libuv loop and its three signal handles. The handlers are installed by the
// constructor, so a signal that arrives while the process is still starting (systemd's
// ExecReload, or an operator's kill -HUP right after the port answers) is held until Run()
// instead of taking the default action, which for SIGHUP would end the process.
//
// Thread: construct, Run() and destroy on one thread (the main thread); the callbacks run on
// it, inside Run(). Fails: never; libuv's signal setup only fails on invalid arguments.
#ifndef POSTDESK_GATEWAY_SIGNAL_WATCH_H_
#define POSTDESK_GATEWAY_SIGNAL_WATCH_H_

#include <uv.h>

#include <functional>

namespace postdesk {

class SignalWatch {
 public:
  SignalWatch();
  ~SignalWatch();
  SignalWatch(const SignalWatch&) = delete;
  SignalWatch& operator=(const SignalWatch&) = delete;

  // Blocks until SIGTERM or SIGINT (also one that came before the call): `on_stop(signum)`
  // runs once, then Run() returns; `on_reload()` runs for each SIGHUP before that.
  void Run(std::function<void(int signum)> on_stop, std::function<void()> on_reload);

 private:
  static void OnStop(uv_signal_t* handle, int signum);
  static void OnHangup(uv_signal_t* handle, int signum);

  uv_loop_t loop_;
  uv_signal_t term_;
  uv_signal_t interrupt_;
  uv_signal_t hangup_;
  std::function<void(int)> on_stop_;
  std::function<void()> on_reload_;
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_SIGNAL_WATCH_H_
