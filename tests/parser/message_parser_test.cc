#include "parser/message_parser.h"

#include <gtest/gtest.h>

#include <string>

#include "parser/utf8.h"

namespace postdesk {
namespace {

// Messages are written with LF here and converted, so each test reads like the wire format.
std::string Crlf(std::string_view lf) {
  std::string out;
  for (char c : lf) {
    if (c == '\n') out.push_back('\r');
    out.push_back(c);
  }
  return out;
}

bool HasWarningContaining(const ParsedMessage& m, std::string_view text) {
  for (const auto& w : m.warnings) {
    if (w.find(text) != std::string::npos) return true;
  }
  return false;
}

TEST(Mime, PlainMessageGivesSubjectSenderAndText) {
  const ParsedMessage m = ParseMessage(
      Crlf("From: Ann Example <ann@customer.test>\nSubject: Printer\n on fire\n\nHello,\nfire.\n"));
  EXPECT_EQ(m.subject, "Printer on fire");
  EXPECT_EQ(m.from_email, "ann@customer.test");
  EXPECT_EQ(m.from_name, "Ann Example");
  EXPECT_EQ(m.description, "Hello,\nfire.");
  EXPECT_FALSE(m.truncated);
  EXPECT_TRUE(m.attachments.empty());
  EXPECT_TRUE(m.warnings.empty());
}

// Storage keeps only the raw message when the description is the body as it stands: the span
// must name those bytes, and DescriptionFromSpan must give the description back.
TEST(Mime, PlainBodyAsItStandsIsASpanOfTheRawMessage) {
  const std::string raw = Crlf("Subject: x\n\n\n  \nHello,\nfire.  \n\n");
  const ParsedMessage m = ParseMessage(raw);
  ASSERT_TRUE(m.description_span.has_value());
  EXPECT_EQ(raw.substr(m.description_span->offset, m.description_span->length),
            Crlf("\n  \nHello,\nfire.  \n\n"));
  EXPECT_EQ(m.description, "Hello,\nfire.");
  EXPECT_EQ(DescriptionFromSpan(raw, *m.description_span), m.description);
}

TEST(Mime, PlainPartInsideMultipartIsASpanOfTheRawMessage) {
  const std::string raw = Crlf(
      "Content-Type: multipart/alternative; boundary=b\n\n--b\nContent-Type: text/plain; "
      "charset=utf-8\n\nCaf\xc3\xa9 is open.\n--b\nContent-Type: text/html\n\n<p>Caf&eacute;</p>\n"
      "--b--\n");
  const ParsedMessage m = ParseMessage(raw);
  EXPECT_EQ(m.description, "Caf\xc3\xa9 is open.");
  ASSERT_TRUE(m.description_span.has_value());
  EXPECT_EQ(DescriptionFromSpan(raw, *m.description_span), m.description);
}

// Text that decoding, charset conversion or HTML rendering changed is not in the raw bytes: it
// is stored on its own, so there is no span.
TEST(Mime, DecodedConvertedOrRenderedTextHasNoSpan) {
  for (const char* raw : {
           "Content-Transfer-Encoding: quoted-printable\n\nCaf=C3=A9\n",
           "Content-Transfer-Encoding: base64\n\nSGVsbG8=\n",
           "Content-Type: text/plain; charset=iso-8859-1\n\nCaf\xe9\n",
           "Content-Type: text/plain; charset=utf-8\n\nbad \xff byte\n",
           "Content-Type: text/html\n\n<p>Hello</p>\n",
           "Subject: empty body\n\n",
       }) {
    const ParsedMessage m = ParseMessage(Crlf(raw));
    EXPECT_FALSE(m.description_span.has_value()) << raw;
  }
}

// A description cut at kMaxDescriptionCodePoints is not the whole body either.
TEST(Mime, TruncatedDescriptionHasNoSpan) {
  const ParsedMessage m =
      ParseMessage("Subject: long\r\n\r\n" + std::string(kMaxDescriptionCodePoints + 10, 'x'));
  EXPECT_TRUE(m.truncated);
  EXPECT_FALSE(m.description_span.has_value());
}

// A span that does not fit the bytes given (a stored message that is not the parsed one) reads
// as no text rather than out of bounds.
TEST(Mime, SpanOutsideTheBytesGivesNoText) {
  EXPECT_EQ(DescriptionFromSpan("short", TextSpan{3, 10}), "");
  EXPECT_EQ(DescriptionFromSpan("short", TextSpan{9, 1}), "");
  EXPECT_EQ(DescriptionFromSpan("a\r\nb", TextSpan{0, 4}), "a\nb");
}

TEST(Mime, AlternativeInsideMixedPrefersPlainAndListsOnlyRealAttachments) {
  const ParsedMessage m = ParseMessage(Crlf(R"(From: a@x.test
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/html

<p>HTML body</p>
--inner
Content-Type: text/plain; charset=utf-8

Plain body
--inner--
--outer
Content-Type: application/octet-stream; name="data.bin"
Content-Transfer-Encoding: base64

AAECAwQ=
--outer--
)"));
  EXPECT_EQ(m.description, "Plain body");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].filename, "data.bin");
  EXPECT_EQ(m.attachments[0].content_type, "application/octet-stream");
  EXPECT_EQ(m.attachments[0].size, 5u);
}

TEST(Mime, HtmlOnlyAlternativeIsConvertedToText) {
  const ParsedMessage m = ParseMessage(Crlf(R"(Content-Type: multipart/alternative; boundary=b

--b
Content-Type: text/html; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

<p>Caf=E9 &amp; cr=E8me</p><script>x()</script>
--b--
)"));
  EXPECT_EQ(m.description, "Café & crème");
  EXPECT_TRUE(m.attachments.empty());
}

TEST(Mime, RelatedUsesItsStartPartAndInlineImagesAreAttachmentsWithContentId) {
  const ParsedMessage m =
      ParseMessage(Crlf(R"(Content-Type: multipart/related; boundary=r; start="<body@x>"

--r
Content-Type: image/png
Content-ID: <img1@x>
Content-Transfer-Encoding: base64

iVBORw0KGgo=
--r
Content-Type: text/html
Content-ID: <body@x>

<p>See <img src="cid:img1@x"></p>
--r--
)"));
  EXPECT_EQ(m.description, "See");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].content_type, "image/png");
  EXPECT_EQ(m.attachments[0].content_id, "img1@x");
  EXPECT_EQ(m.attachments[0].size, 8u);
}

TEST(Mime, TextPartMarkedAsAttachmentIsNotTheDescription) {
  const ParsedMessage m = ParseMessage(Crlf(R"(Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain
Content-Disposition: attachment; filename=log.txt

log line
--b
Content-Type: text/plain

the real text
--b--
)"));
  EXPECT_EQ(m.description, "the real text");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].filename, "log.txt");
  EXPECT_EQ(m.attachments[0].size, 8u);
}

