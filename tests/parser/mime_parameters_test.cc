#include "parser/mime_parameters.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

TEST(MimeParameters, ValueIsLowerCasedAndParametersRead) {
  const HeaderParameters p = ParseHeaderParameters(" Text/Plain; Charset=\"UTF-8\"; format=flowed");
  EXPECT_EQ(p.value, "text/plain");
  EXPECT_EQ(p.Get("charset"), "UTF-8");
  EXPECT_EQ(p.Get("format"), "flowed");
  EXPECT_FALSE(p.Has("boundary"));
}

TEST(MimeParameters, QuotedValuesKeepSemicolonsAndEscapes) {
  const HeaderParameters p =
      ParseHeaderParameters("attachment; filename=\"a;b \\\"c\\\".txt\"; size=10");
  EXPECT_EQ(p.value, "attachment");
  EXPECT_EQ(p.Get("filename"), "a;b \"c\".txt");
  EXPECT_EQ(p.Get("size"), "10");
}

TEST(MimeParameters, Rfc2231ExtendedValueWithCharset) {
  const HeaderParameters p =
      ParseHeaderParameters("attachment; filename*=utf-8''r%C3%A9sum%C3%A9%202026.pdf");
  EXPECT_EQ(p.Get("filename"), "résumé 2026.pdf");
}

TEST(MimeParameters, Rfc2231ContinuationsJoinInSectionOrder) {
  const HeaderParameters p = ParseHeaderParameters(
      "attachment;\r\n filename*1=\"part two\";\r\n filename*0=\"part one \"");
  EXPECT_EQ(p.Get("filename"), "part one part two");
}

TEST(MimeParameters, Rfc2231MixedEncodedAndPlainSections) {
  // RFC 2231 4.1: only sections marked with '*' are percent-decoded; the charset is in *0*.
  const HeaderParameters p = ParseHeaderParameters(
      "attachment; filename*0*=iso-8859-1'fr'caf%E9; filename*1=\"_100%.txt\"");
  EXPECT_EQ(p.Get("filename"), "café_100%.txt");
}

TEST(MimeParameters, Rfc2231FormWinsOverPlainForm) {
  const HeaderParameters p = ParseHeaderParameters(
      "attachment; filename=\"fallback.txt\"; filename*=UTF-8''%E2%82%AC.txt");
  EXPECT_EQ(p.Get("filename"), "€.txt");
}

TEST(MimeParameters, EncodedWordInsideQuotedValueIsDecoded) {
  const HeaderParameters p =
      ParseHeaderParameters("application/pdf; name=\"=?UTF-8?B?csOpc3Vtw6kucGRm?=\"");
  EXPECT_EQ(p.Get("name"), "résumé.pdf");
}

TEST(MimeParameters, Rfc2231WithoutCharsetReadsUtf8OrWindows1252) {
  EXPECT_EQ(ParseHeaderParameters("a; filename*=''caf%C3%A9").Get("filename"), "café");
  EXPECT_EQ(ParseHeaderParameters("a; filename*=''caf%E9").Get("filename"), "café");
}

TEST(MimeParameters, SloppySyntaxIsRead) {
  const HeaderParameters p =
      ParseHeaderParameters("multipart/mixed;; boundary=abc def ;charset=\"unterminated");
  EXPECT_EQ(p.value, "multipart/mixed");
  EXPECT_EQ(p.Get("boundary"), "abc def");
  EXPECT_EQ(p.Get("charset"), "unterminated");
}

TEST(MimeParameters, CommentsInTheValueAreDropped) {
  EXPECT_EQ(ParseHeaderParameters("text/plain (a comment); charset=utf-8").value, "text/plain");
}

TEST(MimeParameters, CommentAfterAnUnquotedTokenIsDropped) {
  // Found by the differential test: "charset=windows-1251 (a comment)" lost the charset.
  EXPECT_EQ(ParseHeaderParameters("text/plain; charset=windows-1251 (Cyrillic)").Get("charset"),
            "windows-1251");
  EXPECT_EQ(ParseHeaderParameters("text/plain; charset=\"koi8-r\" (Russian)").Get("charset"),
            "koi8-r");
}

TEST(MimeParameters, ParameterCountIsBounded) {
  std::string raw = "text/plain";
  for (int i = 0; i < 5000; ++i) raw += "; p" + std::to_string(i) + "=v";
  EXPECT_LE(ParseHeaderParameters(raw).parameters.size(), kMaxParameters);
}

TEST(MediaType, OnlyTypeSlashSubtypeIsAccepted) {
  EXPECT_EQ(NormalizeMediaType("text/html"), "text/html");
  EXPECT_EQ(NormalizeMediaType("text"), "");
  EXPECT_EQ(NormalizeMediaType("text/"), "");
  EXPECT_EQ(NormalizeMediaType("a/b/c"), "");
}

}  // namespace
}  // namespace postdesk
