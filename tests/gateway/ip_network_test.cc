#include "gateway/ip_network.h"

#include <gtest/gtest.h>

namespace postdesk {
namespace {

std::vector<IpNetwork> Networks(std::initializer_list<const char*> texts) {
  std::vector<IpNetwork> out;
  for (const char* text : texts) {
    Result<IpNetwork> network = ParseIpNetwork(text);
    EXPECT_TRUE(network.ok()) << text << ": " << network.status().message();
    if (network.ok()) out.push_back(network.value());
  }
  return out;
}

TEST(IpNetwork, PrefixesMatchTheirAddressesOnly) {
  std::vector<IpNetwork> networks = Networks({"10.0.0.0/8", "192.0.2.7", "2001:db8::/32"});
  EXPECT_TRUE(InNetworks(networks, "10.255.1.2"));
  EXPECT_FALSE(InNetworks(networks, "11.0.0.1"));
  EXPECT_TRUE(InNetworks(networks, "192.0.2.7"));
  EXPECT_FALSE(InNetworks(networks, "192.0.2.8"));
  EXPECT_TRUE(InNetworks(networks, "2001:db8:ffff::1"));
  EXPECT_FALSE(InNetworks(networks, "2001:db9::1"));
  EXPECT_FALSE(InNetworks(networks, "not an address"));
  EXPECT_FALSE(InNetworks({}, "10.0.0.1"));
}

TEST(IpNetwork, OddPrefixLengthsAndTheWholeSpace) {
  std::vector<IpNetwork> networks = Networks({"172.16.0.0/12", "fe80::/10"});
  EXPECT_TRUE(InNetworks(networks, "172.31.255.255"));
  EXPECT_FALSE(InNetworks(networks, "172.32.0.0"));
  EXPECT_TRUE(InNetworks(networks, "febf::1"));
  EXPECT_FALSE(InNetworks(networks, "fec0::1"));
  EXPECT_TRUE(InNetworks(Networks({"0.0.0.0/0"}), "203.0.113.9"));
  EXPECT_FALSE(InNetworks(Networks({"0.0.0.0/0"}), "::1"));  // families never cross
  EXPECT_TRUE(InNetworks(Networks({"::/0"}), "::1"));
}

TEST(IpNetwork, MappedIpv4MatchesAsIpv4) {
  EXPECT_TRUE(InNetworks(Networks({"10.0.0.0/8"}), "::ffff:10.1.2.3"));
  EXPECT_TRUE(InNetworks(Networks({"::ffff:10.0.0.0/8"}), "10.1.2.3"));
}

TEST(IpNetwork, NamesBadPrefixesAndHostBitsAreRefused) {
  for (const char* text : {"mx.example.test", "10.0.0.0/33", "::/129", "10.0.0.0/", "10.0.0.0/x8",
                           "10.0.0.0/0008", "", "/8"}) {
    EXPECT_FALSE(ParseIpNetwork(text).ok()) << text;
  }
  Result<IpNetwork> host_bits = ParseIpNetwork("10.1.0.0/8");
  ASSERT_FALSE(host_bits.ok());
  EXPECT_EQ(host_bits.status().message(),
            "\"10.1.0.0/8\" has bits set past its prefix (the network is 10.0.0.0/8)");
}

}  // namespace
}  // namespace postdesk
