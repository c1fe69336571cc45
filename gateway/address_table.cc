#include "gateway/address_table.h"

#include "parser/email_address.h"

namespace postdesk {

AddressTable::AddressTable(const std::vector<BrandConfig>& brands) {
  for (size_t i = 0; i < brands.size(); ++i) {
    for (const std::string& a : brands[i].addresses) exact_.emplace(LowerAscii(a), i);
    for (const std::string& a : brands[i].external_addresses) external_.emplace(LowerAscii(a), i);
    for (const std::string& d : brands[i].wildcards) wildcards_.emplace(LowerAscii(d), i);
  }
}

std::optional<AddressMatch> AddressTable::Find(const Map& map, std::string_view lower) {
  if (auto it = map.find(lower); it != map.end()) return AddressMatch{it->second, it->first};
  AddressParts parts = SplitAddress(lower);
  std::string_view base = StripPlusTag(parts.local);
  if (base.size() == parts.local.size() || parts.domain.empty()) return std::nullopt;
  std::string untagged;
  untagged.reserve(base.size() + 1 + parts.domain.size());
  untagged.append(base).append("@").append(parts.domain);
  if (auto it = map.find(untagged); it != map.end()) return AddressMatch{it->second, it->first};
  return std::nullopt;
}

std::optional<AddressMatch> AddressTable::FindRecipient(std::string_view address) const {
  LowerAsciiText lower_text(address);
  std::string_view lower = lower_text.view();
  if (auto match = Find(exact_, lower)) return match;
  AddressParts parts = SplitAddress(lower);
  if (parts.domain.empty()) return std::nullopt;
  if (auto it = wildcards_.find(parts.domain); it != wildcards_.end()) {
    // The ticket is received at the address as written (less its +tag): a wildcard stands for
    // every local part, and triggers select on the one the customer used.
    std::string received(StripPlusTag(parts.local));
    received.append("@").append(parts.domain);
    return AddressMatch{it->second, std::move(received)};
  }
  return std::nullopt;
}

bool AddressTable::IsSupportAddress(std::string_view address) const {
  return Find(exact_, LowerAsciiText(address).view()).has_value();
}

std::optional<AddressMatch> AddressTable::FindExternal(std::string_view address) const {
  std::optional<AddressMatch> match = Find(external_, LowerAsciiText(address).view());
  if (match) match->external = true;
  return match;
}

}  // namespace postdesk
