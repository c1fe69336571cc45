// The text that passes between SmtpClient and a relay (RFC 5321): a reply as read, what an EHLO
// reply offers, envelope addresses fit for a command line, a message in DATA's wire form, and
// what a reply means for the message. Pure functions on strings, with no I/O and no state: they
// run on the calling thread and report through their results, never by throwing.
#ifndef POSTDESK_GATEWAY_SMTP_RELAY_WIRE_H_
#define POSTDESK_GATEWAY_SMTP_RELAY_WIRE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/smtp_client.h"

namespace postdesk::relay {

struct Reply {
  int code = 0;
  std::vector<std::string> lines;  // as received, without the line end

  int Class() const { return code / 100; }
  std::string Text() const;  // the lines, '\n'-separated
};

// What the relay's EHLO reply offers (RFC 5321 4.1.1.1: one keyword per line after the first).
struct Extensions {
  bool pipelining = false;      // RFC 2920
  bool starttls = false;        // RFC 3207
  bool size = false;            // RFC 1870
  uint64_t max_size = 0;        // 0: no fixed limit
  bool eight_bit_mime = false;  // RFC 6152
  bool smtputf8 = false;        // RFC 6531
};

Extensions ParseExtensions(const Reply& ehlo);

// An envelope address goes between < and > on a command line: <, > and control characters (CR
// and LF above all) would end it early or inject a command.
bool ValidAddress(std::string_view address);

bool HasNonAscii(std::string_view text);

// The message as it goes on the wire after DATA: every line end CRLF (RFC 5321 2.3.8 allows no
// bare CR or LF, and a relay that reads them differently from the next hop is how "SMTP
// smuggling" hides a second message), a '.' doubled at the start of a line (4.5.2), a CRLF after
// the last line, then ".\r\n". `size` is RFC 1870's: the CRLF form, without the stuffing and the
// final dot. Sets `eight_bit` when an octet is over 127 (it never clears it).
void PrepareData(std::string_view data, std::string* wire, uint64_t* size, bool* eight_bit);

DeliveryResult Failure(DeliveryResult::Kind kind, int code, std::string reply);

// RFC 5321 4.2.1: 2yz done, 4yz try again later, 5yz never. Anything else where a 2yz or 354
// was due (a 1yz, a 3yz out of place) is a relay we do not understand: try again later.
DeliveryResult FromReply(const Reply& reply);

}  // namespace postdesk::relay

#endif  // POSTDESK_GATEWAY_SMTP_RELAY_WIRE_H_
