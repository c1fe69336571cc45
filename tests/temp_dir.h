// MakeTempDir: a fresh directory for one test's files, "<prefix>-XXXXXX" under the system's
// temporary directory (mkdtemp: created with mode 0700, the name never reused). The caller
// removes it. Aborts when none can be made, since no test can go on without it. Any thread.
#ifndef POSTDESK_TESTS_TEMP_DIR_H_
#define POSTDESK_TESTS_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace postdesk {

inline std::string MakeTempDir(const std::string& prefix) {
  std::string dir = (std::filesystem::temp_directory_path() / (prefix + "-XXXXXX")).string();
  if (!mkdtemp(dir.data())) std::abort();
  return dir;
}

}  // namespace postdesk

#endif  // POSTDESK_TESTS_TEMP_DIR_H_
