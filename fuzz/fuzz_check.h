// FUZZ_CHECK: a property check for libFuzzer targets that also holds in release builds
// (assert() vanishes under NDEBUG, which RelWithDebInfo sets). A failed check prints the
// condition and aborts, which libFuzzer records as a crash with its input.
#ifndef POSTDESK_FUZZ_FUZZ_CHECK_H_
#define POSTDESK_FUZZ_FUZZ_CHECK_H_

#include <cstdio>
#include <cstdlib>

#define FUZZ_CHECK(condition)                                                                 \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      std::fprintf(stderr, "%s:%d: FUZZ_CHECK failed: %s\n", __FILE__, __LINE__, #condition); \
      std::abort();                                                                           \
    }                                                                                         \
  } while (0)

#endif  // POSTDESK_FUZZ_FUZZ_CHECK_H_
