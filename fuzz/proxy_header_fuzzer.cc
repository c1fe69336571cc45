// proxy_header_fuzzer: the PROXY protocol header parser (parser/proxy_header.h) over arbitrary
// first bytes of a connection. Checks the contract an SMTP connection relies on: a complete
// header lies within the bytes given and the caps (107 bytes for version 1, 2,048 in all), its
// addresses are canonical IP text, the answer for a header does not depend on what follows
// it, every shorter prefix of it needs more, a refusal stays a refusal however many bytes
// come, and errors are short printable text that never echoes the input.
#include <arpa/inet.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "parser/proxy_header.h"

namespace {

using postdesk::ProxyHeader;

void CheckAddress(const std::string& text) {
  unsigned char bytes[16];
  FUZZ_CHECK(inet_pton(AF_INET, text.c_str(), bytes) == 1 ||
             inet_pton(AF_INET6, text.c_str(), bytes) == 1);
}

bool Same(const ProxyHeader& a, const ProxyHeader& b) {
  return a.parse == b.parse && a.proxied == b.proxied && a.version == b.version &&
         a.length == b.length && a.source == b.source && a.source_port == b.source_port &&
         a.destination == b.destination && a.destination_port == b.destination_port;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size > postdesk::kMaxProxyHeaderBytes + 64) return 0;  // the connection keeps no more
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const ProxyHeader header = postdesk::ParseProxyHeader(bytes);
  switch (header.parse) {
    case ProxyHeader::Parse::kNeedMore:
      FUZZ_CHECK(size < postdesk::kMaxProxyHeaderBytes);
      FUZZ_CHECK(header.error.empty());
      break;
    case ProxyHeader::Parse::kInvalid: {
      FUZZ_CHECK(!header.error.empty() && header.error.size() <= 96);
      for (char c : header.error) FUZZ_CHECK(c >= 0x20 && c < 0x7f);
      // Whatever follows cannot make it a header.
      std::string longer(bytes);
      longer += "\r\n";
      FUZZ_CHECK(postdesk::ParseProxyHeader(longer).parse == ProxyHeader::Parse::kInvalid);
      break;
    }
    case ProxyHeader::Parse::kComplete: {
      FUZZ_CHECK(header.length > 0 && header.length <= size);
      FUZZ_CHECK(header.length <= postdesk::kMaxProxyHeaderBytes);
      FUZZ_CHECK(header.version == 1 || header.version == 2);
      if (header.version == 1) FUZZ_CHECK(header.length <= postdesk::kMaxProxyV1Bytes);
      if (header.proxied) {
        CheckAddress(header.source);
        CheckAddress(header.destination);
      } else {
        FUZZ_CHECK(header.source.empty() && header.destination.empty());
      }
      FUZZ_CHECK(Same(postdesk::ParseProxyHeader(bytes.substr(0, header.length)), header));
      // Every shorter prefix: more is needed (a few, to keep each run short).
      for (size_t n : {size_t{0}, header.length / 2, header.length - 1}) {
        FUZZ_CHECK(postdesk::ParseProxyHeader(bytes.substr(0, n)).parse ==
                   ProxyHeader::Parse::kNeedMore);
      }
      break;
    }
  }
  return 0;
}
