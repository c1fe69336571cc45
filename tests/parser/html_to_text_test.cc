#include "parser/html_to_text.h"

#include <gtest/gtest.h>

#include "parser/utf8.h"

namespace postdesk {
namespace {

std::string Text(std::string_view html) {
  std::string out;
  HtmlToText(html, &out);
  return out;
}

TEST(HtmlToText, ScriptStyleAndTitleContentIsDropped) {
  EXPECT_EQ(Text("<html><head><title>T</title><style>p{color:red}</style>"
                 "<script>alert('<p>x</p>')</script></head><body>Hi</body></html>"),
            "Hi");
}

TEST(HtmlToText, EntitiesAreDecoded) {
  EXPECT_EQ(Text("&euro;42 &amp; rising &lt;b&gt; &#233;&#xE9; &quot;q&quot;"),
            "€42 & rising <b> éé \"q\"");
}

TEST(HtmlToText, NonBreakingSpaceBecomesAPlainSpace) {
  EXPECT_EQ(Text("Hello&nbsp;team"), "Hello team");
}

TEST(HtmlToText, InvalidNumericReferencesFollowHtml5) {
  EXPECT_EQ(Text("&#0;&#x110000;&#xD800;"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(Text("&#150;"), "–");  // windows-1252 0x96
}

TEST(HtmlToText, UnknownOrUnterminatedReferencesStayText) {
  EXPECT_EQ(Text("&bogus; AT&T &amp"), "&bogus; AT&T &");
  EXPECT_EQ(Text("?a=1&copyright=2"), "?a=1&copyright=2");
}

TEST(HtmlToText, BlockElementsBreakLinesAndParagraphsLeaveABlankLine) {
  EXPECT_EQ(Text("<p>one</p><p>two<br>three</p><div>four</div>five"),
            "one\n\ntwo\nthree\n\nfour\nfive");
}

TEST(HtmlToText, ListItemsBecomeDashLines) {
  EXPECT_EQ(Text("<ul><li>first</li><li>second</li></ul>"), "- first\n- second");
}

TEST(HtmlToText, WhiteSpaceCollapsesOutsidePre) {
  EXPECT_EQ(Text("a \n\t b<pre>x  y\nz</pre>"), "a b\n\nx  y\nz");
}

TEST(HtmlToText, CommentsAndDoctypeAreDropped) {
  EXPECT_EQ(Text("<!DOCTYPE html><!-- <p>hidden</p> -->shown<!--unterminated"), "shown");
}

TEST(HtmlToText, AttributesMayHoldAngleBrackets) {
  EXPECT_EQ(Text("<a title=\"a > b\" href='x>y'>link</a>"), "link");
}

TEST(HtmlToText, LoneLessThanIsText) { EXPECT_EQ(Text("1 < 2 and 3 <= 4"), "1 < 2 and 3 <= 4"); }

TEST(HtmlToText, UnterminatedScriptEndsTheText) { EXPECT_EQ(Text("ok<script>var x = 1;"), "ok"); }

TEST(HtmlToText, OutputCapCutsAtACharacterBoundary) {
  std::string html;
  for (int i = 0; i < 10000; ++i) html += "<p>\xC3\xA9t\xC3\xA9</p>";
  std::string out;
  EXPECT_TRUE(HtmlToText(html, &out, 1000));
  EXPECT_LT(out.size(), 1100u);
  EXPECT_TRUE(IsValidUtf8(out));
}

// Found by fuzz/header_fuzzer: the cap was checked between pieces only, so one long run of text
// was appended whole however far past the limit it went (here 10,000 bytes for a cap of 100).
TEST(HtmlToText, LongRunOfTextIsCutAtTheCapToo) {
  std::string out = "kept ";
  EXPECT_TRUE(HtmlToText("<p>" + std::string(10000, 'a'), &out, 100));
  EXPECT_EQ(out, "kept " + std::string(101, 'a'));
  std::string accents;
  for (int i = 0; i < 5000; ++i) accents += "\xC3\xA9";  // é, two bytes each
  out.clear();
  EXPECT_TRUE(HtmlToText(accents, &out, 100));
  EXPECT_EQ(out.size(), 102u);  // one byte past the cap, then the rest of that character
  EXPECT_TRUE(IsValidUtf8(out));
  out.clear();
  EXPECT_FALSE(HtmlToText(std::string(100, 'a'), &out, 100));  // exactly the cap: not cut
  EXPECT_EQ(out.size(), 100u);
  // At the cap, the space before the next run passes it: the run is not appended at all.
  out.clear();
  EXPECT_TRUE(HtmlToText(std::string(100, 'a') + " " + std::string(50, 'b'), &out, 100));
  EXPECT_EQ(out, std::string(100, 'a') + " ");
}

}  // namespace
}  // namespace postdesk
