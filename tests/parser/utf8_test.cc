#include "parser/utf8.h"

#include <gtest/gtest.h>

#include <string>

namespace postdesk {
namespace {

TEST(Utf8, AcceptsWellFormedTextInEveryLength) {
  EXPECT_TRUE(IsValidUtf8("plain ascii"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x9A\x80"));
  EXPECT_TRUE(IsValidUtf8(""));
}

TEST(Utf8, RejectsOverlongSurrogateAndOutOfRangeForms) {
  EXPECT_FALSE(IsValidUtf8("\xC0\xAF"));          // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xE0\x80\xAF"));      // overlong
  EXPECT_FALSE(IsValidUtf8("\xED\xA0\x80"));      // U+D800
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("abc\xC3"));           // truncated at the end
  EXPECT_FALSE(IsValidUtf8("\x80"));              // lone continuation
}

TEST(Utf8, RepairReplacesEachMaximalSubpartWithOneReplacementCharacter) {
  std::string out;
  // Unicode 15 table 3-8: F0 80 80 is three subparts? No: F0 then 80 is out of range -> each
  // byte is its own subpart. E1 80 (truncated 3-byte) is one subpart.
  AppendRepairedUtf8(
      "a\xE1\x80"
      "b",
      &out);
  EXPECT_EQ(out,
            "a\xEF\xBF\xBD"
            "b");
  out.clear();
  AppendRepairedUtf8("\xF0\x80\x80", &out);
  EXPECT_EQ(out, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_TRUE(IsValidUtf8(out));
}

TEST(Utf8, TruncationNeverSplitsACharacter) {
  std::string text = "\xC3\xA9\xC3\xA9\xF0\x9F\x9A\x80x";  // é é 🚀 x
  EXPECT_TRUE(TruncateToCodePoints(&text, 3));
  EXPECT_EQ(text, "\xC3\xA9\xC3\xA9\xF0\x9F\x9A\x80");
  EXPECT_EQ(CountCodePoints(text), 3u);
  EXPECT_FALSE(TruncateToCodePoints(&text, 3));
}

TEST(Utf8, TruncationAtTheDescriptionLimitKeepsExactly65000CodePoints) {
  std::string text;
  for (int i = 0; i < 70000; ++i) text += "\xE2\x82\xAC";  // €
  EXPECT_TRUE(TruncateToCodePoints(&text, 65000));
  EXPECT_EQ(CountCodePoints(text), 65000u);
  EXPECT_EQ(text.size(), 65000u * 3);
}

TEST(Utf8, AppendCodePointEncodesAndReplacesInvalidValues) {
  std::string out;
  AppendCodePoint(0x20AC, &out);
  AppendCodePoint(0x1F680, &out);
  AppendCodePoint(0xD800, &out);
  AppendCodePoint(0x110000, &out);
  EXPECT_EQ(out, "\xE2\x82\xAC\xF0\x9F\x9A\x80\xEF\xBF\xBD\xEF\xBF\xBD");
}

}  // namespace
}  // namespace postdesk
