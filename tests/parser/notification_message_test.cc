#include "parser/notification_message.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "parser/encoded_words.h"
#include "parser/header_block.h"
#include "parser/message_parser.h"
#include "parser/utf8.h"

namespace postdesk {
namespace {

NotificationEmail Example() {
  NotificationEmail email;
  email.from_name = "Acme Support";
  email.from_address = "support@acme.test";
  email.reply_to = "support+id1G7EOR-0Q2J8K@acme.test";
  email.to_name = "Ann Example";
  email.to_address = "ann@customer.test";
  email.subject = "[Acme] Re: Printer on fire";
  email.body = "Hello Ann,\n\nWe are on it.\n";
  email.message_id = "pd.1G7EOR.5F3A9C.0Q2J8K@mx.example";
  email.in_reply_to = "<CAF=abc@mail.customer.test>";
  email.date_unix_seconds = 1767225600;
  email.loop_marker = "postdesk mx.example";
  email.ticket_token = "1G7EOR-0Q2J8K";
  return email;
}

std::vector<std::string> Lines(std::string_view message) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < message.size()) {
    const size_t end = message.find("\r\n", start);
    if (end == std::string_view::npos) {
      lines.emplace_back(message.substr(start));
      break;
    }
    lines.emplace_back(message.substr(start, end - start));
    start = end + 2;
  }
  return lines;
}

std::string_view HeaderPart(std::string_view message) {
  return message.substr(0, message.find("\r\n\r\n") + 2);
}

std::string_view BodyPart(std::string_view message) {
  return message.substr(message.find("\r\n\r\n") + 4);
}

std::vector<HeaderField> Fields(std::string_view message) {
  return ParseHeaderBlock(message, HeaderBlockLimits{}).fields;
}

std::vector<std::string> FieldNames(std::string_view message) {
  std::vector<std::string> names;
  for (const HeaderField& field : Fields(message)) names.emplace_back(field.name);
  return names;
}

// The unfolded value of the only field called `name`; "" when there is none.
std::string FieldValue(std::string_view message, std::string_view name) {
  for (const HeaderField& field : Fields(message)) {
    if (EqualsIgnoreCase(field.name, name)) {
      std::string value;
      for (char c : field.value) {
        if (c != '\r' && c != '\n') value.push_back(c);
      }
      return std::string(TrimBlanks(value));
    }
  }
  return "";
}

// The invariants every built message keeps, whatever the input: CRLF everywhere (no bare CR or
// LF), no line over 998 octets, header lines within 78 characters (76 with encoded words) unless
// one token (an address) fills the line alone, no line of only blanks, and body lines (7bit or
// quoted-printable) of at most 76.
void ExpectWellFormed(std::string_view message) {
  ASSERT_GE(message.size(), 2u);
  EXPECT_EQ(message.substr(message.size() - 2), "\r\n");
  for (size_t i = 0; i < message.size(); ++i) {
    if (message[i] == '\r') {
      ASSERT_TRUE(i + 1 < message.size() && message[i + 1] == '\n') << "bare CR at " << i;
    } else if (message[i] == '\n') {
      ASSERT_TRUE(i > 0 && message[i - 1] == '\r') << "bare LF at " << i;
    }
  }
  bool in_header = true;
  for (const std::string& line : Lines(message)) {
    EXPECT_LE(line.size(), 998u);
    if (line.empty()) {
      in_header = false;
      continue;
    }
    if (in_header) {
      const size_t limit = line.find("=?") == std::string::npos ? 78 : 76;
      const bool one_token = line[0] == ' ' && line.find(' ', 1) == std::string::npos;
      if (!one_token) {
        EXPECT_LE(line.size(), limit) << line;
      }
      EXPECT_NE(line.find_first_not_of(" \t"), std::string::npos) << "a line of only blanks";
    } else {
      EXPECT_LE(line.size(), 76u) << line;
    }
  }
}

// What ParseMessage makes of a text in a header: controls and line breaks are blanks, ends are
// trimmed.
std::string AsHeaderText(std::string_view text) {
  std::string repaired;
  AppendRepairedUtf8(text, &repaired);
  std::string out;
  for (size_t i = 0; i < repaired.size(); ++i) {
    const auto c = static_cast<unsigned char>(repaired[i]);
    if (c == '\r' && i + 1 < repaired.size() && repaired[i + 1] == '\n') continue;
    out.push_back(c < 0x20 || c == 0x7F ? ' ' : repaired[i]);
  }
  return std::string(TrimBlanks(out));
}

