#include "parser/ticket_token.h"

#include <gtest/gtest.h>

#include "parser/email_address.h"

namespace postdesk {
namespace {

const TicketTokens kTokens("a test key of more than sixteen bytes");

TEST(TicketToken, RoundTripsAndLooksLikeZendesks) {
  std::string token = kTokens.Token(123456789);
  EXPECT_EQ(token.substr(0, token.find('-')), "21I3V9");  // 123456789 in base 36
  EXPECT_EQ(token.size(), 6u + 1 + 6);
  EXPECT_EQ(kTokens.Verify(token), 123456789);
}

TEST(TicketToken, GuessedOrAlteredTokensDoNotVerify) {
  std::string token = kTokens.Token(42);
  std::string other_ticket = kTokens.Token(43);
  // The MAC of 42 on the id of 43.
  std::string forged = other_ticket.substr(0, other_ticket.find('-')) + token.substr(token.find('-'));
  EXPECT_FALSE(kTokens.Verify(forged));
  EXPECT_FALSE(kTokens.Verify("16-000000"));
  EXPECT_FALSE(kTokens.Verify(token.substr(0, token.size() - 1)));
  EXPECT_FALSE(kTokens.Verify("ZZZZZZZZZZZZZZZZZZZZ-000000"));  // overflows 64 bits
  // Another deployment's key does not accept our tokens.
  EXPECT_FALSE(TicketTokens("another key, also long enough").Verify(token));
}

TEST(TicketToken, MailClientsThatLowerCaseTheTokenStillThread) {
  std::string token = kTokens.Token(987654);
  std::string lower;
  for (char c : token) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  EXPECT_EQ(kTokens.Verify(lower), 987654);
}

TEST(TicketToken, FoundInQuotedReplyText) {
  std::string body = "Thanks!\n\n> On Monday you wrote:\n> [not-a-token] [" + kTokens.Token(77) +
                     "]\n> Your request was received.";
  EXPECT_EQ(kTokens.FindInText(body), 77);
  EXPECT_FALSE(kTokens.FindInText("no token [" + std::string(5000, 'A') + "]"));
}

TEST(TicketToken, PlusTagOfAReplyToAddress) {
  EXPECT_EQ(kTokens.FromPlusTag("support+id" + kTokens.Token(5)), 5);
  EXPECT_EQ(kTokens.FromPlusTag("support+ID" + kTokens.Token(5)), 5);
  EXPECT_FALSE(kTokens.FromPlusTag("support+billing"));
  EXPECT_FALSE(kTokens.FromPlusTag("support"));
}

TEST(TicketToken, PlusAddressIsReadBackAsItsTicket) {
  std::optional<std::string> address = kTokens.PlusAddress(5, "support@acme.test");
  ASSERT_TRUE(address);
  EXPECT_EQ(*address, "support+id" + kTokens.Token(5) + "@acme.test");
  AddressParts parts = SplitAddress(*address);
  EXPECT_EQ(kTokens.FromPlusTag(parts.local), 5);
  EXPECT_EQ(parts.domain, "acme.test");
  // A tag it has is replaced, not nested (FromPlusTag reads the first one).
  EXPECT_EQ(kTokens.PlusAddress(5, "support+billing@acme.test"), address);
}

// ticket_token_fuzzer's first find: for a local part that begins with '+', the tag went after
// a second '+', which FromPlusTag (and the address table) did not read as a tag, so a reply to
// the Reply-To was refused at RCPT.
TEST(TicketToken, PlusAddressOfATelephoneNumberMailboxReadsBack) {
  std::optional<std::string> address = kTokens.PlusAddress(42, "+4930123456@acme.test");
  ASSERT_TRUE(address);
  EXPECT_EQ(*address, "+4930123456+id" + kTokens.Token(42) + "@acme.test");
  EXPECT_EQ(kTokens.FromPlusTag(SplitAddress(*address).local), 42);
  EXPECT_EQ(kTokens.PlusAddress(42, "+id16-0Q2J8K@acme.test"),
            "+id16-0Q2J8K+id" + kTokens.Token(42) + "@acme.test");
}

TEST(TicketToken, NoPlusAddressWhereAnMtaCouldRefuseIt) {
  EXPECT_FALSE(kTokens.PlusAddress(5, "\"odd local\"@acme.test"));
  EXPECT_FALSE(kTokens.PlusAddress(5, "support"));
  EXPECT_FALSE(kTokens.PlusAddress(5, "@acme.test"));
  // 64 octets at most in the local part, tag included (RFC 5321 section 4.5.3.1.1).
  const size_t room = 64 - ("+id" + kTokens.Token(5)).size();
  EXPECT_TRUE(kTokens.PlusAddress(5, std::string(room, 'a') + "@acme.test"));
  EXPECT_FALSE(kTokens.PlusAddress(5, std::string(room + 1, 'a') + "@acme.test"));
}

TEST(TicketToken, MessageIdsEncodeTheTicketAndAreUnique) {
  std::string a = kTokens.MessageId(1000, 1, "mx.acme.test");
  std::string b = kTokens.MessageId(1000, 2, "mx.acme.test");
  EXPECT_NE(a, b);
  EXPECT_EQ(kTokens.FromMessageId(a), 1000);
  EXPECT_EQ(kTokens.FromMessageId("<" + b + ">"), 1000);
  std::string tampered = a;
  tampered[3] = tampered[3] == '1' ? '2' : '1';  // another ticket id, same MAC
  EXPECT_FALSE(kTokens.FromMessageId(tampered));
  EXPECT_FALSE(kTokens.FromMessageId("<CAF=abc@mail.gmail.test>"));
}

}  // namespace
}  // namespace postdesk
