#include "parser/multipart.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

TEST(Multipart, SplitsPartsAndDropsPreambleAndEpilogue) {
  const MultipartBody body =
      SplitMultipart("preamble\r\n--b\r\none\r\n--b\r\ntwo\r\n--b--\r\nepilogue\r\n", "b", 10);
  ASSERT_EQ(body.parts.size(), 2u);
  EXPECT_EQ(body.parts[0], "one");
  EXPECT_EQ(body.parts[1], "two");
  EXPECT_TRUE(body.terminated);
}

TEST(Multipart, DelimiterMayCarryTrailingBlanks) {
  const MultipartBody body = SplitMultipart("--b  \r\none\r\n--b-- \t\r\n", "b", 10);
  ASSERT_EQ(body.parts.size(), 1u);
  EXPECT_EQ(body.parts[0], "one");
}

TEST(Multipart, LongerLineStartingWithTheBoundaryIsNotADelimiter) {
  // RFC 2046 5.1.1: only blanks may follow; "--bx" is text (and is how nested boundaries that
  // extend the outer one stay apart).
  const MultipartBody body = SplitMultipart("--b\r\n--bx\r\ntext\r\n--b--", "b", 10);
  ASSERT_EQ(body.parts.size(), 1u);
  EXPECT_EQ(body.parts[0], "--bx\r\ntext");
}

TEST(Multipart, UnterminatedBodyKeepsTheLastPart) {
  const MultipartBody body = SplitMultipart("--XYZ\r\nlast words\r\n", "XYZ", 10);
  ASSERT_EQ(body.parts.size(), 1u);
  EXPECT_EQ(body.parts[0], "last words\r\n");
  EXPECT_FALSE(body.terminated);
}

TEST(Multipart, BareLfLineEnds) {
  const MultipartBody body = SplitMultipart("--b\none\n--b\ntwo\n--b--\n", "b", 10);
  ASSERT_EQ(body.parts.size(), 2u);
  EXPECT_EQ(body.parts[0], "one");
  EXPECT_EQ(body.parts[1], "two");
}

TEST(Multipart, MissingBoundaryIsReported) {
  const MultipartBody body = SplitMultipart("no delimiters here", "b", 10);
  EXPECT_FALSE(body.found_start);
  EXPECT_TRUE(body.parts.empty());
  EXPECT_FALSE(SplitMultipart("--\r\n", "", 10).found_start);
}

TEST(Multipart, EmptyPartsBetweenAdjacentDelimiters) {
  const MultipartBody body = SplitMultipart("--b\r\n--b\r\nx\r\n--b--", "b", 10);
  ASSERT_EQ(body.parts.size(), 2u);
  EXPECT_EQ(body.parts[0], "");
  EXPECT_EQ(body.parts[1], "x");
}

TEST(Multipart, PartCountIsCapped) {
  std::string raw;
  for (int i = 0; i < 1000; ++i) raw += "--b\r\nx\r\n";
  const MultipartBody body = SplitMultipart(raw, "b", 50);
  EXPECT_EQ(body.parts.size(), 50u);
  EXPECT_TRUE(body.parts_capped);
}

TEST(Multipart, OverlongBoundaryIsRefused) {
  const std::string boundary(kMaxBoundaryLength + 1, 'a');
  EXPECT_FALSE(SplitMultipart("--" + boundary + "\r\nx", boundary, 10).found_start);
}

}  // namespace
}  // namespace postdesk