ParsedMessage BuildAndParse(const NotificationEmail& email, std::string* raw = nullptr) {
  const std::string message = BuildNotificationMessage(email);
  ExpectWellFormed(message);
  if (raw != nullptr) *raw = message;
  return ParseMessage(message);
}

TEST(NotificationMessage, PlainNotificationParsesBackWhole) {
  std::string raw;
  const ParsedMessage m = BuildAndParse(Example(), &raw);
  EXPECT_TRUE(m.warnings.empty());
  EXPECT_EQ(m.subject, "[Acme] Re: Printer on fire");
  EXPECT_EQ(m.from_name, "Acme Support");
  EXPECT_EQ(m.from_email, "support@acme.test");
  EXPECT_EQ(m.to, std::vector<std::string>{"ann@customer.test"});
  EXPECT_EQ(m.reply_to, std::vector<std::string>{"support+id1G7EOR-0Q2J8K@acme.test"});
  EXPECT_EQ(m.description, "Hello Ann,\n\nWe are on it.\n\n[1G7EOR-0Q2J8K]");
  EXPECT_EQ(m.auto_submitted, "auto-generated");
  EXPECT_EQ(m.x_auto_response_suppress, "All");
  EXPECT_EQ(m.x_loop, std::vector<std::string>{"postdesk mx.example"});
  EXPECT_EQ(m.content_type, "text/plain");
  EXPECT_EQ(FieldValue(raw, "Date"), "Thu, 01 Jan 2026 00:00:00 +0000");
  EXPECT_EQ(FieldValue(raw, "From"), "Acme Support <support@acme.test>");
  EXPECT_EQ(FieldValue(raw, "To"), "Ann Example <ann@customer.test>");
  EXPECT_EQ(FieldValue(raw, "Content-Transfer-Encoding"), "7bit");
}

TEST(NotificationMessage, HeadersComeInOrderAndEachExactlyOnce) {
  NotificationEmail email = Example();
  email.references = {"root@customer.test"};
  const std::string message = BuildNotificationMessage(email);
  EXPECT_EQ(FieldNames(message),
            (std::vector<std::string>{"Date", "From", "Reply-To", "To", "Subject", "Message-ID",
                                      "In-Reply-To", "References", "MIME-Version", "Content-Type",
                                      "Content-Transfer-Encoding", "Auto-Submitted",
                                      "X-Auto-Response-Suppress", "X-Loop"}));
  EXPECT_EQ(FieldValue(message, "MIME-Version"), "1.0");
  EXPECT_EQ(FieldValue(message, "Content-Type"), "text/plain; charset=utf-8");
  EXPECT_EQ(FieldValue(message, "Auto-Submitted"), "auto-generated");
  EXPECT_EQ(FieldValue(message, "X-Auto-Response-Suppress"), "All");
  EXPECT_EQ(FieldValue(message, "X-Loop"), "postdesk mx.example");
  EXPECT_EQ(message.find("Precedence"), std::string::npos);
  EXPECT_EQ(message.find("format=flowed"), std::string::npos);
}

TEST(NotificationMessage, OptionalHeadersAreLeftOutWhenUnset) {
  NotificationEmail email = Example();
  email.reply_to.clear();
  email.in_reply_to.clear();
  email.loop_marker.clear();
  const std::string message = BuildNotificationMessage(email);
  EXPECT_EQ(FieldNames(message),
            (std::vector<std::string>{"Date", "From", "To", "Subject", "Message-ID", "MIME-Version",
                                      "Content-Type", "Content-Transfer-Encoding", "Auto-Submitted",
                                      "X-Auto-Response-Suppress"}));
  email.to_address.clear();
  EXPECT_EQ(FieldValue(BuildNotificationMessage(email), "To"), "undisclosed-recipients:;");
}

