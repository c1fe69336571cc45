#include "gateway/ip_network.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>

namespace postdesk {
namespace {

// inet_pton of `text` into `bytes`: 4 for IPv4, 16 for IPv6, 0 when it is neither. A mapped
// IPv4 address is read as IPv4.
int ReadAddress(std::string_view text, std::array<uint8_t, 16>* bytes) {
  char buffer[INET6_ADDRSTRLEN] = {};
  if (text.empty() || text.size() >= sizeof(buffer)) return 0;
  text.copy(buffer, text.size());
  bytes->fill(0);
  if (inet_pton(AF_INET, buffer, bytes->data()) == 1) return 4;
  in6_addr v6;
  if (inet_pton(AF_INET6, buffer, &v6) != 1) return 0;
  if (IN6_IS_ADDR_V4MAPPED(&v6)) {
    std::memcpy(bytes->data(), reinterpret_cast<const uint8_t*>(&v6) + 12, 4);
    return 4;
  }
  std::memcpy(bytes->data(), &v6, 16);
  return 16;
}

bool PrefixMatches(const std::array<uint8_t, 16>& a, const std::array<uint8_t, 16>& b, int prefix) {
  int whole = prefix / 8;
  if (std::memcmp(a.data(), b.data(), static_cast<size_t>(whole)) != 0) return false;
  int rest = prefix % 8;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a[whole] & mask) == (b[whole] & mask);
}

}  // namespace

Result<IpNetwork> ParseIpNetwork(std::string_view text) {
  size_t slash = text.find('/');
  IpNetwork network;
  int size = ReadAddress(text.substr(0, slash), &network.bytes);
  if (size == 0) {
    return Status::Error("\"" + std::string(text) + "\" is not an IP address or network");
  }
  network.v6 = size == 16;
  int max = size * 8;
  network.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view bits = text.substr(slash + 1);
    int prefix = bits.empty() || bits.size() > 3 ? -1 : 0;
    for (size_t i = 0; prefix >= 0 && i < bits.size(); ++i) {
      prefix = bits[i] >= '0' && bits[i] <= '9' ? prefix * 10 + (bits[i] - '0') : -1;
    }
    if (prefix < 0 || prefix > max) {
      return Status::Error("\"" + std::string(text) + "\": the prefix length must be 0-" +
                           std::to_string(max));
    }
    network.prefix = prefix;
  }
  IpNetwork masked = network;
  for (int bit = network.prefix; bit < max; ++bit) {
    masked.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  }
  if (masked.bytes != network.bytes) {
    char shown[INET6_ADDRSTRLEN] = {};
    inet_ntop(network.v6 ? AF_INET6 : AF_INET, masked.bytes.data(), shown, sizeof(shown));
    return Status::Error("\"" + std::string(text) +
                         "\" has bits set past its prefix (the network is " + shown + "/" +
                         std::to_string(network.prefix) + ")");
  }
  return network;
}

bool InNetworks(const std::vector<IpNetwork>& networks, std::string_view address) {
  if (networks.empty()) return false;
  std::array<uint8_t, 16> bytes;
  int size = ReadAddress(address, &bytes);
  if (size == 0) return false;
  for (const IpNetwork& network : networks) {
    if (network.v6 == (size == 16) && PrefixMatches(network.bytes, bytes, network.prefix)) {
      return true;
    }
  }
  return false;
}

}  // namespace postdesk
