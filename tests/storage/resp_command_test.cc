// The RESP writers produce what hiredis would: the same bytes as redisFormatCommandArgv, once
// spliced values are put back in.
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
  std::string exec;
  AppendRespCommand({"EXEC"}, &exec);
  EXPECT_EQ(exec, "*1\r\n$4\r\nEXEC\r\n");
  std::string binary("a\0b\r\nc", 6);
  std::vector<std::string> args = {"SET", "{pd}:body:k", binary, "", std::string(70000, 'x')};
  std::string piecewise;
  AppendRespArray(args.size(), &piecewise);
  for (const std::string& a : args) AppendRespBulk(a, &piecewise);
  EXPECT_EQ(piecewise, Hiredis(args));
  std::string whole;
  AppendRespCommand({"SET", "{pd}:body:k", binary, "", std::string(70000, 'x')}, &whole);
  EXPECT_EQ(whole, Hiredis(args));
}

// A buffer holds several commands back to back, each as hiredis would write it alone.
TEST(RespCommand, CommandsAppendBackToBack) {
  std::string buffer = "kept";
  AppendRespCommand({"MULTI"}, &buffer);
  AppendRespCommand({"GET", "k"}, &buffer);
  EXPECT_EQ(buffer, "kept" + Hiredis({"MULTI"}) + Hiredis({"GET", "k"}));
}

// A value from kRespSpliceBytes on stays where it is; put back in, the bytes are hiredis's.
TEST(RespCommand, LargeArgumentIsSplicedSmallOneCopied) {
  const std::string small(kRespSpliceBytes - 1, 's');
  const std::string large(kRespSpliceBytes, 'L');
  std::string text;
  RespSplice splices[2];
  AppendRespArray(4, &text);
  AppendRespBulk("SET", &text);
  EXPECT_FALSE(AppendRespBulkOrSplice(small, &text, &splices[0]));
  EXPECT_TRUE(AppendRespBulkOrSplice(large, &text, &splices[0]));
  EXPECT_TRUE(AppendRespBulkOrSplice(large, &text, &splices[1]));
  EXPECT_EQ(splices[0].value.data(), large.data());  // not a copy
  const std::string expected = Hiredis({"SET", small, large, large});
  EXPECT_EQ(text.size(), expected.size() - 2 * large.size());
  std::string whole;
  AppendSpliced(text, splices, 2, &whole);
  EXPECT_EQ(whole, expected);
}

}  // namespace
}  // namespace postdesk
