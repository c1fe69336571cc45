#include "parser/proxy_header.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <array>
#include <cstring>

namespace postdesk {
namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
// Section 2.2: a sequence that cannot start an HTTP, SMTP or TLS exchange.
constexpr std::string_view kV2Signature("\r\n\r\n\0\r\nQUIT\n", 12);
constexpr size_t kV2FixedBytes = 16;

ProxyHeader Invalid(std::string error) {
  ProxyHeader header;
  header.parse = ProxyHeader::Parse::kInvalid;
  header.error = std::move(error);
  return header;
}

// True when `bytes` and `prefix` agree on their common length.
bool StartsLike(std::string_view bytes, std::string_view prefix) {
  size_t n = std::min(bytes.size(), prefix.size());
  return bytes.substr(0, n) == prefix.substr(0, n);
}

// An IPv4 address in its 4 bytes, or an IPv6 one in its 16, as text; an IPv4-mapped IPv6
// address (a dual-stack balancer's IPv4 client) as the IPv4 address, so that the client has
// one name in the connection limits and the logs.
std::string AddressText(const unsigned char* bytes, int family) {
  char text[INET6_ADDRSTRLEN] = {};
  if (family == AF_INET6) {
    in6_addr v6;
    std::memcpy(&v6, bytes, sizeof(v6));
    if (IN6_IS_ADDR_V4MAPPED(&v6)) return AddressText(bytes + 12, AF_INET);
  }
  inet_ntop(family, bytes, text, sizeof(text));
  return text;
}

bool ParseV1Address(std::string_view field, int family, std::string* out) {
  if (field.empty() || field.size() >= INET6_ADDRSTRLEN) return false;
  char text[INET6_ADDRSTRLEN] = {};
  field.copy(text, field.size());
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(family, text, bytes.data()) != 1) return false;
  *out = AddressText(bytes.data(), family);
  return true;
}

bool ParseV1Port(std::string_view field, uint16_t* port) {
  if (field.empty() || field.size() > 5) return false;
  uint32_t value = 0;
  for (char c : field) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<uint32_t>(c - '0');
  }
  if (value > 65535) return false;
  *port = static_cast<uint16_t>(value);
  return true;
}

// Section 2.1: "PROXY" SP ("TCP4" / "TCP6") SP source SP destination SP source-port SP
// destination-port CRLF, or "PROXY" SP "UNKNOWN" and anything up to the CRLF; 107 bytes at most.
ProxyHeader ParseV1(std::string_view bytes) {
  size_t window = std::min(bytes.size(), kMaxProxyV1Bytes);
  size_t end = std::string_view::npos;
  for (size_t i = 0; i < window; ++i) {
    unsigned char c = static_cast<unsigned char>(bytes[i]);
    if (c == '\r' && i + 1 < kMaxProxyV1Bytes) {
      if (i + 1 == bytes.size()) break;  // its LF may come next
      if (bytes[i + 1] == '\n') {
        end = i;
        break;
      }
    }
    if (c == '\r' && i + 1 == kMaxProxyV1Bytes) break;  // no room left for its LF
    if (c < 0x20 || c > 0x7e) return Invalid("PROXY version 1 header holds a control byte");
  }
  if (end == std::string_view::npos) {
    if (bytes.size() >= kMaxProxyV1Bytes) {
      return Invalid("PROXY version 1 header without CRLF in its first 107 bytes");
    }
    return ProxyHeader{};
  }
  ProxyHeader header;
  header.version = 1;
  header.length = end + 2;
  std::string_view rest = bytes.substr(kV1Prefix.size(), end - kV1Prefix.size());
  std::array<std::string_view, 5> fields;
  size_t count = 0;
  while (count < fields.size()) {
    size_t space = rest.find(' ');
    fields[count++] = rest.substr(0, space);
    if (space == std::string_view::npos) {
      rest = {};
      break;
    }
    rest.remove_prefix(space + 1);
  }
  if (fields[0] == "UNKNOWN") {  // the rest of the line is ignored (section 2.1)
    header.parse = ProxyHeader::Parse::kComplete;
    return header;
  }
  int family = fields[0] == "TCP4" ? AF_INET : fields[0] == "TCP6" ? AF_INET6 : 0;
  if (family == 0) return Invalid("PROXY version 1 header names no TCP4, TCP6 or UNKNOWN");
  if (count != 5 || !rest.empty()) {
    return Invalid("PROXY version 1 header does not hold two addresses and two ports");
  }
  if (!ParseV1Address(fields[1], family, &header.source) ||
      !ParseV1Address(fields[2], family, &header.destination)) {
    return Invalid("PROXY version 1 header has an address that is not " + std::string(fields[0]));
  }
  if (!ParseV1Port(fields[3], &header.source_port) ||
      !ParseV1Port(fields[4], &header.destination_port)) {
    return Invalid("PROXY version 1 header has a port outside 0-65535");
  }
  header.proxied = true;
  header.parse = ProxyHeader::Parse::kComplete;
  return header;
}