TEST(Mime, ForwardedMessageIsOneAttachmentAndItsTextStaysOut) {
  const ParsedMessage m = ParseMessage(Crlf(R"(Content-Type: multipart/mixed; boundary=b

--b

Forwarding.
--b
Content-Type: message/rfc822

Subject: inner
Content-Type: text/plain

inner text
--b--
)"));
  EXPECT_EQ(m.description, "Forwarding.");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].content_type, "message/rfc822");
  EXPECT_EQ(m.attachments[0].size,
            std::string(Crlf("Subject: inner\nContent-Type: text/plain\n\ninner text")).size());
}

TEST(Mime, DigestPartsDefaultToMessageRfc822) {
  const ParsedMessage m = ParseMessage(Crlf(R"(Content-Type: multipart/mixed; boundary=o

--o

Intro
--o
Content-Type: multipart/digest; boundary=d

--d

Subject: one

1
--d--
--o--
)"));
  EXPECT_EQ(m.description, "Intro");
  ASSERT_EQ(m.attachments.size(), 1u);
  EXPECT_EQ(m.attachments[0].content_type, "message/rfc822");
}

TEST(Mime, UnterminatedBoundaryKeepsText) {
  const ParsedMessage m = ParseMessage(Crlf(
      "Content-Type: multipart/mixed; boundary=XYZ\n\npreamble\n--XYZ\n\nThe end never comes.\n"));
  EXPECT_EQ(m.description, "The end never comes.");
  EXPECT_TRUE(HasWarningContaining(m, "closing boundary"));
}

TEST(Mime, MultipartWithoutItsBoundaryIsReadAsText) {
  const ParsedMessage m =
      ParseMessage(Crlf("Content-Type: multipart/mixed; boundary=nope\n\nJust text, no parts.\n"));
  EXPECT_EQ(m.description, "Just text, no parts.");
  EXPECT_TRUE(HasWarningContaining(m, "boundary"));
}

TEST(Mime, MissingBlankLineAfterHeadersStillFindsTheBody) {
  const ParsedMessage m = ParseMessage(Crlf("Subject: s\nthis line is no header\nmore\n"));
  EXPECT_EQ(m.subject, "s");
  EXPECT_EQ(m.description, "this line is no header\nmore");
}

TEST(Mime, EmptyInputGivesAnEmptyMessage) {
  const ParsedMessage m = ParseMessage("");
  EXPECT_EQ(m.subject, "");
  EXPECT_EQ(m.description, "");
  EXPECT_TRUE(m.attachments.empty());
}

TEST(Mime, NestingBeyondTheDepthLimitIsIgnoredWithAWarning) {
  std::string raw = "Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n";
  const int depth = 40;
  for (int i = 1; i <= depth; ++i) {
    raw += "--b" + std::to_string(i - 1) + "\r\nContent-Type: multipart/mixed; boundary=b" +
           std::to_string(i) + "\r\n\r\n";
  }
  raw += "--b" + std::to_string(depth) + "\r\n\r\ndeep text\r\n";
  ParseLimits limits;
  limits.max_depth = 8;
  const ParsedMessage m = ParseMessage(raw, limits);
  EXPECT_EQ(m.subject, "deep");
  EXPECT_EQ(m.description, "");
  EXPECT_TRUE(HasWarningContaining(m, "depth"));
  // Within the limit the same text is found.
  limits.max_depth = 64;
  EXPECT_EQ(ParseMessage(raw, limits).description, "deep text");
}

TEST(Mime, PartCountLimitDropsLaterParts) {
  std::string raw = "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nbody\r\n";
  for (int i = 0; i < 100; ++i) {
    raw += "--b\r\nContent-Type: image/gif\r\n\r\nGIF89a\r\n";
  }
  raw += "--b--\r\n";
  ParseLimits limits;
  limits.max_parts = 10;
  const ParsedMessage m = ParseMessage(raw, limits);
  EXPECT_EQ(m.description, "body");
  EXPECT_EQ(m.attachments.size(), 8u);  // 10 parts: the root, the body, 8 images
  EXPECT_TRUE(HasWarningContaining(m, "part count"));
}

TEST(Mime, OversizedHeaderBlockIsCutAndTheRestReadAsBody) {
  std::string raw = "Subject: big\r\n";
  for (int i = 0; i < 200; ++i) raw += "X-Filler: " + std::string(100, 'x') + "\r\n";
  raw += "\r\nbody\r\n";
  ParseLimits limits;
  limits.max_header_bytes = 4096;
  const ParsedMessage m = ParseMessage(raw, limits);
  EXPECT_EQ(m.subject, "big");
  EXPECT_TRUE(HasWarningContaining(m, "header block"));
  EXPECT_TRUE(IsValidUtf8(m.description));
}

TEST(Mime, LongDescriptionIsCutAt65000CodePointsAndFlagged) {
  std::string raw = "Content-Type: text/plain; charset=utf-8\r\n\r\n";
  for (int i = 0; i < 30000; ++i) raw += "\xC3\xA9t\xC3\xA9\r\n";  // 4 code points a line
  const ParsedMessage m = ParseMessage(raw);
  EXPECT_TRUE(m.truncated);
  EXPECT_EQ(CountCodePoints(m.description), kMaxDescriptionCodePoints);
  EXPECT_TRUE(IsValidUtf8(m.description));
}

TEST(Mime, DescriptionOfExactlyTheLimitIsNotFlagged) {
  std::string raw = "\r\n" + std::string(kMaxDescriptionCodePoints, 'a');
  const ParsedMessage m = ParseMessage(raw);
  EXPECT_FALSE(m.truncated);
  EXPECT_EQ(m.description.size(), kMaxDescriptionCodePoints);
}

TEST(Headers, ThreadingAndClassificationHeadersAreRead) {
  const ParsedMessage m = ParseMessage(Crlf(R"(Received: from a by b
Received: from c by d
From: Mail Delivery Subsystem <MAILER-DAEMON@mx.test>
To: Support <support@acme.test>, help@acme.test
Cc: "Boss, The" <boss@acme.test>
Reply-To: replies@x.test
Message-ID: <abc@x.test>
In-Reply-To: <parent@x.test> <other@x.test>
References: <r1@x.test>
  <r2@x.test> junk <r3@x.test>
Auto-Submitted: auto-replied
Precedence: bulk
List-Id: Team <team.lists.test>
List-Unsubscribe: <mailto:u@x.test>
X-Loop: support@acme.test
X-Loop: other
X-Autoreply: yes
X-Autorespond: yes
X-Autoresponder: yes
X-Auto-Response-Suppress: All
X-Failed-Recipients: gone@x.test
Delivered-To: support@acme.test
X-Forwarded-To: fwd@acme.test
X-Original-To: orig@acme.test
Content-Type: multipart/report; report-type="Delivery-Status"; boundary=R

--R

failed
--R--
)"));
  EXPECT_EQ(m.received_count, 2u);
  EXPECT_EQ(m.from_email, "MAILER-DAEMON@mx.test");
  EXPECT_EQ(m.to, (std::vector<std::string>{"support@acme.test", "help@acme.test"}));
  EXPECT_EQ(m.cc, (std::vector<std::string>{"boss@acme.test"}));
  EXPECT_EQ(m.reply_to, (std::vector<std::string>{"replies@x.test"}));
  EXPECT_EQ(m.message_id, "abc@x.test");
  EXPECT_EQ(m.in_reply_to, "parent@x.test");
  EXPECT_EQ(m.references, (std::vector<std::string>{"r1@x.test", "r2@x.test", "r3@x.test"}));
  EXPECT_EQ(m.auto_submitted, "auto-replied");
  EXPECT_EQ(m.precedence, "bulk");
  EXPECT_EQ(m.list_id, "Team <team.lists.test>");
  EXPECT_EQ(m.list_unsubscribe, "<mailto:u@x.test>");
  EXPECT_EQ(m.x_loop, (std::vector<std::string>{"support@acme.test", "other"}));
  EXPECT_EQ(m.x_autoreply, "yes");
  EXPECT_EQ(m.x_autorespond, "yes");
  EXPECT_EQ(m.x_autoresponder, "yes");
  EXPECT_EQ(m.x_auto_response_suppress, "All");
  EXPECT_EQ(m.x_failed_recipients, "gone@x.test");
  EXPECT_EQ(m.delivered_to, (std::vector<std::string>{"support@acme.test"}));
  EXPECT_EQ(m.x_forwarded_to, (std::vector<std::string>{"fwd@acme.test"}));
  EXPECT_EQ(m.x_original_to, (std::vector<std::string>{"orig@acme.test"}));
  EXPECT_EQ(m.content_type, "multipart/report");
  EXPECT_EQ(m.report_type, "delivery-status");
  EXPECT_EQ(m.description, "failed");
}

TEST(Headers, AbsentSignalHeadersStayAbsent) {
  const ParsedMessage m = ParseMessage("Subject: x\r\n\r\nbody");
  EXPECT_FALSE(m.list_id.has_value());
  EXPECT_FALSE(m.x_autoreply.has_value());
  EXPECT_TRUE(m.x_loop.empty());
  EXPECT_EQ(m.received_count, 0u);
}

TEST(Headers, HeadersOfNestedPartsAreNotTheMessagesHeaders) {
  const ParsedMessage m = ParseMessage(Crlf(R"(Subject: outer
Content-Type: multipart/mixed; boundary=b

--b
Subject: inner
Auto-Submitted: auto-replied

text
--b--
)"));
  EXPECT_EQ(m.subject, "outer");
  EXPECT_EQ(m.auto_submitted, "");
}

TEST(Headers, MboxFromLineAtTheStartIsSkipped) {
  const ParsedMessage m =
      ParseMessage("From ann@x.test Mon Jan  1 00:00:00 2026\nSubject: s\nFrom: a@x.test\n\nb\n");
  EXPECT_EQ(m.subject, "s");
  EXPECT_EQ(m.from_email, "a@x.test");
}

}  // namespace
}  // namespace postdesk
