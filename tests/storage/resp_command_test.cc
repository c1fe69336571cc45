// RespCommand writes what hiredis would: the same bytes as redisFormatCommandArgv.
#include "storage/resp_command.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>

#include <string>
#include <vector>

namespace postdesk {
namespace {

std::string Hiredis(const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const std::string& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  char* target = nullptr;
  long long n = redisFormatCommandArgv(&target, static_cast<int>(args.size()), argv.data(),
                                       lens.data());
  std::string out(target, static_cast<size_t>(n));
  redisFreeCommand(target);
  return out;
}

TEST(RespCommand, WritesTheBytesHiredisWould) {
  EXPECT_EQ(RespCommand({"EXEC"}).text(), "*1\r\n$4\r\nEXEC\r\n");
  std::string binary("a\0b\r\nc", 6);
  std::vector<std::string> args = {"SET", "{pd}:body:k", binary, "", std::string(70000, 'x')};
  RespCommand command(args.size(), 0);  // too small a reservation only costs a reallocation
  for (const std::string& a : args) command.Arg(a);
  EXPECT_EQ(command.text(), Hiredis(args));
  EXPECT_EQ(RespCommand({"SET", "{pd}:body:k", binary, "", std::string(70000, 'x')}).text(),
            Hiredis(args));
}

TEST(RespCommand, ReleaseMovesTheTextOut) {
  RespCommand command({"PING"});
  std::string text = command.Release();
  EXPECT_EQ(text, "*1\r\n$4\r\nPING\r\n");
  EXPECT_TRUE(command.text().empty());
}

}  // namespace
}  // namespace postdesk
