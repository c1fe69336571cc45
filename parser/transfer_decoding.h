// Content-Transfer-Encoding decoders (RFC 2045 section 6) and the RFC 2047 "Q" encoding.
//
// Our own code rather than mimetic's codecs, which read out of bounds on some inputs (base64 with
// '|', see design.md "Parsing"). Every decoder is a single forward pass over a string_view: it
// appends at most as many bytes as it reads (output <= input), never fails and never throws.
// Malformed input is salvaged the way mail clients do it: characters outside the alphabet are
// skipped, a broken "=XX" escape is kept literally. Thread-safe (no state).
#ifndef POSTDESK_PARSER_TRANSFER_DECODING_H_
#define POSTDESK_PARSER_TRANSFER_DECODING_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace postdesk {

enum class TransferEncoding {
  kIdentity,  // 7bit, 8bit, binary, absent or unknown (RFC 2045 6.4: treat as opaque data)
  kBase64,
  kQuotedPrintable,
};

// The value of a hexadecimal digit in either case; -1 for any other character.
constexpr int HexDigitValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

// Reads a Content-Transfer-Encoding value (case-insensitive, surrounding blanks ignored).
TransferEncoding ParseTransferEncoding(std::string_view value);

// RFC 2045 6.8. Characters outside the base64 alphabet (line breaks, blanks, garbage) are
// ignored, decoding stops at the first '=' pad; a dangling final sextet is dropped.
void DecodeBase64(std::string_view in, std::string* out);

// The byte count DecodeBase64 would append, without allocating: attachments need their decoded
// size, not their bytes.
size_t Base64DecodedSize(std::string_view in);

// RFC 2045 6.7: "=XX" escapes (hex digits in either case, rule 1), soft line breaks "=" at the
// end of a line (rule 5; CRLF or bare LF), trailing blanks before a line break dropped (rule 3).
// Line breaks in the input are kept as they are.
void DecodeQuotedPrintable(std::string_view in, std::string* out);

// Byte count of DecodeQuotedPrintable's output, without allocating.
size_t QuotedPrintableDecodedSize(std::string_view in);

// RFC 2047 4.2, the "Q" encoding of encoded words: "=XX" escapes and '_' for space.
void DecodeQEncoding(std::string_view in, std::string* out);

// Decodes `in` per `encoding`, appending to `out`.
void DecodeTransfer(TransferEncoding encoding, std::string_view in, std::string* out);

// Size in bytes of the decoded content, without allocating.
size_t DecodedSize(TransferEncoding encoding, std::string_view in);

}  // namespace postdesk

#endif  // POSTDESK_PARSER_TRANSFER_DECODING_H_
