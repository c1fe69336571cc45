#include "gateway/signal_watch.h"

#include <csignal>
#include <utility>

namespace postdesk {

SignalWatch::SignalWatch() {
  uv_loop_init(&loop_);
  for (uv_signal_t* s : {&term_, &interrupt_, &hangup_}) {
    uv_signal_init(&loop_, s);
    s->data = this;
  }
  // Installed now, dispatched in Run(): libuv's handler only writes to the loop's pipe.
  uv_signal_start_oneshot(&term_, &SignalWatch::OnStop, SIGTERM);
  uv_signal_start_oneshot(&interrupt_, &SignalWatch::OnStop, SIGINT);
  uv_signal_start(&hangup_, &SignalWatch::OnHangup, SIGHUP);
}

SignalWatch::~SignalWatch() {
  for (uv_signal_t* s : {&term_, &interrupt_, &hangup_}) {
    uv_close(reinterpret_cast<uv_handle_t*>(s), nullptr);
  }
  uv_run(&loop_, UV_RUN_DEFAULT);  // the close callbacks
  uv_loop_close(&loop_);
}

void SignalWatch::Run(std::function<void(int)> on_stop, std::function<void()> on_reload) {
  on_stop_ = std::move(on_stop);
  on_reload_ = std::move(on_reload);
  uv_run(&loop_, UV_RUN_DEFAULT);
}

void SignalWatch::OnStop(uv_signal_t* handle, int signum) {
  auto* watch = static_cast<SignalWatch*>(handle->data);
  watch->on_stop_(signum);
  uv_stop(&watch->loop_);
}

void SignalWatch::OnHangup(uv_signal_t* handle, int) {
  static_cast<SignalWatch*>(handle->data)->on_reload_();
}

}  // namespace postdesk
