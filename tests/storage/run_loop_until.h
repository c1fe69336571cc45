// RunUntil: drives a libuv loop from a test until a condition holds, for the storage tests that
// talk to a real Redis through a loop (TicketStore); CloseAndWait closes such a client and runs
// the loop until it says it is closed. Run on the test's thread; a false return means the
// condition did not hold within the timeout.
#ifndef POSTDESK_TESTS_STORAGE_RUN_LOOP_UNTIL_H_
#define POSTDESK_TESTS_STORAGE_RUN_LOOP_UNTIL_H_

#include <uv.h>

#include <chrono>
#include <thread>

namespace postdesk {

template <typename Predicate>
bool RunUntil(uv_loop_t* loop, Predicate done, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    uv_run(loop, UV_RUN_NOWAIT);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

// `closable`: anything with Close(callback), such as TicketStore.
template <typename Closable>
bool CloseAndWait(uv_loop_t* loop, Closable& closable,
                  std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
  bool closed = false;
  closable.Close([&] { closed = true; });
  return RunUntil(
      loop, [&] { return closed; }, timeout);
}

}  // namespace postdesk

#endif  // POSTDESK_TESTS_STORAGE_RUN_LOOP_UNTIL_H_
