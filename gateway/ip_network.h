// IpNetwork: an IPv4 or IPv6 network written as an address with an optional prefix length
// ("10.0.0.0/8", "2001:db8::/32", "192.0.2.7"), for configuration keys that name trusted
// peers ([smtp] proxy_protocol_from: the load balancers whose PROXY headers are believed).
//
// Pure values: parsing never touches DNS (a name is refused), matching takes an address in
// text as the gateway already holds it for a peer. An IPv4-mapped IPv6 address matches as the
// IPv4 address it maps. Callable from any thread; nothing throws. Parse errors name the
// problem, for the configuration's message.
#ifndef POSTDESK_GATEWAY_IP_NETWORK_H_
#define POSTDESK_GATEWAY_IP_NETWORK_H_

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "parser/result.h"

namespace postdesk {

struct IpNetwork {
  bool v6 = false;
  std::array<uint8_t, 16> bytes{};  // the network's address (4 bytes used for IPv4)
  int prefix = 0;                   // bits that must match
  bool operator==(const IpNetwork&) const = default;
};

// Refuses a name, a prefix out of range, and host bits set below the prefix ("10.1.0.0/8": a
// typo for /16 or for 10.0.0.0/8 that would otherwise trust more than meant).
Result<IpNetwork> ParseIpNetwork(std::string_view text);

// True when `address` (an IP address in text, as from inet_ntop) lies in one of `networks`.
// Text that is not an address lies in none.
bool InNetworks(const std::vector<IpNetwork>& networks, std::string_view address);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_IP_NETWORK_H_