TEST(NotificationMessage, MessageIdsAreWrittenInAngleBrackets) {
  NotificationEmail email = Example();
  email.references = {"<root@customer.test>", "pd.1G7EOR.111111.0Q2J8K@mx.example"};
  std::string raw;
  const ParsedMessage m = BuildAndParse(email, &raw);
  EXPECT_EQ(FieldValue(raw, "Message-ID"), "<pd.1G7EOR.5F3A9C.0Q2J8K@mx.example>");
  EXPECT_EQ(FieldValue(raw, "In-Reply-To"), "<CAF=abc@mail.customer.test>");
  EXPECT_EQ(FieldValue(raw, "References"),
            "<root@customer.test> <pd.1G7EOR.111111.0Q2J8K@mx.example> "
            "<CAF=abc@mail.customer.test>");
  EXPECT_EQ(m.message_id, "pd.1G7EOR.5F3A9C.0Q2J8K@mx.example");
  EXPECT_EQ(m.in_reply_to, "CAF=abc@mail.customer.test");
  EXPECT_EQ(m.references,
            (std::vector<std::string>{"root@customer.test", "pd.1G7EOR.111111.0Q2J8K@mx.example",
                                      "CAF=abc@mail.customer.test"}));
}

TEST(NotificationMessage, InReplyToAlreadyInReferencesIsNotRepeated) {
  NotificationEmail email = Example();
  email.references = {"root@customer.test", "CAF=abc@mail.customer.test"};
  const ParsedMessage m = BuildAndParse(email);
  EXPECT_EQ(m.references,
            (std::vector<std::string>{"root@customer.test", "CAF=abc@mail.customer.test"}));
}

TEST(NotificationMessage, ReferencesOfALongThreadKeepTheRootAndTheLatest) {
  NotificationEmail email = Example();
  for (int i = 0; i < 200; ++i) {
    email.references.push_back("message-" + std::to_string(i) + "@thread.test");
  }
  std::string raw;
  const ParsedMessage m = BuildAndParse(email, &raw);
  ASSERT_EQ(m.references.size(), kMaxReferences);
  EXPECT_EQ(m.references.front(), "message-0@thread.test");
  EXPECT_EQ(m.references[1],
            "message-" + std::to_string(200 - kMaxReferences + 2) + "@thread.test");
  EXPECT_EQ(m.references[kMaxReferences - 2], "message-199@thread.test");
  EXPECT_EQ(m.references.back(), "CAF=abc@mail.customer.test");
  // Folded between ids, one field.
  EXPECT_NE(raw.find(">\r\n <message-"), std::string::npos);
}

TEST(NotificationMessage, MessageIdsTooLongForALineAreDropped) {
  NotificationEmail email = Example();
  email.in_reply_to = std::string(2000, 'x') + "@huge.test";
  email.references = {std::string(5000, 'y') + "@huge.test", "ok@thread.test"};
  std::string raw;
  const ParsedMessage m = BuildAndParse(email, &raw);
  EXPECT_EQ(FieldValue(raw, "In-Reply-To"), "");
  EXPECT_EQ(m.references, std::vector<std::string>{"ok@thread.test"});
}

TEST(NotificationMessage, NonAsciiSubjectsRoundTrip) {
  const std::vector<std::string> subjects = {
      "Re: Café crème à Besançon",
      "Grüße aus Köln – Ihr Drucker brennt",
      "🔥 Printer on fire 🔥🚒",
      "打印机着火了，请尽快处理",
      "プリンターが燃えています",
      "Привет, мир",
      "mixed ASCII and 日本語 and émoji 👩‍👩‍👧 family",
      "[Acme] =?not-an-encoded-word?= and ?= and =? and _under_score_",
      "tabs\tand  double  spaces   inside",
      "é  é",  // blanks between two encoded words must survive
      "a \xC3\xA9 b",
  };
  for (const std::string& subject : subjects) {
    NotificationEmail email = Example();
    email.subject = subject;
    const ParsedMessage m = BuildAndParse(email);
    EXPECT_EQ(m.subject, AsHeaderText(subject)) << subject;
  }
}

TEST(NotificationMessage, AsciiSubjectStaysReadableAndOnlyNonAsciiWordsAreEncoded) {
  NotificationEmail email = Example();
  email.subject = "Re: Your request about the café machine";
  const std::string subject = FieldValue(BuildNotificationMessage(email), "Subject");
  EXPECT_TRUE(subject.starts_with("Re: Your request about the =?utf-8?")) << subject;
  EXPECT_TRUE(subject.ends_with("?= machine")) << subject;
  EXPECT_EQ(EncodeHeaderText("Printer on fire"), "Printer on fire");
}

