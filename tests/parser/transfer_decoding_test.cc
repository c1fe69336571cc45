#include "parser/transfer_decoding.h"

#include <gtest/gtest.h>

#include <string>

namespace postdesk {
namespace {

std::string Base64(std::string_view in) {
  std::string out;
  DecodeBase64(in, &out);
  return out;
}

std::string QuotedPrintable(std::string_view in) {
  std::string out;
  DecodeQuotedPrintable(in, &out);
  return out;
}

TEST(Base64, DecodesAcrossLineBreaksAndPadding) {
  EXPECT_EQ(Base64("SGVs\r\nbG8=\r\n"), "Hello");
  EXPECT_EQ(Base64("SGVsbG8h"), "Hello!");
  EXPECT_EQ(Base64("SA=="), "H");
}

TEST(Base64, SkipsCharactersOutsideTheAlphabetIncludingPipe) {
  // mimetic 0.9.8 reads out of bounds on '|' (design.md); ours ignores it like any junk.
  EXPECT_EQ(Base64("SG|Vs*bG8="), "Hello");
}

TEST(Base64, UnpaddedTailAndLoneSextetAreSalvaged) {
  EXPECT_EQ(Base64("SGk"), "Hi");
  EXPECT_EQ(Base64("SGkx"
                   "Q"),
            "Hi1");  // a single trailing sextet carries no byte
}

TEST(Base64, SizeMatchesDecodedLength) {
  for (std::string_view in : {"SGVsbG8=", "SGk", "S\r\nG|k=", "", "===="}) {
    EXPECT_EQ(Base64DecodedSize(in), Base64(in).size()) << in;
  }
}

TEST(QuotedPrintable, DecodesEscapesInEitherCase) {
  EXPECT_EQ(QuotedPrintable("caf=E9 =e9"), "caf\xE9 \xE9");
}

TEST(QuotedPrintable, SoftLineBreaksJoinLinesWithCrlfOrLf) {
  EXPECT_EQ(QuotedPrintable("long=\r\nline=\nend"), "longlineend");
  EXPECT_EQ(QuotedPrintable("trailing blanks after soft break= \t\r\nx"),
            "trailing blanks after soft breakx");
}

TEST(QuotedPrintable, TrailingBlanksBeforeHardBreakAreDropped) {
  EXPECT_EQ(QuotedPrintable("a  \r\nb \t\n"), "a\r\nb\n");
}

TEST(QuotedPrintable, BrokenEscapesStayLiteral) {
  EXPECT_EQ(QuotedPrintable("1+1=2 and =ZZ and =4"), "1+1=2 and =ZZ and =4");
  EXPECT_EQ(QuotedPrintable("end="), "end");
}

TEST(QuotedPrintable, SizeMatchesDecodedLength) {
  for (std::string_view in : {"caf=E9", "a=\r\nb", "x  \r\n", "=", "=4", "a = b"}) {
    EXPECT_EQ(QuotedPrintableDecodedSize(in), QuotedPrintable(in).size()) << in;
  }
}

TEST(QEncoding, UnderscoreIsSpaceAndEscapesDecode) {
  std::string out;
  DecodeQEncoding("Ren=E9e_Dupr=E9", &out);
  EXPECT_EQ(out,
            "Ren\xE9"
            "e Dupr\xE9");
}

TEST(TransferEncoding, NamesAreCaseInsensitiveAndUnknownMeansIdentity) {
  EXPECT_EQ(ParseTransferEncoding(" Base64 "), TransferEncoding::kBase64);
  EXPECT_EQ(ParseTransferEncoding("QUOTED-PRINTABLE"), TransferEncoding::kQuotedPrintable);
  EXPECT_EQ(ParseTransferEncoding("8bit"), TransferEncoding::kIdentity);
  EXPECT_EQ(ParseTransferEncoding("x-uuencode"), TransferEncoding::kIdentity);
}

}  // namespace
}  // namespace postdesk
