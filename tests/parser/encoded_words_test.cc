#include "parser/encoded_words.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

TEST(EncodedWords, BAndQWordsDecode) {
  EXPECT_EQ(DecodeHeaderText("=?ISO-8859-1?Q?Probl=E8me_d'=E9cran?="), "Problème d'écran");
  EXPECT_EQ(DecodeHeaderText("=?koi8-r?B?98jPxA==?="), "Вход");
}

TEST(EncodedWords, AdjacentWordsSeparatedOnlyByBlanksJoin) {
  EXPECT_EQ(DecodeHeaderText("=?UTF-8?B?R3LDvMOfZSBhdXMg?= =?UTF-8?B?S8O2bG4=?="),
            "Grüße aus Köln");
  EXPECT_EQ(DecodeHeaderText("=?utf-8?q?a?=\r\n =?utf-8?q?b?="), "ab");
}

TEST(EncodedWords, MultibyteCharacterSplitAcrossTwoWordsComesOutWhole) {
  // "ü" is C3 BC: the first word ends after C3, the second starts with BC.
  EXPECT_EQ(DecodeHeaderText("=?UTF-8?B?R3LD?= =?UTF-8?B?vMOfZQ==?="), "Grüße");
  EXPECT_EQ(DecodeHeaderText("=?utf-8?Q?K=C3?= =?utf-8?Q?=B6ln?="), "Köln");
}

TEST(EncodedWords, TextBetweenWordsIsKept) {
  EXPECT_EQ(DecodeHeaderText("Re: =?utf-8?q?caf=C3=A9?= time"), "Re: café time");
  EXPECT_EQ(DecodeHeaderText("=?utf-8?q?a?= and =?utf-8?q?b?="), "a and b");
}

TEST(EncodedWords, WordGluedToTextStillDecodes) {
  EXPECT_EQ(DecodeHeaderText("Re:=?utf-8?q?caf=C3=A9?="), "Re:café");
}

TEST(EncodedWords, LanguageSuffixOfRfc2231IsIgnored) {
  EXPECT_EQ(DecodeHeaderText("=?utf-8*en?q?hello?="), "hello");
}

TEST(EncodedWords, MalformedWordsStayAsText) {
  EXPECT_EQ(DecodeHeaderText("=?utf-8?x?abc?="), "=?utf-8?x?abc?=");
  EXPECT_EQ(DecodeHeaderText("=?utf-8?q?never closed"), "=?utf-8?q?never closed");
  EXPECT_EQ(DecodeHeaderText("1+1=?2"), "1+1=?2");
}

TEST(EncodedWords, FoldingIsRemovedAndBlanksKept) {
  EXPECT_EQ(DecodeHeaderText(" Printer\r\n on fire \r\n"), "Printer on fire");
}

TEST(EncodedWords, RawUtf8HeaderComesThrough) {
  EXPECT_EQ(DecodeHeaderText("\xC3\x87"
                             "a marche pas \xF0\x9F\x9A\x80"),
            "Ça marche pas 🚀");
}

TEST(EncodedWords, RawLatin1HeaderIsReadAsWindows1252) {
  EXPECT_EQ(DecodeHeaderText("caf\xE9"), "café");
}

TEST(EncodedWords, UnknownCharsetInWordFallsBackToUtf8OrWindows1252) {
  EXPECT_EQ(DecodeHeaderText("=?x-bogus?q?caf=C3=A9?="), "café");
  EXPECT_EQ(DecodeHeaderText("=?x-bogus?q?caf=E9?="), "café");
}

TEST(EncodedWords, ManyStrayOpenersStayLinear) {
  std::string raw;
  for (int i = 0; i < 20000; ++i) raw += "=?a?q?";
  const std::string out = DecodeHeaderText(raw);
  EXPECT_FALSE(out.empty());
}

}  // namespace
}  // namespace postdesk