TEST(NotificationMessage, LongSubjectsAreFoldedAndRoundTrip) {
  std::string long_words;
  for (int i = 0; i < 60; ++i) long_words += "word" + std::to_string(i) + " ";
  std::string cjk;
  for (int i = 0; i < 700; ++i) cjk += "漢字かな";  // ~8 KiB
  std::string mixed;
  while (mixed.size() < 8000) mixed += "Ünïcödé text with 🚀 and plain ASCII words, ";
  const std::vector<std::string> subjects = {
      long_words,
      cjk,
      mixed,
      std::string(300, 'a'),                                        // one word longer than a line
      "Re: https://example.test/" + std::string(120, 'p') + " ok",  // a long URL
      "a" + std::string(3000, ' ') + "b",                           // blanks cannot be folded
  };
  for (const std::string& subject : subjects) {
    NotificationEmail email = Example();
    email.subject = subject;
    std::string raw;
    const ParsedMessage m = BuildAndParse(email, &raw);
    EXPECT_EQ(m.subject, AsHeaderText(subject)) << subject;
    // Folded: the Subject field spans several lines.
    const size_t start = raw.find("\r\nSubject: ");
    const size_t end = raw.find("\r\nMessage-ID: ");
    ASSERT_NE(start, std::string::npos);
    EXPECT_NE(raw.substr(start + 2, end - start - 2).find("\r\n "), std::string::npos);
  }
}

TEST(NotificationMessage, EncodedWordsAreShortAndHoldWholeCharacters) {
  std::string subject;
  for (int i = 0; i < 100; ++i) subject += "é😀中";
  const std::string value = EncodeHeaderText(subject);
  size_t at = 0;
  size_t words = 0;
  while ((at = value.find("=?", at)) != std::string::npos) {
    const size_t close = value.find("?=", at + 10);
    ASSERT_NE(close, std::string::npos);
    const std::string word = value.substr(at, close + 2 - at);
    EXPECT_LE(word.size(), 75u);
    // Each word alone decodes to whole characters (a split one would decode to U+FFFD).
    EXPECT_EQ(DecodeHeaderText(word).find(kReplacementCharacter), std::string::npos) << word;
    ++words;
    at = close + 2;
  }
  EXPECT_GT(words, 10u);
}

TEST(NotificationMessage, DisplayNamesWithSpecialsAndNonAsciiRoundTrip) {
  const std::vector<std::string> names = {
      "Acme Support",
      "Acme, Inc. \"Support\"",
      "O'Brien (Support)",
      "back\\slash <and> angle; colon: at@sign",
      "Ünïcödé Support Team",
      "サポートチーム",
      "Support 🎧 \"Team\", Inc.",
      "=?utf-8?q?looks_encoded?=",
      "A very long brand name that goes on and on, far past the seventy-eight columns of a line",
  };
  for (const std::string& name : names) {
    NotificationEmail email = Example();
    email.from_name = name;
    email.to_name = name;
    std::string raw;
    const ParsedMessage m = BuildAndParse(email, &raw);
    EXPECT_EQ(m.from_name, name) << FieldValue(raw, "From");
    EXPECT_EQ(m.from_email, "support@acme.test") << FieldValue(raw, "From");
    EXPECT_EQ(m.to, std::vector<std::string>{"ann@customer.test"}) << FieldValue(raw, "To");
    EXPECT_EQ(m.reply_to, std::vector<std::string>{"support+id1G7EOR-0Q2J8K@acme.test"});
  }
}

TEST(NotificationMessage, LongDisplayNamesEndEncodedWordsAfterBlanks) {
  // Python's email package keeps a blank between two encoded words of a display name (RFC 2047
  // 6.2 drops it); breaking after a blank of the name keeps its words whole even there.
  const std::string name = "Ünïcödé Support Team of the Very Long Brand Name Limited, Worldwide";
  const std::string mailbox = FormatMailbox(name, "support@acme.test");
  std::vector<std::string> words;
  for (size_t at = 0; (at = mailbox.find("=?", at)) != std::string::npos;) {
    const size_t close = mailbox.find("?=", at + 10);
    words.push_back(DecodeHeaderText(mailbox.substr(at, close + 2 - at) + "x"));
    at = close + 2;
  }
  ASSERT_GE(words.size(), 2u) << mailbox;
  std::string joined;
  for (size_t i = 0; i < words.size(); ++i) {
    if (i + 1 < words.size()) {
      EXPECT_TRUE(words[i].ends_with(" x")) << words[i];
    }
    joined += words[i].substr(0, words[i].size() - 1);
  }
  EXPECT_EQ(joined, name);
}

