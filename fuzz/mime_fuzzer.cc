// mime_fuzzer: ParseMessage over arbitrary bytes. Beyond "no crash, no sanitizer report" it
// checks what ParseMessage promises (message.h, message_parser.h): every text field is valid
// UTF-8, the description holds at most kMaxDescriptionCodePoints and its span (when set) gives it
// back from the raw bytes, attachment sizes never exceed the input, part counts respect the
// limits, and the output is bounded by the input's size.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz/fuzz_check.h"
#include "parser/message_json.h"
#include "parser/message_parser.h"
#include "parser/utf8.h"

namespace {

size_t CheckText(const std::string& text) {
  FUZZ_CHECK(postdesk::IsValidUtf8(text));
  return text.size();
}

size_t CheckTexts(const std::vector<std::string>& texts) {
  size_t total = 0;
  for (const auto& text : texts) total += CheckText(text);
  return total;
}

size_t CheckOptional(const std::optional<std::string>& text) { return text ? CheckText(*text) : 0; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view raw(reinterpret_cast<const char*>(data), size);
  postdesk::ParseLimits limits;
  limits.max_parts = 64;  // small limits reach the limit paths with small inputs
  limits.max_depth = 6;
  limits.max_header_bytes = 4096;
  limits.max_header_fields = 64;
  limits.max_field_bytes = 1024;
  const postdesk::ParsedMessage m = postdesk::ParseMessage(raw, limits);

  size_t output = 0;
  output += CheckText(m.subject) + CheckText(m.from_email) + CheckText(m.from_name);
  output += CheckText(m.description);
  FUZZ_CHECK(postdesk::CountCodePoints(m.description) <= postdesk::kMaxDescriptionCodePoints);
  // Storage keeps only the raw message when the span is set: it must give the text back.
  if (m.description_span) {
    FUZZ_CHECK(postdesk::DescriptionFromSpan(raw, *m.description_span) == m.description);
  }
  output += CheckText(m.message_id) + CheckText(m.in_reply_to) + CheckTexts(m.references);
  output += CheckText(m.auto_submitted) + CheckText(m.precedence);
  output += CheckTexts(m.to) + CheckTexts(m.cc) + CheckTexts(m.reply_to) + CheckTexts(m.x_loop);
  output += CheckOptional(m.list_id) + CheckOptional(m.list_unsubscribe);
  output += CheckOptional(m.x_autoreply) + CheckOptional(m.x_autorespond);
  output += CheckOptional(m.x_autoresponder) + CheckOptional(m.x_auto_response_suppress);
  output += CheckOptional(m.x_failed_recipients);
  output += CheckText(m.content_type) + CheckText(m.report_type);
  output += CheckTexts(m.delivered_to) + CheckTexts(m.x_forwarded_to);
  output += CheckTexts(m.x_original_to);
  FUZZ_CHECK(m.received_count <= limits.max_header_fields);
  FUZZ_CHECK(m.attachments.size() < limits.max_parts);
  for (const auto& a : m.attachments) {
    output += CheckText(a.filename) + CheckText(a.content_type) + CheckText(a.content_id);
    FUZZ_CHECK(a.size <= size);
    FUZZ_CHECK(!a.content_type.empty());
  }
  FUZZ_CHECK(m.warnings.size() <= 16);
  // One input byte yields at most 3 output bytes (windows-1252 to UTF-8 is the widest case, see
  // charset.h); a part adds at most a default content type.
  FUZZ_CHECK(output <= 3 * size + 64 * (m.attachments.size() + 1));
  // What `postdesk parse` prints must serialise (nlohmann throws on invalid UTF-8).
  FUZZ_CHECK(!postdesk::MessageToJson(m).dump().empty());
  // Parsing into a message (and thread scratch) reused from the previous input gives what a
  // fresh parse gives: nothing of an earlier message survives the reuse (message_parser.h).
  static postdesk::ParsedMessage reused;
  postdesk::ParseMessage(raw, limits, &reused);
  FUZZ_CHECK(reused == m);
  return 0;
}
