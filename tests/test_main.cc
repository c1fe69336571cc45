// The test binaries' main. It sets the process up as `postdesk` sets itself up (gateway/main.cc)
// before any test runs: SIGPIPE is ignored, so that a write to a peer that has hung up (a
// redis-server shutting down, a client gone) fails with EPIPE as it does in production, instead
// of ending the whole test binary.
#include <gtest/gtest.h>

#include <csignal>

int main(int argc, char** argv) {
  std::signal(SIGPIPE, SIG_IGN);
  testing::InitGoogleTest(&argc, argv);
  return RUN_ALL_TESTS();
}
