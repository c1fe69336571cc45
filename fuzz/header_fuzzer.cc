// header_fuzzer: the header decoders on their own, where inputs are short and the fuzzer can
// explore RFC 2047, RFC 2231 and address syntax much faster than through whole messages.
// Checks valid UTF-8 out and output bounded by input (3 bytes out per byte in at most).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "parser/address_list.h"
#include "parser/encoded_words.h"
#include "parser/html_to_text.h"
#include "parser/mime_parameters.h"
#include "parser/transfer_decoding.h"
#include "parser/utf8.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);

  const std::string text = postdesk::DecodeHeaderText(raw);
  FUZZ_CHECK(postdesk::IsValidUtf8(text));
  FUZZ_CHECK(text.size() <= 3 * size);

  size_t total = 0;
  for (const auto& mailbox : postdesk::ParseAddressList(raw, 100)) {
    FUZZ_CHECK(postdesk::IsValidUtf8(mailbox.name));
    FUZZ_CHECK(postdesk::IsValidUtf8(mailbox.address));
    FUZZ_CHECK(!mailbox.name.empty() || !mailbox.address.empty());
    total += mailbox.name.size() + mailbox.address.size();
  }
  FUZZ_CHECK(total <= 3 * size);

  const postdesk::HeaderParameters params = postdesk::ParseHeaderParameters(raw);
  FUZZ_CHECK(params.parameters.size() <= postdesk::kMaxParameters);
  total = params.value.size();
  for (const auto& [name, value] : params.parameters) {
    FUZZ_CHECK(postdesk::IsValidUtf8(value));
    total += name.size() + value.size();
  }
  FUZZ_CHECK(total <= 3 * size);

  // The transfer decoders' size functions must agree with the decoders.
  std::string decoded;
  postdesk::DecodeQuotedPrintable(raw, &decoded);
  FUZZ_CHECK(decoded.size() == postdesk::QuotedPrintableDecodedSize(raw));
  FUZZ_CHECK(decoded.size() <= size);
  decoded.clear();
  postdesk::DecodeBase64(raw, &decoded);
  FUZZ_CHECK(decoded.size() == postdesk::Base64DecodedSize(raw));

  // HTML to text over the input repaired to UTF-8 (what the parser hands it).
  std::string html;
  postdesk::AppendRepairedUtf8(raw, &html);
  std::string plain;
  postdesk::HtmlToText(html, &plain, 4096);
  FUZZ_CHECK(postdesk::IsValidUtf8(plain));
  FUZZ_CHECK(plain.size() <= 4096 + 8);
  return 0;
}
