#include "parser/smtp_command.h"

#include <gtest/gtest.h>

#include "parser/email_address.h"

namespace postdesk {
namespace {

TEST(SmtpCommand, VerbsAreCaseInsensitive) {
  EXPECT_EQ(ParseSmtpCommand("ehlo client.test").verb, SmtpVerb::kEhlo);
  EXPECT_EQ(ParseSmtpCommand("MaIl FROM:<a@b.test>").verb, SmtpVerb::kMail);
  EXPECT_EQ(ParseSmtpCommand("STARTTLS").verb, SmtpVerb::kStarttls);
  EXPECT_EQ(ParseSmtpCommand("quit").verb, SmtpVerb::kQuit);
}

TEST(SmtpCommand, ArgumentIsTheTextAfterTheFirstSpace) {
  SmtpCommand c = ParseSmtpCommand("EHLO mx.example.test");
  EXPECT_EQ(c.argument, "mx.example.test");
  EXPECT_EQ(ParseSmtpCommand("DATA").argument, "");
}

TEST(SmtpCommand, UnknownAndPrefixedVerbsAreUnknown) {
  EXPECT_EQ(ParseSmtpCommand("HELOX foo").verb, SmtpVerb::kUnknown);
  EXPECT_EQ(ParseSmtpCommand("").verb, SmtpVerb::kUnknown);
  EXPECT_EQ(ParseSmtpCommand("GET / HTTP/1.1").verb, SmtpVerb::kUnknown);
}

TEST(MailPath, PlainAddress) {
  Result<MailPath> p = ParseMailPath("FROM:<ann@customer.test>", "FROM:", true);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->address, "ann@customer.test");
  EXPECT_TRUE(p->parameters().empty());
}

TEST(MailPath, SpaceAfterColonIsAccepted) {
  Result<MailPath> p = ParseMailPath("to: <support@acme.test>", "TO:", false);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->address, "support@acme.test");
}

TEST(MailPath, NullPathOnlyWhereAllowed) {
  Result<MailPath> from = ParseMailPath("FROM:<>", "FROM:", true);
  ASSERT_TRUE(from.ok());
  EXPECT_EQ(from->address, "");
  EXPECT_FALSE(ParseMailPath("TO:<>", "TO:", false).ok());
}

TEST(MailPath, ParametersAreUpperCasedKeywordsWithValues) {
  Result<MailPath> p =
      ParseMailPath("FROM:<a@b.test> size=1234 BODY=8BITMIME SMTPUTF8", "FROM:", true);
  ASSERT_TRUE(p.ok()) << p.status().message();
  ASSERT_EQ(p->parameters().size(), 3u);
  EXPECT_EQ(p->parameters()[0].keyword, "SIZE");
  EXPECT_EQ(p->parameters()[0].value, "1234");
  EXPECT_EQ(p->parameters()[1].keyword, "BODY");
  EXPECT_EQ(p->parameters()[2].keyword, "SMTPUTF8");
  EXPECT_EQ(p->parameters()[2].value, "");
}

TEST(MailPath, SourceRouteIsDropped) {
  // RFC 5321 C.1: "@relay1,@relay2:user@host" is accepted and the route ignored.
  Result<MailPath> p = ParseMailPath("TO:<@relay.test,@other.test:help@acme.test>", "TO:", false);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->address, "help@acme.test");
}

TEST(MailPath, QuotedLocalPartMayHoldAngleBracket) {
  Result<MailPath> p = ParseMailPath("FROM:<\"odd>name\"@x.test>", "FROM:", true);
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->address, "\"odd>name\"@x.test");
}

TEST(MailPath, Utf8AddressIsValid) {
  Result<MailPath> p = ParseMailPath("TO:<пользователь@пример.test>", "TO:", false);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->address, "пользователь@пример.test");
}

