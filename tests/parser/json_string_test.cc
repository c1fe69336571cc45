#include "parser/json_string.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

namespace postdesk {
namespace {

std::string Json(std::string_view text) {
  std::string out;
  AppendJsonString(text, &out);
  return out;
}

TEST(JsonString, EscapesQuotesControlsAndBadUtf8) {
  EXPECT_EQ(Json("plain"), "\"plain\"");
  EXPECT_EQ(Json("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(Json("l1\nl2\r\t"), "\"l1\\nl2\\r\\t\"");
  EXPECT_EQ(Json(std::string("\x01\x1b\x7f\0", 4)), "\"\\u0001\\u001b\\u007f\\u0000\"");
  EXPECT_EQ(Json("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7"),
            "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x93\xa7\"");
  EXPECT_EQ(Json("\xff"), "\"\\ufffd\"");
  EXPECT_EQ(Json("\xc0\xaf"), "\"\\ufffd\\ufffd\"");             // overlong '/'
  EXPECT_EQ(Json("\xed\xa0\x80"), "\"\\ufffd\\ufffd\\ufffd\"");  // a surrogate
  EXPECT_EQ(Json("\xe2\x82"), "\"\\ufffd\\ufffd\"");             // cut short
  EXPECT_TRUE(nlohmann::json::parse(Json("\xf4\x90\x80\x80 \x01 \"")).is_string());
}

TEST(JsonString, LongPlainRunsAndEscapesInterleave) {
  std::string text(5000, 'x');
  text[100] = '"';
  text[4000] = '\n';
  nlohmann::json parsed = nlohmann::json::parse(Json(text));
  EXPECT_EQ(parsed.get<std::string>(), text);
  EXPECT_EQ(Json(""), "\"\"");
}

}  // namespace
TEST(AppendDecimal, AppendsTheDigitsAfterWhatIsThere) {
  std::string out = "ticket ";
  AppendDecimal(12, &out);
  EXPECT_EQ(out, "ticket 12");
  out.clear();
  AppendDecimal(-9223372036854775807LL - 1, &out);
  EXPECT_EQ(out, "-9223372036854775808");
  out.clear();
  AppendDecimal(0, &out);
  EXPECT_EQ(out, "0");
}

}  // namespace postdesk