uint16_t BigEndian16(const unsigned char* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// Section 2.2: the signature, version and command, family and transport, the length of what
// follows, then the addresses (and TLVs, which are skipped).
ProxyHeader ParseV2(std::string_view bytes) {
  if (bytes.size() < kV2FixedBytes) return ProxyHeader{};
  const auto* p = reinterpret_cast<const unsigned char*>(bytes.data());
  if ((p[12] >> 4) != 2) return Invalid("PROXY version 2 header of another version");
  int command = p[12] & 0x0f;
  if (command > 1) return Invalid("PROXY version 2 header with an unknown command");
  size_t length = kV2FixedBytes + BigEndian16(p + 14);
  if (length > kMaxProxyHeaderBytes) {
    return Invalid("PROXY version 2 header longer than " + std::to_string(kMaxProxyHeaderBytes) +
                   " bytes");
  }
  int family = p[13] >> 4;
  int transport = p[13] & 0x0f;
  if (family > 3 || transport > 2) {
    return Invalid("PROXY version 2 header with an unknown address family or transport");
  }
  // The length is known now: a short address block is refused without waiting for it.
  size_t address_bytes = family == 1 ? 12 : family == 2 ? 36 : family == 3 ? 216 : 0;
  if (command == 1 && length - kV2FixedBytes < address_bytes) {
    return Invalid("PROXY version 2 header too short for its addresses");
  }
  if (bytes.size() < length) return ProxyHeader{};
  ProxyHeader header;
  header.version = 2;
  header.length = length;
  header.parse = ProxyHeader::Parse::kComplete;
  // LOCAL (the balancer's own connection), or a family without an IP address: the
  // connection's own addresses stand.
  if (command == 0 || family == 0 || family == 3) return header;
  if (transport != 1) return Invalid("PROXY version 2 header for a connection that is not TCP");
  const unsigned char* a = p + kV2FixedBytes;
  int af = family == 1 ? AF_INET : AF_INET6;
  size_t size = family == 1 ? 4 : 16;
  header.source = AddressText(a, af);
  header.destination = AddressText(a + size, af);
  header.source_port = BigEndian16(a + 2 * size);
  header.destination_port = BigEndian16(a + 2 * size + 2);
  header.proxied = true;
  return header;
}

}  // namespace

ProxyHeader ParseProxyHeader(std::string_view bytes) {
  if (bytes.empty()) return ProxyHeader{};
  if (bytes[0] == 'P') {
    if (!StartsLike(bytes, kV1Prefix)) return Invalid("not a PROXY protocol header");
    if (bytes.size() < kV1Prefix.size()) return ProxyHeader{};
    return ParseV1(bytes);
  }
  if (!StartsLike(bytes, kV2Signature)) return Invalid("not a PROXY protocol header");
  if (bytes.size() < kV2Signature.size()) return ProxyHeader{};
  return ParseV2(bytes);
}

}  // namespace postdesk
