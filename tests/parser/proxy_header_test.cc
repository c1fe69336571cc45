#include "parser/proxy_header.h"

#include <gtest/gtest.h>

#include <string>

namespace postdesk {
namespace {

using Parse = ProxyHeader::Parse;

// A version 2 header: signature, version/command, family/transport, length, then `body`.
std::string V2(unsigned char command, unsigned char family, const std::string& body) {
  std::string out("\r\n\r\n\0\r\nQUIT\n", 12);
  out += static_cast<char>(0x20 | command);
  out += static_cast<char>(family);
  out += static_cast<char>(body.size() >> 8);
  out += static_cast<char>(body.size() & 0xff);
  return out + body;
}

std::string V2Inet(const std::string& tlvs = "") {
  // 192.0.2.7:51234 to 198.51.100.1:25
  return V2(1, 0x11, std::string("\xc0\x00\x02\x07\xc6\x33\x64\x01\xc8\x22\x00\x19", 12) + tlvs);
}

TEST(ProxyHeader, Version1Tcp4NamesTheClientAndLeavesWhatFollows) {
  std::string bytes = "PROXY TCP4 192.0.2.7 198.51.100.1 51234 25\r\nEHLO x\r\n";
  ProxyHeader h = ParseProxyHeader(bytes);
  ASSERT_EQ(h.parse, Parse::kComplete) << h.error;
  EXPECT_EQ(h.version, 1);
  EXPECT_TRUE(h.proxied);
  EXPECT_EQ(h.source, "192.0.2.7");
  EXPECT_EQ(h.source_port, 51234);
  EXPECT_EQ(h.destination, "198.51.100.1");
  EXPECT_EQ(h.destination_port, 25);
  EXPECT_EQ(bytes.substr(h.length), "EHLO x\r\n");
}

TEST(ProxyHeader, Version1Tcp6IsCanonicalAndAMappedAddressIsIpv4) {
  ProxyHeader h = ParseProxyHeader("PROXY TCP6 2001:DB8:0:0::1 2001:db8::25 65535 0\r\n");
  ASSERT_EQ(h.parse, Parse::kComplete) << h.error;
  EXPECT_EQ(h.source, "2001:db8::1");
  EXPECT_EQ(h.source_port, 65535);
  EXPECT_EQ(h.destination_port, 0);
  ProxyHeader mapped = ParseProxyHeader("PROXY TCP6 ::ffff:192.0.2.7 ::1 1 2\r\n");
  ASSERT_EQ(mapped.parse, Parse::kComplete) << mapped.error;
  EXPECT_EQ(mapped.source, "192.0.2.7");
}

TEST(ProxyHeader, Version1UnknownKeepsTheConnectionsOwnAddress) {
  std::string bytes = "PROXY UNKNOWN ffff::1 whatever\r\nQUIT\r\n";
  ProxyHeader h = ParseProxyHeader(bytes);
  ASSERT_EQ(h.parse, Parse::kComplete) << h.error;
  EXPECT_FALSE(h.proxied);
  EXPECT_EQ(bytes.substr(h.length), "QUIT\r\n");
  EXPECT_EQ(ParseProxyHeader("PROXY UNKNOWN\r\n").parse, Parse::kComplete);
}

TEST(ProxyHeader, EveryPrefixOfAValidHeaderNeedsMore) {
  for (const std::string& whole :
       {std::string("PROXY TCP4 192.0.2.7 198.51.100.1 51234 25\r\n"), V2Inet("\x04\x00\x01z")}) {
    for (size_t n = 0; n < whole.size(); ++n) {
      EXPECT_EQ(ParseProxyHeader(whole.substr(0, n)).parse, Parse::kNeedMore) << n;
    }
    ProxyHeader h = ParseProxyHeader(whole);
    ASSERT_EQ(h.parse, Parse::kComplete) << h.error;
    EXPECT_EQ(h.length, whole.size());
    EXPECT_EQ(h.source, "192.0.2.7");
  }
}

TEST(ProxyHeader, SmtpOrTlsInsteadOfAHeaderIsRefusedAtItsFirstByte) {
  for (std::string bytes : {"EHLO client.test\r\n", "\x16\x03\x01", "PROXZ", "\r\n\r\nX"}) {
    ProxyHeader h = ParseProxyHeader(bytes);
    EXPECT_EQ(h.parse, Parse::kInvalid) << bytes;
    EXPECT_EQ(h.error, "not a PROXY protocol header");
  }
}

TEST(ProxyHeader, MalformedVersion1LinesAreRefused) {
  for (const char* line : {
           "PROXY TCP5 192.0.2.7 198.51.100.1 1 2\r\n",      // no such protocol
           "PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n",        // a port missing
           "PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n",    // a field too many
           "PROXY TCP4 2001:db8::1 198.51.100.1 1 2\r\n",    // IPv6 under TCP4
           "PROXY TCP4 192.0.2.777 198.51.100.1 1 2\r\n",    // not an address
           "PROXY TCP4 mx.example 198.51.100.1 1 2\r\n",     // a name
           "PROXY TCP4 192.0.2.7  198.51.100.1 1 2\r\n",     // two spaces
           "PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n",  // port out of range
           "PROXY TCP4 192.0.2.7 198.51.100.1 -1 2\r\n",     // not a number
           "PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n",        // bare LF
           "PROXY TCP4 192.0.2.7\t198.51.100.1 1 2\r\n",     // a control byte
       }) {
    ProxyHeader h = ParseProxyHeader(line);
    EXPECT_EQ(h.parse, Parse::kInvalid) << line;
    EXPECT_FALSE(h.error.empty());
  }
}

TEST(ProxyHeader, Version1LineMustEndWithin107Bytes) {
  std::string longest = "PROXY UNKNOWN " + std::string(107 - 16, 'x') + "\r\n";
  ASSERT_EQ(longest.size(), kMaxProxyV1Bytes);
  EXPECT_EQ(ParseProxyHeader(longest).parse, Parse::kComplete);
  std::string too_long = "PROXY UNKNOWN " + std::string(107 - 15, 'x') + "\r\n";
  ProxyHeader h = ParseProxyHeader(too_long);
  EXPECT_EQ(h.parse, Parse::kInvalid);
  EXPECT_EQ(h.error, "PROXY version 1 header without CRLF in its first 107 bytes");
  // Decided at 107 bytes, however many more come.
  EXPECT_EQ(ParseProxyHeader(too_long.substr(0, 107)).parse, Parse::kInvalid);
  EXPECT_EQ(ParseProxyHeader(too_long.substr(0, 106)).parse, Parse::kNeedMore);
}

TEST(ProxyHeader, Version2Ipv6ProxiedAndTlvsSkipped) {
  std::string src("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x01", 16);
  std::string dst("\x20\x01\x0d\xb8\0\0\0\0\0\0\0\0\0\0\0\x25", 16);
  std::string tlv("\xea\x00\x03vpc", 6);  // AWS's endpoint id TLV, shortened
  std::string bytes = V2(1, 0x21, src + dst + std::string("\x01\xbb\x00\x19", 4) + tlv) + "EHLO";
  ProxyHeader h = ParseProxyHeader(bytes);
  ASSERT_EQ(h.parse, Parse::kComplete) << h.error;
  EXPECT_EQ(h.version, 2);
  EXPECT_TRUE(h.proxied);
  EXPECT_EQ(h.source, "2001:db8::1");
  EXPECT_EQ(h.source_port, 443);
  EXPECT_EQ(h.destination, "2001:db8::25");
  EXPECT_EQ(h.destination_port, 25);
  EXPECT_EQ(bytes.substr(h.length), "EHLO");
}

TEST(ProxyHeader, Version2LocalAndUnspecifiedKeepTheConnectionsOwnAddress) {
  ProxyHeader local = ParseProxyHeader(V2(0, 0x00, ""));
  ASSERT_EQ(local.parse, Parse::kComplete) << local.error;
  EXPECT_FALSE(local.proxied);
  EXPECT_EQ(local.length, 16u);
  // LOCAL ignores whatever addresses it carries.
  ProxyHeader local_inet = ParseProxyHeader(V2(0, 0x11, std::string(12, '\x7f')));
  ASSERT_EQ(local_inet.parse, Parse::kComplete);
  EXPECT_FALSE(local_inet.proxied);
  ProxyHeader unix_socket = ParseProxyHeader(V2(1, 0x31, std::string(216, 'a')));
  ASSERT_EQ(unix_socket.parse, Parse::kComplete) << unix_socket.error;
  EXPECT_FALSE(unix_socket.proxied);
}

TEST(ProxyHeader, MalformedVersion2HeadersAreRefusedWithoutWaitingForTheirBody) {
  std::string v1_signature = V2Inet();
  v1_signature[12] = 0x11;  // version 1 in the binary form
  std::string command = V2Inet();
  command[12] = 0x22;
  std::string family = V2Inet();
  family[13] = 0x41;
  std::string udp = V2Inet();
  udp[13] = 0x12;
  std::string too_short = V2(1, 0x21, std::string(20, '\0'));  // IPv6 needs 36
  std::string huge = V2(1, 0x11, std::string(12, '\0')).substr(0, 16);
  huge[14] = '\x08';  // 2,048 + 16 bytes announced
  for (const std::string& bytes : {v1_signature, command, family, udp, too_short, huge}) {
    ProxyHeader h = ParseProxyHeader(bytes.substr(0, 16 + (bytes == udp ? 12 : 0)));
    EXPECT_EQ(h.parse, Parse::kInvalid) << h.error;
    EXPECT_FALSE(h.error.empty());
  }
}

TEST(ProxyHeader, Version2UpToTheCapIsTaken) {
  std::string tlvs(kMaxProxyHeaderBytes - 16 - 12, '\0');
  ProxyHeader h = ParseProxyHeader(V2Inet(tlvs));
  ASSERT_EQ(h.parse, Parse::kComplete) << h.error;
  EXPECT_EQ(h.length, kMaxProxyHeaderBytes);
  ProxyHeader over = ParseProxyHeader(V2Inet(tlvs + "x").substr(0, 16));
  EXPECT_EQ(over.parse, Parse::kInvalid);
  EXPECT_EQ(over.error, "PROXY version 2 header longer than 2048 bytes");
}

}  // namespace
}  // namespace postdesk
