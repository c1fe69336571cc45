#include "parser/charset.h"

#include <gtest/gtest.h>

#include <string>

#include "parser/utf8.h"

namespace postdesk {
namespace {

std::string Convert(std::string_view bytes, std::string_view label) {
  std::string out;
  ConvertToUtf8(bytes, label, &out);
  return out;
}

TEST(Charset, LatinLabelsMeanWindows1252AsWhatwgSays) {
  EXPECT_EQ(LookupCharset("ISO-8859-1").name, "windows-1252");
  EXPECT_EQ(LookupCharset("us-ascii").name, "windows-1252");
  EXPECT_EQ(LookupCharset(" latin1 ").name, "windows-1252");
  // 0x93/0x94 are curly quotes in windows-1252, C1 controls in real ISO-8859-1.
  EXPECT_EQ(Convert("\x93ok\x94", "iso-8859-1"), "\xE2\x80\x9Cok\xE2\x80\x9D");
}

TEST(Charset, LabelsAreCaseInsensitiveAliases) {
  EXPECT_EQ(LookupCharset("UTF8").charset, Charset::kUtf8);
  EXPECT_EQ(LookupCharset("Shift_JIS").name, "shift_jis");
  EXPECT_EQ(LookupCharset("gb2312").name, "gbk");
  EXPECT_EQ(LookupCharset("x-unknown-42").charset, Charset::kUnknown);
}

TEST(Charset, UnknownLabelReadsValidUtf8AsUtf8) {
  EXPECT_EQ(Convert("caf\xC3\xA9", "x-unknown-42"), "caf\xC3\xA9");
}

TEST(Charset, UnknownLabelReadsOtherBytesAsWindows1252) {
  EXPECT_EQ(Convert("caf\xE9", "x-unknown-42"), "caf\xC3\xA9");
}

TEST(Charset, InvalidUtf8BecomesReplacementCharacter) {
  EXPECT_EQ(Convert("a\xFF"
                    "b",
                    "utf-8"),
            "a\xEF\xBF\xBD"
            "b");
}

TEST(Charset, Koi8rAndIso2022JpGoThroughIconv) {
  EXPECT_EQ(Convert("\xF7\xC8\xCF\xC4", "koi8-r"), "\xD0\x92\xD1\x85\xD0\xBE\xD0\xB4");  // Вход
  EXPECT_EQ(Convert("\x1B$BCmJ8\x1B(B", "ISO-2022-JP"), "\xE6\xB3\xA8\xE6\x96\x87");     // 注文
}

TEST(Charset, UndecodableBytesInIconvCharsetsBecomeReplacementCharacters) {
  // 0x80 alone is not Shift_JIS; a truncated lead byte at the end neither.
  const std::string out = Convert(
      "a\x80"
      "b\x82",
      "shift_jis");
  EXPECT_TRUE(IsValidUtf8(out));
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);
  EXPECT_EQ(out.substr(0, 1), "a");
}

TEST(Charset, Utf16WithOddLengthIsSalvaged) {
  const std::string out = Convert(std::string("h\0i\0!", 5), "utf-16le");
  EXPECT_EQ(out, "hi\xEF\xBF\xBD");
}

TEST(Charset, OutputCapStopsEarlyAndReportsTheCut) {
  std::string big(100000, 'x');
  std::string out;
  EXPECT_TRUE(ConvertToUtf8(big, "utf-8", &out, 1000));
  EXPECT_LE(out.size(), 1001u);
  out.clear();
  EXPECT_FALSE(ConvertToUtf8("short", "utf-8", &out, 1000));
}

TEST(Charset, Utf8ByteOrderMarkIsDropped) { EXPECT_EQ(Convert("\xEF\xBB\xBFhi", "utf-8"), "hi"); }

}  // namespace
}  // namespace postdesk
