// ReadFileAtMost and ReadFileHead: what an operator's file, pipe or mistake reads as.
#include "gateway/bounded_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <string>

namespace postdesk {
namespace {

class BoundedFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char dir[] = "/tmp/postdesk-bounded-file-XXXXXX";
    ASSERT_NE(mkdtemp(dir), nullptr);
    dir_ = dir;
  }
  void TearDown() override {
    std::remove((dir_ + "/f").c_str());
    std::remove((dir_ + "/fifo").c_str());
    ::rmdir(dir_.c_str());
  }
  std::string Write(const std::string& text) {
    std::ofstream(dir_ + "/f", std::ios::binary) << text;
    return dir_ + "/f";
  }
  std::string dir_;
};

TEST_F(BoundedFileTest, FileUpToTheBoundIsReadWhole) {
  const std::string text =
      std::string("line one\r\nline two\0 with a NUL\n", 31) + std::string(70000, 'x');
  Result<std::string> read = ReadFileAtMost(Write(text), text.size());
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read.value(), text);
  Result<std::string> empty = ReadFileAtMost(Write(""), 10);
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty.value(), "");
}

TEST_F(BoundedFileTest, FileOverTheBoundIsRefusedWithTheBound) {
  Result<std::string> read = ReadFileAtMost(Write(std::string(1001, 'x')), 1000);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().message(), "larger than 1000 bytes");
}

TEST_F(BoundedFileTest, HeadIsTheFirstBytesOfALongerFile) {
  const std::string path = Write("0123456789");
  Result<std::string> head = ReadFileHead(path, 4);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head.value(), "0123");
  head = ReadFileHead(path, 100);
  ASSERT_TRUE(head.ok());
  EXPECT_EQ(head.value(), "0123456789");
}

// A device that never ends (or a file that grows while it is read) stops at the bound.
TEST_F(BoundedFileTest, EndlessDeviceIsRefusedAtTheBound) {
  Result<std::string> read = ReadFileAtMost("/dev/zero", 100000);
  ASSERT_FALSE(read.ok());
  EXPECT_EQ(read.status().message(), "larger than 100000 bytes");
}

// `postdesk parse /dev/stdin < message.eml` and process substitution read as files do.
TEST_F(BoundedFileTest, PipeIsReadToItsEnd) {
  const std::string fifo = dir_ + "/fifo";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  const std::string text(20000, 'p');
  pid_t writer = fork();
  ASSERT_GE(writer, 0);
  if (writer == 0) {
    std::ofstream(fifo, std::ios::binary) << text;
    _exit(0);
  }
  Result<std::string> read = ReadFileAtMost(fifo, 1 << 20);
  int status = 0;
  waitpid(writer, &status, 0);
  ASSERT_TRUE(read.ok()) << read.status().message();
  EXPECT_EQ(read.value(), text);
}

TEST_F(BoundedFileTest, MissingFileAndDirectoryAreRefusedWithTheirReason) {
  Result<std::string> missing = ReadFileAtMost(dir_ + "/none", 10);
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "cannot open: No such file or directory");
  Result<std::string> dir = ReadFileAtMost(dir_, 10);
  ASSERT_FALSE(dir.ok());
  EXPECT_EQ(dir.status().message(), "cannot read: Is a directory");
}

}  // namespace
}  // namespace postdesk
