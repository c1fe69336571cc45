#include "gateway/bounded_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace postdesk {
namespace {

class FileDescriptor {
 public:
  explicit FileDescriptor(int fd) : fd_(fd) {}
  ~FileDescriptor() {
    if (fd_ >= 0) ::close(fd_);
  }
  FileDescriptor(const FileDescriptor&) = delete;
  FileDescriptor& operator=(const FileDescriptor&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

Status Errno(const char* what, int error) {
  return Status::Error(what + std::string(std::strerror(error)));
}

}  // namespace

Result<std::string> ReadFileHead(const std::string& path, size_t max_bytes) {
  FileDescriptor fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) return Errno("cannot open: ", errno);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return Errno("cannot read: ", errno);
  // read() of a directory fails with EISDIR anyway; said here before any allocation.
  if (S_ISDIR(st.st_mode)) return Errno("cannot read: ", EISDIR);
  // A regular file's size is known: one buffer holds it, with a byte to spare to see its end
  // (or its growth). Pipes and devices report 0 and grow their buffer as they are read.
  const size_t first = S_ISREG(st.st_mode) ? static_cast<size_t>(st.st_size) + 1 : 4096;
  std::string text(std::min(first, max_bytes), '\0');
  size_t used = 0;
  while (used < max_bytes) {
    if (used == text.size()) text.resize(std::min(text.size() * 2, max_bytes));
    const ssize_t n = ::read(fd.get(), text.data() + used, text.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Errno("cannot read: ", errno);
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  text.resize(used);
  return text;
}

Result<std::string> ReadFileAtMost(const std::string& path, size_t max_bytes) {
  Result<std::string> text = ReadFileHead(path, max_bytes + 1);
  if (text.ok() && text->size() > max_bytes) {
    return Status::Error("larger than " + std::to_string(max_bytes) + " bytes");
  }
  return text;
}

}  // namespace postdesk
