// Inputs that once broke (or could break) the parser: fuzzer findings and the mimetic 0.9.8
// bug classes named in design.md. Each must parse to valid, bounded output without crashing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "parser/message_json.h"
#include "parser/message_parser.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

void ExpectSane(const ParsedMessage& m, size_t input_size) {
  EXPECT_TRUE(IsValidUtf8(m.subject));
  EXPECT_TRUE(IsValidUtf8(m.from_name));
  EXPECT_TRUE(IsValidUtf8(m.from_email));
  EXPECT_TRUE(IsValidUtf8(m.description));
  EXPECT_LE(CountCodePoints(m.description), kMaxDescriptionCodePoints);
  for (const auto& a : m.attachments) {
    EXPECT_TRUE(IsValidUtf8(a.filename));
    EXPECT_LE(a.size, input_size);
  }
  EXPECT_NO_THROW(MessageToJson(m).dump());
}

TEST(Regression, AllSpaceInputIsHandled) {
  const std::string raw(4096, ' ');
  ExpectSane(ParseMessage(raw), raw.size());
}

TEST(Regression, OnlyNewlinesAreHandled) {
  const std::string raw(4096, '\n');
  ExpectSane(ParseMessage(raw), raw.size());
  ExpectSane(ParseMessage(std::string(4096, '\r')), 4096);
}

TEST(Regression, Base64BodyWithPipesAndGarbage) {
  const std::string raw =
      "Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n||||SGVsbG8=|||\r\n=";
  const ParsedMessage m = ParseMessage(raw);
  EXPECT_EQ(m.description, "Hello");
  ExpectSane(m, raw.size());
}

TEST(Regression, BoundaryAtTheVeryEndOfInput) {
  for (std::string tail : {"--b", "--b-", "--b--", "\r\n--b", "\n--"}) {
    const std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n" + tail;
    ExpectSane(ParseMessage(raw), raw.size());
  }
}

TEST(Regression, HeaderEndingWithoutNewline) {
  ExpectSane(ParseMessage("Subject: =?utf-8?q?abc"), 21);
  ExpectSane(ParseMessage("Content-Type: multipart/mixed; boundary="), 40);
}

TEST(Regression, QuotedPrintableEndingInEscapePrefix) {
  for (std::string tail : {"=", "=A", "= ", "=\r"}) {
    const std::string raw = "Content-Transfer-Encoding: quoted-printable\r\n\r\nx" + tail;
    ExpectSane(ParseMessage(raw), raw.size());
  }
}

TEST(Regression, NulBytesAndBinaryJunkEverywhere) {
  static constexpr char kRaw[] = "From: \0<a@b>\r\nSubject: \xFF\xFE\0\r\n\r\n\0\0\xC3";
  const std::string raw(kRaw, sizeof(kRaw) - 1);
  ExpectSane(ParseMessage(raw), raw.size());
}

TEST(Regression, SameBoundaryNestedDoesNotLoop) {
  const std::string raw =
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
      "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\ntext\r\n--b--\r\n";
  ExpectSane(ParseMessage(raw), raw.size());
}

TEST(Regression, ManyEmptyPartsStayWithinThePartLimit) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n";
  for (int i = 0; i < 100000; ++i) raw += "--b\r\n";
  const ParsedMessage m = ParseMessage(raw);
  ExpectSane(m, raw.size());
  EXPECT_LE(m.attachments.size(), ParseLimits{}.max_parts);
}

// Every seed of the MIME fuzzer (fuzz/mime_fuzzer/), including inputs the fuzzer found, parses
// to sane output in the ordinary test build too, under the default limits.
TEST(Regression, FuzzSeedsParseToSaneOutput) {
  const std::filesystem::path dir = POSTDESK_MIME_FUZZ_SEEDS_DIR;
  ASSERT_TRUE(std::filesystem::is_directory(dir)) << dir;
  size_t count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    SCOPED_TRACE(entry.path().string());
    std::ifstream in(entry.path(), std::ios::binary);
    std::ostringstream buffer;
    buffer << in.rdbuf();
    const std::string raw = buffer.str();
    ExpectSane(ParseMessage(raw), raw.size());
    ++count;
  }
  EXPECT_GE(count, 5u);
}

}  // namespace
}  // namespace postdesk
