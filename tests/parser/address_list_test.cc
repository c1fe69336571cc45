#include "parser/address_list.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

TEST(AddressList, NameAddrAndBareAddrSpec) {
  const auto list = ParseAddressList("Ann Example <ann@customer.test>, bob@x.test", 10);
  ASSERT_EQ(list.size(), 2u);
  EXPECT_EQ(list[0].name, "Ann Example");
  EXPECT_EQ(list[0].address, "ann@customer.test");
  EXPECT_EQ(list[1].name, "");
  EXPECT_EQ(list[1].address, "bob@x.test");
}

TEST(AddressList, QuotedNameWithCommaStaysOneMailbox) {
  const auto list = ParseAddressList("\"Dupré, Renée\" <renee@client.test>", 10);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "Dupré, Renée");
}

TEST(AddressList, EncodedWordNameIsDecoded) {
  const auto list = ParseAddressList("=?iso-8859-1?q?Ren=E9e_Dupr=E9?= <renee@client.test>", 10);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "Renée Dupré");
  EXPECT_EQ(list[0].address, "renee@client.test");
}

TEST(AddressList, EncodedWordInsideQuotesIsDecodedToo) {
  const auto list = ParseAddressList("\"=?utf-8?q?Zo=C3=AB?=\" <zoe@x.test>", 10);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].name, "Zoë");
}

TEST(AddressList, LegacyCommentFormGivesTheName) {
  const auto list = ParseAddressList("ann@x.test (Ann Example)", 10);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].address, "ann@x.test");
  EXPECT_EQ(list[0].name, "Ann Example");
}

TEST(AddressList, GroupsAreFlattenedAndEmptyGroupsSkipped) {
  const auto list =
      ParseAddressList("undisclosed-recipients:;, Team: a@x.test, B <b@x.test>;, c@x.test", 10);
  ASSERT_EQ(list.size(), 3u);
  EXPECT_EQ(list[0].address, "a@x.test");
  EXPECT_EQ(list[1].address, "b@x.test");
  EXPECT_EQ(list[2].address, "c@x.test");
}

TEST(AddressList, SourceRouteIsDropped) {
  const auto list = ParseAddressList("<@relay.test,@other.test:user@x.test>", 10);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].address, "user@x.test");
}

TEST(AddressList, CaseOfTheAddressIsKept) {
  EXPECT_EQ(ParseAddressList("<MAILER-DAEMON@Mx.Test>", 1)[0].address, "MAILER-DAEMON@Mx.Test");
}

TEST(AddressList, Utf8AddressesOfRfc6531ComeThrough) {
  const auto list = ParseAddressList("Jörg <jörg@bücher.test>", 1);
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0].address, "jörg@bücher.test");
}

TEST(AddressList, CountIsBounded) {
  std::string raw;
  for (int i = 0; i < 5000; ++i) raw += "a" + std::to_string(i) + "@x.test, ";
  EXPECT_EQ(ParseAddressList(raw, 100).size(), 100u);
}

TEST(AddressList, UnbalancedSyntaxIsSalvaged) {
  const auto list = ParseAddressList("\"unterminated <a@x.test", 10);
  EXPECT_LE(list.size(), 1u);
  const auto list2 = ParseAddressList("Name <a@x.test", 10);
  ASSERT_EQ(list2.size(), 1u);
  EXPECT_EQ(list2[0].address, "a@x.test");
}

}  // namespace
}  // namespace postdesk
