#include "parser/transfer_decoding.h"

#include <array>
#include <cstdint>

#include "parser/email_address.h"

namespace postdesk {
namespace {

constexpr uint8_t kInvalid = 0xFF;
constexpr uint8_t kPad = 0xFE;

constexpr std::array<uint8_t, 256> MakeBase64Table() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  const char* alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  for (uint8_t i = 0; i < 64; ++i) table[static_cast<uint8_t>(alphabet[i])] = i;
  table['='] = kPad;
  return table;
}
constexpr std::array<uint8_t, 256> kBase64 = MakeBase64Table();

// Walks quoted-printable input and hands each decoded run to `sink(const char*, size_t)` so the
// decoder and the size counter share one definition of the format.
template <typename Sink>
void WalkQuotedPrintable(std::string_view in, Sink&& sink) {
  const char* p = in.data();
  const size_t n = in.size();
  size_t i = 0;
  size_t run_start = 0;
  while (i < n) {
    const char c = p[i];
    if (c == '=') {
      sink(p + run_start, i - run_start);
      if (i + 2 < n) {
        const int hi = HexDigitValue(p[i + 1]);
        const int lo = HexDigitValue(p[i + 2]);
        if (hi >= 0 && lo >= 0) {
          const char byte = static_cast<char>(hi * 16 + lo);
          sink(&byte, 1);
          i += 3;
          run_start = i;
          continue;
        }
      }
      // Soft line break: '=' then optional blanks (rule 3 allows them) then CRLF or LF.
      size_t j = i + 1;
      while (j < n && (p[j] == ' ' || p[j] == '\t')) ++j;
      if (j < n && p[j] == '\r' && j + 1 < n && p[j + 1] == '\n') {
        i = j + 2;
        run_start = i;
        continue;
      }
      if (j < n && p[j] == '\n') {
        i = j + 1;
        run_start = i;
        continue;
      }
      if (j == n) {  // '=' at the very end: a soft break before end of data
        run_start = i = n;
        break;
      }
      // Not an escape: keep the '=' literally (rule 1 "robust implementation" advice).
      run_start = i;
      ++i;
      continue;
    }
    if (c == ' ' || c == '\t') {
      // Rule 3: blanks at the end of an encoded line were added in transport; drop them.
      size_t j = i;
      while (j < n && (p[j] == ' ' || p[j] == '\t')) ++j;
      if (j == n || p[j] == '\n' || (p[j] == '\r' && j + 1 < n && p[j + 1] == '\n')) {
        sink(p + run_start, i - run_start);
        run_start = i = j;
        continue;
      }
      i = j;
      continue;
    }
    ++i;
  }
  sink(p + run_start, n - run_start);
}

}  // namespace

TransferEncoding ParseTransferEncoding(std::string_view value) {
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) value.remove_prefix(1);
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t' || value.back() == '\r' ||
                            value.back() == '\n')) {
    value.remove_suffix(1);
  }
  if (EqualsIgnoreCase(value, "base64")) return TransferEncoding::kBase64;
  if (EqualsIgnoreCase(value, "quoted-printable")) return TransferEncoding::kQuotedPrintable;
  return TransferEncoding::kIdentity;
}

void DecodeBase64(std::string_view in, std::string* out) {
  out->reserve(out->size() + in.size() / 4 * 3 + 3);
  uint32_t accumulator = 0;
  int sextets = 0;
  for (const char ch : in) {
    const uint8_t v = kBase64[static_cast<uint8_t>(ch)];
    if (v == kInvalid) continue;
    if (v == kPad) break;
    accumulator = (accumulator << 6) | v;
    if (++sextets == 4) {
      out->push_back(static_cast<char>(accumulator >> 16));
      out->push_back(static_cast<char>((accumulator >> 8) & 0xFF));
      out->push_back(static_cast<char>(accumulator & 0xFF));
      accumulator = 0;
      sextets = 0;
    }
  }
  // RFC 4648 4: two sextets carry one byte, three carry two; one alone carries nothing.
  if (sextets == 2) {
    out->push_back(static_cast<char>(accumulator >> 4));
  } else if (sextets == 3) {
    out->push_back(static_cast<char>(accumulator >> 10));
    out->push_back(static_cast<char>((accumulator >> 2) & 0xFF));
  }
}

size_t Base64DecodedSize(std::string_view in) {
  size_t sextets = 0;
  for (const char ch : in) {
    const uint8_t v = kBase64[static_cast<uint8_t>(ch)];
    if (v == kInvalid) continue;
    if (v == kPad) break;
    ++sextets;
  }
  const size_t rest = sextets % 4;
  return sextets / 4 * 3 + (rest == 2 ? 1 : rest == 3 ? 2 : 0);
}

void DecodeQuotedPrintable(std::string_view in, std::string* out) {
  out->reserve(out->size() + in.size());
  WalkQuotedPrintable(in, [out](const char* data, size_t len) { out->append(data, len); });
}

size_t QuotedPrintableDecodedSize(std::string_view in) {
  size_t size = 0;
  WalkQuotedPrintable(in, [&size](const char*, size_t len) { size += len; });
  return size;
}

void DecodeQEncoding(std::string_view in, std::string* out) {
  for (size_t i = 0; i < in.size(); ++i) {
    const char c = in[i];
    if (c == '\r' || c == '\n') {
      continue;  // a broken fold inside an encoded word; not part of the text
    } else if (c == '_') {
      out->push_back(' ');  // RFC 2047 4.2 (2): '_' is always hexadecimal 20
    } else if (c == '=' && i + 2 < in.size()) {
      const int hi = HexDigitValue(in[i + 1]);
      const int lo = HexDigitValue(in[i + 2]);
      if (hi >= 0 && lo >= 0) {
        out->push_back(static_cast<char>(hi * 16 + lo));
        i += 2;
      } else {
        out->push_back(c);
      }
    } else {
      out->push_back(c);
    }
  }
}

void DecodeTransfer(TransferEncoding encoding, std::string_view in, std::string* out) {
  switch (encoding) {
    case TransferEncoding::kBase64:
      DecodeBase64(in, out);
      return;
    case TransferEncoding::kQuotedPrintable:
      DecodeQuotedPrintable(in, out);
      return;
    case TransferEncoding::kIdentity:
      out->append(in);
      return;
  }
}

size_t DecodedSize(TransferEncoding encoding, std::string_view in) {
  switch (encoding) {
    case TransferEncoding::kBase64:
      return Base64DecodedSize(in);
    case TransferEncoding::kQuotedPrintable:
      return QuotedPrintableDecodedSize(in);
    case TransferEncoding::kIdentity:
      return in.size();
  }
  return in.size();
}

}  // namespace postdesk