TEST(MailPath, MalformedPathsAreRefused) {
  EXPECT_FALSE(ParseMailPath("FROM:a@b.test", "FROM:", true).ok());       // no brackets
  EXPECT_FALSE(ParseMailPath("FROM:<a@b.test", "FROM:", true).ok());      // unterminated
  EXPECT_FALSE(ParseMailPath("TO<a@b.test>", "TO:", false).ok());         // no colon
  EXPECT_FALSE(ParseMailPath("TO:<a b@c.test>", "TO:", false).ok());      // space in local part
  EXPECT_FALSE(ParseMailPath("TO:<a@b..test>", "TO:", false).ok());       // empty label
  EXPECT_FALSE(ParseMailPath("TO:<a@b.test>SIZE=1", "TO:", false).ok());  // no space
  EXPECT_FALSE(ParseMailPath("FROM:<a@b.test> =x", "FROM:", true).ok());  // empty keyword
  EXPECT_FALSE(ParseMailPath("FROM:<a@b.test> SIZE=", "FROM:", true).ok());
  EXPECT_FALSE(ParseMailPath("TO:<a\r\n@b.test>", "TO:", false).ok());    // control characters
}

TEST(MailPath, OverlongAddressIsRefused) {
  std::string local(250, 'a');
  EXPECT_FALSE(ParseMailPath("TO:<" + local + "@acme.test>", "TO:", false).ok());
}

TEST(EmailAddress, PostmasterWithoutDomainIsValid) {
  // RFC 5321 4.1.1.3: RCPT TO:<Postmaster> must be accepted without a domain.
  EXPECT_TRUE(IsValidMailbox("Postmaster"));
  EXPECT_FALSE(IsValidMailbox("someone"));
}

TEST(EmailAddress, SplitAndStripPlusTag) {
  AddressParts parts = SplitAddress("support+id42@acme.test");
  EXPECT_EQ(parts.local, "support+id42");
  EXPECT_EQ(parts.domain, "acme.test");
  EXPECT_EQ(StripPlusTag(parts.local), "support");
  EXPECT_EQ(StripPlusTag("+leading"), "+leading");
  // A leading '+' is part of the name (a telephone number); a tag may still follow it.
  EXPECT_EQ(StripPlusTag("+4930123456+id42"), "+4930123456");
  EXPECT_EQ(PlusTag("support+id42"), "id42");
  EXPECT_EQ(PlusTag("+4930123456+id42"), "id42");
  EXPECT_EQ(PlusTag("support+"), "");
  EXPECT_FALSE(PlusTag("+4930123456"));
  EXPECT_FALSE(PlusTag("support"));
  EXPECT_EQ(LowerAscii("Support@ACME.Test"), "support@acme.test");
}

}  // namespace
TEST(MailPath, MoreParametersThanAnyExtensionDefinesIsASyntaxError) {
  std::string argument = "FROM:<a@b.test>";
  for (size_t i = 0; i < kMaxEsmtpParameters; ++i) argument += " X" + std::to_string(i) + "=1";
  Result<MailPath> at_limit = ParseMailPath(argument, "FROM:", true);
  ASSERT_TRUE(at_limit.ok()) << at_limit.status().message();
  EXPECT_EQ(at_limit->parameters().size(), kMaxEsmtpParameters);
  EXPECT_EQ(at_limit->parameters().back().keyword, "X" + std::to_string(kMaxEsmtpParameters - 1));
  Result<MailPath> over = ParseMailPath(argument + " ONE=MORE", "FROM:", true);
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(over.status().message(), "Syntax: too many parameters");
}

// RFC 3030 2: "BDAT" SP chunk-size [SP end-marker], end-marker "LAST" in any case.
TEST(BdatArgument, SizeAndLastAreReadAndAnythingElseRefused) {
  Result<BdatChunk> chunk = ParseBdatArgument("1024");
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->size, 1024u);
  EXPECT_FALSE(chunk->last);
  chunk = ParseBdatArgument("0 last");
  ASSERT_TRUE(chunk.ok());
  EXPECT_EQ(chunk->size, 0u);
  EXPECT_TRUE(chunk->last);
  EXPECT_EQ(ParseBdatArgument("18446744073709551615 LAST")->size, 18446744073709551615u);
  for (const char* bad : {"", "LAST", "-1", "+5", " 5", "5 ", "5  LAST", "5 LAST x", "5 LASTS",
                          "0x10", "18446744073709551616"}) {
    Result<BdatChunk> refused = ParseBdatArgument(bad);
    ASSERT_FALSE(refused.ok()) << bad;
    EXPECT_EQ(refused.status().message(), "Syntax: BDAT chunk-size [LAST]") << bad;
  }
}

}  // namespace postdesk
