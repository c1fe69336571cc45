// The PROXY protocol header (HAProxy's "PROXY protocol" specification, versions 1 and 2) that a
// load balancer writes at the start of a TCP connection to name the client it accepted, so
// that the gateway limits, logs and traces the real client instead of the balancer.
//
// Pure code over the first bytes a connection sent; no I/O, no allocation beyond the two
// address strings of a complete header, no recursion. Incremental: the caller keeps what came
// so far (never more than kMaxProxyHeaderBytes) and calls again with more until the answer is
// not kNeedMore. It never reads past the header, so the bytes after it (the client's, perhaps
// a TLS ClientHello) are the caller's to pass on. Errors are messages for the operator's log;
// they never echo the client's bytes.
#ifndef POSTDESK_PARSER_PROXY_HEADER_H_
#define POSTDESK_PARSER_PROXY_HEADER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace postdesk {

// Version 1's longest line is 107 bytes (section 2.1); version 2 is 16 bytes and its length
// field. Load balancers add a few TLVs (AWS's endpoint id, a TLS summary): a header longer than
// this is refused rather than buffered for a client that sends an endless one.
inline constexpr size_t kMaxProxyHeaderBytes = 2048;
inline constexpr size_t kMaxProxyV1Bytes = 107;

struct ProxyHeader {
  enum class Parse {
    kNeedMore,  // a valid header may still follow: call again with more bytes
    kComplete,  // `length` bytes are the header
    kInvalid,   // not a PROXY header, or a malformed one: `error` says which
  };
  Parse parse = Parse::kNeedMore;
  // A proxied TCP connection names its client (source) and the address it reached
  // (destination). Otherwise (version 1 UNKNOWN, version 2 LOCAL: the balancer's own health
  // check, or an address family other than IP) the connection's own addresses stand, as
  // sections 2.1 and 2.2 ask.
  bool proxied = false;
  int version = 0;     // 1 or 2 once complete
  size_t length = 0;   // bytes of the header, the TLVs of version 2 included
  std::string source;  // the client's IP address in canonical text ("192.0.2.7", "2001:db8::1")
  uint16_t source_port = 0;
  std::string destination;
  uint16_t destination_port = 0;
  std::string error;
};

// Reads a header from the start of `bytes` (everything the connection sent so far).
ProxyHeader ParseProxyHeader(std::string_view bytes);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_PROXY_HEADER_H_