TEST(NotificationMessage, DisplayNameFormsFollowRfc5322) {
  EXPECT_EQ(FormatMailbox("Acme Support", "support@acme.test"), "Acme Support <support@acme.test>");
  EXPECT_EQ(FormatMailbox("Acme, Inc.", "support@acme.test"), "\"Acme, Inc.\" <support@acme.test>");
  EXPECT_EQ(FormatMailbox("Say \"hi\"", "a@b.test"), "\"Say \\\"hi\\\"\" <a@b.test>");
  EXPECT_EQ(FormatMailbox("", "ann@customer.test"), "ann@customer.test");
  EXPECT_EQ(
      FormatMailbox("A long name, longer than what fits on the line of a From field", "a@b.test"),
      "\"A long name, longer than what fits on the line of a From field\"\r\n <a@b.test>");
  EXPECT_EQ(
      FormatMailbox("A much longer name, too long for the line of a From field, folded within",
                    "a@b.test"),
      "\"A much longer name, too long for the line of a From field, folded\r\n within\" "
      "<a@b.test>");
  // RFC 2047 5(3): an encoded word in a phrase shows only letters, digits and !*+-/ as themselves.
  const std::string encoded = FormatMailbox("Café (Support)", "a@b.test");
  ASSERT_TRUE(encoded.starts_with("=?utf-8?")) << encoded;
  const std::string word = encoded.substr(0, encoded.find("?= ") + 2);
  for (char c : word.substr(10, word.size() - 12)) {
    EXPECT_TRUE(std::isalnum(static_cast<unsigned char>(c)) ||
                std::string_view("!*+-/=_").find(c) != std::string_view::npos)
        << word;
  }
}

TEST(NotificationMessage, BodyRoundTripsThroughQuotedPrintable) {
  const std::string long_line = "This line is much longer than seventy-six characters, " +
                                std::string(200, 'x') + " and it ends here.";
  std::string long_cjk;
  for (int i = 0; i < 80; ++i) long_cjk += "长";
  NotificationEmail email = Example();
  email.body = "Bonjour Anne, ça marche ✔\r\n" + long_line + "\r\n" + long_cjk +
               "\r\n.\r\n.leading dot\r\nFrom the team\r\nFrom \r\ntrailing spaces   \r\n"
               "trailing tab\t\r\n=\r\na = b ==> c =3D d =\r\nx=\r\n\tindented\r\n"
               "soft=\nLF only line\n\nlast";
  std::string raw;
  const ParsedMessage m = BuildAndParse(email, &raw);
  EXPECT_EQ(FieldValue(raw, "Content-Transfer-Encoding"), "quoted-printable");
  std::string expected = "Bonjour Anne, ça marche ✔\n" + long_line + "\n" + long_cjk +
                         "\n.\n.leading dot\nFrom the team\nFrom \ntrailing spaces   \n"
                         "trailing tab\t\n=\na = b ==> c =3D d =\nx=\n\tindented\n"
                         "soft=\nLF only line\n\nlast\n\n[1G7EOR-0Q2J8K]";
  EXPECT_EQ(m.description, expected);
  const std::string_view body = BodyPart(raw);
  EXPECT_NE(body.find("\r\n=46rom the team\r\n"), std::string_view::npos);
  EXPECT_NE(body.find("\r\ntrailing spaces  =20\r\n"), std::string_view::npos);
  EXPECT_NE(body.find("\r\n=3D\r\n"), std::string_view::npos);
  EXPECT_TRUE(body.ends_with("[1G7EOR-0Q2J8K]\r\n"));
}

TEST(NotificationMessage, ShortAsciiBodyIsSentAs7bit) {
  NotificationEmail email = Example();
  email.body = "Line one\r\n. a dot\r\n\r\nLine = three";
  const std::string message = BuildNotificationMessage(email);
  EXPECT_EQ(FieldValue(message, "Content-Transfer-Encoding"), "7bit");
  EXPECT_EQ(BodyPart(message),
            "Line one\r\n. a dot\r\n\r\nLine = three\r\n\r\n[1G7EOR-0Q2J8K]\r\n");
}

