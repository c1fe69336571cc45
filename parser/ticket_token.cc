#include "parser/ticket_token.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <algorithm>

#include "parser/email_address.h"

namespace postdesk {
namespace {

constexpr char kDigits[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";
constexpr size_t kMacLength = 6;     // 36^6 ~ 2.2e9 guesses per ticket
constexpr size_t kMaxIdLength = 13;  // base 36 of 2^63
constexpr std::string_view kMessageIdPrefix = "pd.";

std::string Base36(uint64_t value) {
  std::string out;
  do {
    out.push_back(kDigits[value % 36]);
    value /= 36;
  } while (value != 0);
  std::reverse(out.begin(), out.end());
  return out;
}

std::optional<uint64_t> ParseBase36(std::string_view text) {
  if (text.empty() || text.size() > kMaxIdLength) return std::nullopt;
  uint64_t value = 0;
  for (char c : text) {
    int digit;
    if (c >= '0' && c <= '9')
      digit = c - '0';
    else if (c >= 'A' && c <= 'Z')
      digit = c - 'A' + 10;
    else if (c >= 'a' && c <= 'z')
      digit = c - 'a' + 10;  // mail clients may lower-case
    else
      return std::nullopt;
    if (value > (UINT64_MAX - static_cast<uint64_t>(digit)) / 36) return std::nullopt;
    value = value * 36 + static_cast<uint64_t>(digit);
  }
  return value;
}

}  // namespace

std::string TicketTokens::Mac(std::string_view data) const {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  HMAC(EVP_sha256(), key_.data(), static_cast<int>(key_.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), digest, &length);
  uint64_t bits = 0;
  for (int i = 0; i < 8; ++i) bits = (bits << 8) | digest[i];
  std::string mac(kMacLength, '0');
  for (size_t i = 0; i < kMacLength; ++i) {
    mac[i] = kDigits[bits % 36];
    bits /= 36;
  }
  return mac;
}

std::string TicketTokens::Token(int64_t ticket_id) const {
  std::string id = Base36(static_cast<uint64_t>(ticket_id));
  return id + "-" + Mac("ticket:" + id);
}

std::optional<int64_t> TicketTokens::Verify(std::string_view token) const {
  size_t dash = token.find('-');
  if (dash == std::string_view::npos || token.size() - dash - 1 != kMacLength) return std::nullopt;
  std::optional<uint64_t> id = ParseBase36(token.substr(0, dash));
  if (!id || *id == 0 || *id > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  // The MAC is over the canonical (upper-case) id, compared case-insensitively.
  if (!EqualsIgnoreCase(token.substr(dash + 1), Mac("ticket:" + Base36(*id)))) return std::nullopt;
  return static_cast<int64_t>(*id);
}

std::optional<int64_t> TicketTokens::FindInText(std::string_view text) const {
  // Bounded: each '[' is looked at once, with at most kMaxIdLength + kMacLength + 2 bytes.
  size_t pos = 0;
  while ((pos = text.find('[', pos)) != std::string_view::npos) {
    size_t close = text.substr(pos + 1, kMaxIdLength + kMacLength + 2).find(']');
    if (close != std::string_view::npos) {
      if (auto id = Verify(text.substr(pos + 1, close))) return id;
    }
    ++pos;
  }
  return std::nullopt;
}

std::optional<int64_t> TicketTokens::FromPlusTag(std::string_view local_part) const {
  std::optional<std::string_view> plus_tag = PlusTag(local_part);
  if (!plus_tag) return std::nullopt;
  std::string_view tag = *plus_tag;
  if (tag.size() < 2 || !EqualsIgnoreCase(tag.substr(0, 2), "ID")) return std::nullopt;
  return Verify(tag.substr(2));
}

std::optional<std::string> TicketTokens::PlusAddress(int64_t ticket_id,
                                                     std::string_view address) const {
  constexpr size_t kMaxLocalPart = 64;  // RFC 5321 section 4.5.3.1.1
  AddressParts parts = SplitAddress(address);
  std::string_view local = StripPlusTag(parts.local);
  if (parts.domain.empty() || local.empty() || local.front() == '"') return std::nullopt;
  std::string tagged = std::string(local) + "+id" + Token(ticket_id);
  if (tagged.size() > kMaxLocalPart) return std::nullopt;
  return tagged + "@" + std::string(parts.domain);
}

std::string TicketTokens::MessageId(int64_t ticket_id, uint64_t nonce,
                                    std::string_view host) const {
  std::string id = Base36(static_cast<uint64_t>(ticket_id));
  std::string n = Base36(nonce);
  return std::string(kMessageIdPrefix) + id + "." + n + "." + Mac("message:" + id + "." + n) + "@" +
         std::string(host);
}

std::optional<int64_t> TicketTokens::FromMessageId(std::string_view message_id) const {
  if (!message_id.empty() && message_id.front() == '<') message_id.remove_prefix(1);
  if (!message_id.empty() && message_id.back() == '>') message_id.remove_suffix(1);
  size_t at = message_id.find('@');
  if (at == std::string_view::npos) return std::nullopt;
  std::string_view local = message_id.substr(0, at);
  if (local.substr(0, kMessageIdPrefix.size()) != kMessageIdPrefix) return std::nullopt;
  local.remove_prefix(kMessageIdPrefix.size());
  size_t dot1 = local.find('.');
  size_t dot2 = dot1 == std::string_view::npos ? dot1 : local.find('.', dot1 + 1);
  if (dot2 == std::string_view::npos) return std::nullopt;
  std::string_view id_text = local.substr(0, dot1);
  std::string_view nonce = local.substr(dot1 + 1, dot2 - dot1 - 1);
  std::optional<uint64_t> id = ParseBase36(id_text);
  if (!id || *id == 0 || *id > static_cast<uint64_t>(INT64_MAX) || !ParseBase36(nonce)) {
    return std::nullopt;
  }
  // Message-IDs come back exactly as we wrote them (RFC 5322 3.6.4): compare exactly.
  if (local.substr(dot2 + 1) != Mac("message:" + std::string(id_text) + "." + std::string(nonce))) {
    return std::nullopt;
  }
  return static_cast<int64_t>(*id);
}

}  // namespace postdesk
