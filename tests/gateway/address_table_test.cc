#include "gateway/address_table.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

std::vector<BrandConfig> Brands() {
  BrandConfig acme;
  acme.name = "acme";
  acme.addresses = {"support@acme.test", "help@acme.test"};
  acme.wildcards = {"in.acme.test"};
  acme.external_addresses = {"acme.help@gmail.test"};
  BrandConfig globex;
  globex.name = "globex";
  globex.addresses = {"help@globex.test"};
  return {acme, globex};
}

TEST(AddressTable, ExactMatchIsCaseInsensitive) {
  AddressTable table(Brands());
  auto m = table.FindRecipient("Support@ACME.test");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->brand, 0u);
  EXPECT_EQ(m->received_at, "support@acme.test");
  auto g = table.FindRecipient("help@globex.test");
  ASSERT_TRUE(g);
  EXPECT_EQ(g->brand, 1u);
}

TEST(AddressTable, PlusTagMatchesTheBaseAddress) {
  AddressTable table(Brands());
  auto m = table.FindRecipient("help+id1G7EOR@acme.test");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->received_at, "help@acme.test");
}

TEST(AddressTable, LeadingPlusIsPartOfTheAddressAndATagMayFollowIt) {
  BrandConfig phone;
  phone.name = "phone";
  phone.addresses = {"+4930123456@acme.test"};
  AddressTable table({phone});
  auto m = table.FindRecipient("+4930123456+id1G7EOR-0Q2J8K@acme.test");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->received_at, "+4930123456@acme.test");
  EXPECT_TRUE(table.FindRecipient("+4930123456@acme.test"));
  EXPECT_FALSE(table.FindRecipient("+49301234567@acme.test"));
}

TEST(AddressTable, WildcardTakesEveryLocalPartOfItsDomainOnly) {
  AddressTable table(Brands());
  auto m = table.FindRecipient("Billing+x@In.Acme.Test");
  ASSERT_TRUE(m);
  EXPECT_EQ(m->brand, 0u);
  EXPECT_EQ(m->received_at, "billing@in.acme.test");
  EXPECT_FALSE(table.FindRecipient("billing@sub.in.acme.test"));
  EXPECT_FALSE(table.FindRecipient("billing@acme.test"));
}

TEST(AddressTable, UnknownAddressesAreNotFound) {
  AddressTable table(Brands());
  EXPECT_FALSE(table.FindRecipient("nobody@acme.test"));
  EXPECT_FALSE(table.FindRecipient("support@acme.test.evil.test"));
  EXPECT_FALSE(table.FindRecipient("postmaster"));
  EXPECT_FALSE(table.FindRecipient(""));
  // A plus at the start is not a tag separator.
  EXPECT_FALSE(table.FindRecipient("+support@acme.test"));
}

TEST(AddressTable, ExternalAddressesAreNotRecipients) {
  AddressTable table(Brands());
  EXPECT_FALSE(table.FindRecipient("acme.help@gmail.test"));
  auto m = table.FindExternal("ACME.help+fwd@gmail.test");
  ASSERT_TRUE(m);
  EXPECT_TRUE(m->external);
  EXPECT_EQ(m->received_at, "acme.help@gmail.test");
}

TEST(AddressTable, ThousandsOfAddressesAllResolve) {
  BrandConfig big;
  big.name = "big";
  for (int i = 0; i < 3000; ++i) big.addresses.push_back("agent" + std::to_string(i) + "@big.test");
  AddressTable table({big});
  EXPECT_EQ(table.size(), 3000u);
  for (int i = 0; i < 3000; i += 97) {
    EXPECT_TRUE(table.FindRecipient("Agent" + std::to_string(i) + "@BIG.test")) << i;
  }
  EXPECT_FALSE(table.FindRecipient("agent3000@big.test"));
}

}  // namespace
}  // namespace postdesk