TEST(NotificationMessage, AsciiBodyThatTransportWouldAlterIsQuotedPrintable) {
  for (const std::string& body : {std::string(77, 'a'), std::string("trailing blank \nnext"),
                                  std::string("From me\nhi"), std::string("control \x01 byte")}) {
    NotificationEmail email = Example();
    email.body = body;
    std::string raw;
    const ParsedMessage m = BuildAndParse(email, &raw);
    EXPECT_EQ(FieldValue(raw, "Content-Transfer-Encoding"), "quoted-printable") << body;
    EXPECT_EQ(m.description, body + "\n\n[1G7EOR-0Q2J8K]");
  }
}

TEST(NotificationMessage, TokenIsAppendedOnlyWhenMissing) {
  NotificationEmail email = Example();
  email.body = "Reply above this line.\n[1G7EOR-0Q2J8K]\nThanks";
  EXPECT_EQ(BuildAndParse(email).description, "Reply above this line.\n[1G7EOR-0Q2J8K]\nThanks");

  email.body = "No token here.\n\n\n";
  EXPECT_EQ(BuildAndParse(email).description, "No token here.\n\n[1G7EOR-0Q2J8K]");

  email.body = "";
  EXPECT_EQ(BuildAndParse(email).description, "[1G7EOR-0Q2J8K]");

  email.body = "Only the bare token 1G7EOR-0Q2J8K, without brackets.";
  EXPECT_EQ(BuildAndParse(email).description,
            "Only the bare token 1G7EOR-0Q2J8K, without brackets.\n\n[1G7EOR-0Q2J8K]");

  email.ticket_token.clear();
  email.body = "No token at all.";
  EXPECT_EQ(BuildAndParse(email).description, "No token at all.");
}

TEST(NotificationMessage, HeaderInjectionThroughAnyFieldIsImpossible) {
  const std::string evil = "x\r\nBcc: victim@evil.test\r\n\r\nInjected body";
  NotificationEmail email = Example();
  email.subject = "Hello" + evil;
  email.from_name = "Acme" + evil;
  email.to_name = "Ann" + evil;
  email.from_address = "support@acme.test" + evil;
  email.reply_to = "reply@acme.test\nBcc: victim@evil.test";
  email.to_address = "ann@customer.test\rBcc: victim@evil.test";
  email.message_id = "id@x" + evil;
  email.in_reply_to = "parent@x" + evil;
  email.references = {"ref@x" + evil};
  email.loop_marker = "postdesk" + evil;
  std::string raw;
  const ParsedMessage m = BuildAndParse(email, &raw);
  for (const std::string& name : FieldNames(raw)) EXPECT_NE(name, "Bcc");
  for (const std::string& line : Lines(HeaderPart(raw))) {
    EXPECT_FALSE(line.starts_with("Bcc")) << line;
  }
  EXPECT_EQ(FieldNames(raw).size(), 14u);
  EXPECT_EQ(m.subject, "Hellox Bcc: victim@evil.test  Injected body");
  EXPECT_EQ(m.from_name, "Acmex Bcc: victim@evil.test  Injected body");
  EXPECT_EQ(m.description, "Hello Ann,\n\nWe are on it.\n\n[1G7EOR-0Q2J8K]");
  // Addresses and Message-IDs lose the line breaks and blanks: still one token each.
  EXPECT_EQ(m.message_id, "id@xxBcc:victim@evil.testInjectedbody");
  EXPECT_EQ(m.reply_to, std::vector<std::string>{"reply@acme.testBcc:victim@evil.test"});
}

TEST(NotificationMessage, InvalidUtf8BecomesReplacementCharacters) {
  NotificationEmail email = Example();
  email.subject = "bad \xFF byte and cut \xE6\x97";
  email.from_name = "Caf\xE9";
  email.body = "Latin-1 caf\xE9 \xC0\x80 overlong";
  const ParsedMessage m = BuildAndParse(email);
  EXPECT_EQ(m.subject, "bad \uFFFD byte and cut \uFFFD");
  EXPECT_EQ(m.from_name, "Caf\uFFFD");
  EXPECT_EQ(m.description, "Latin-1 caf\uFFFD \uFFFD\uFFFD overlong\n\n[1G7EOR-0Q2J8K]");
}

TEST(NotificationMessage, DateIsRfc5322InUtc) {
  struct Case {
    int64_t seconds;
    const char* date;
  };
  for (const Case& c : {Case{0, "Thu, 01 Jan 1970 00:00:00 +0000"},
                        Case{951782400, "Tue, 29 Feb 2000 00:00:00 +0000"},
                        Case{1767268799, "Thu, 01 Jan 2026 11:59:59 +0000"},
                        Case{-5, "Thu, 01 Jan 1970 00:00:00 +0000"},
                        Case{INT64_MAX, "Fri, 31 Dec 9999 23:59:59 +0000"}}) {
    NotificationEmail email = Example();
    email.date_unix_seconds = c.seconds;
    EXPECT_EQ(FieldValue(BuildNotificationMessage(email), "Date"), c.date) << c.seconds;
  }
}

TEST(NotificationMessage, NonAsciiAddressesAndLongAddressesStayOneToken) {
  NotificationEmail email = Example();
  email.to_address = "аня@пример.test";
  email.to_name = "Аня";
  std::string raw;
  ParsedMessage m = BuildAndParse(email, &raw);
  EXPECT_EQ(m.to, std::vector<std::string>{"аня@пример.test"});
  email.to_address = std::string(3000, 'a') + "@long.test";
  m = BuildAndParse(email, &raw);
  ASSERT_EQ(m.to.size(), 1u);
  EXPECT_EQ(m.to[0].size(), kMaxHeaderTokenLength);
}

// Random mixes of the pieces that break naive encoders, in every field at once: every message
// is well formed and reads back as written.
TEST(NotificationMessage, RandomTextInEveryFieldRoundTrips) {
  const std::vector<std::string> pieces = {"a",
                                           "word",
                                           " ",
                                           "  ",
                                           "\t",
                                           "\r\n",
                                           "\n",
                                           "\r",
                                           "=",
                                           "?",
                                           "_",
                                           "=?",
                                           "?=",
                                           "\"",
                                           "\\",
                                           ",",
                                           ";",
                                           ":",
                                           "<",
                                           ">",
                                           "(",
                                           ")",
                                           "@",
                                           ".",
                                           "From ",
                                           "é",
                                           "ß",
                                           "€",
                                           "中文",
                                           "😀",
                                           "👩‍👩‍👧",
                                           "\xFF",
                                           "\xC3",
                                           "\x01",
                                           "\x7F",
                                           std::string(90, 'L'),
                                           "=3D",
                                           "=\r\n"};
  std::mt19937 random(20260101);
  auto text = [&](size_t max_pieces) {
    std::string out;
    const size_t count = random() % (max_pieces + 1);
    for (size_t i = 0; i < count; ++i) out += pieces[random() % pieces.size()];
    return out;
  };
  for (int round = 0; round < 400; ++round) {
    NotificationEmail email = Example();
    email.subject = text(60);
    email.from_name = text(12);
    email.to_name = text(12);
    email.body = text(200);
    std::string raw;
    const ParsedMessage m = BuildAndParse(email, &raw);
    ASSERT_EQ(m.subject, AsHeaderText(email.subject)) << raw;
    ASSERT_EQ(m.from_name, AsHeaderText(email.from_name)) << raw;
    ASSERT_EQ(m.from_email, "support@acme.test") << raw;
    ASSERT_EQ(m.to, std::vector<std::string>{"ann@customer.test"}) << raw;
    ASSERT_EQ(FieldNames(raw).size(), 14u) << raw;
    // The body: repaired, line ends as LF, token appended when missing, and what ParseMessage
    // trims (blank lines at the start, blanks at the end).
    std::string body;
    AppendRepairedUtf8(email.body, &body);
    std::string lf;
    for (size_t i = 0; i < body.size(); ++i) {
      if (body[i] == '\r') {
        lf.push_back('\n');
        if (i + 1 < body.size() && body[i + 1] == '\n') ++i;
      } else {
        lf.push_back(body[i]);
      }
    }
    if (lf.find("[1G7EOR-0Q2J8K]") == std::string::npos) {
      lf.resize(lf.find_last_not_of('\n') == std::string::npos ? 0 : lf.find_last_not_of('\n') + 1);
      lf += lf.empty() ? "[1G7EOR-0Q2J8K]" : "\n\n[1G7EOR-0Q2J8K]";
    }
    lf.resize(lf.find_last_not_of(" \t\n") + 1);
    size_t begin = 0;
    for (size_t k = 0; k < lf.size() && (lf[k] == ' ' || lf[k] == '\t' || lf[k] == '\n'); ++k) {
      if (lf[k] == '\n') begin = k + 1;
    }
    ASSERT_EQ(m.description, lf.substr(begin)) << raw;
  }
}

}  // namespace
}  // namespace postdesk
