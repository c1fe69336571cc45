#include "gateway/address_table.h"

#include <algorithm>

#include "parser/email_address.h"
#include "parser/smtp_command.h"

namespace postdesk {

AddressTable::AddressTable(const std::vector<BrandConfig>& brands) {
  // Sized once: hundreds of thousands of addresses (addresses_file) would otherwise rehash
  // them all a dozen times, at every start and SIGHUP.
  size_t addresses = 0, external = 0, wildcards = 0;
  for (const BrandConfig& brand : brands) {
    addresses += brand.addresses.size();
    external += brand.external_addresses.size();
    wildcards += brand.wildcards.size();
  }
  exact_.reserve(addresses);
  external_.reserve(external);
  wildcards_.reserve(wildcards);
  for (size_t i = 0; i < brands.size(); ++i) {
    for (const std::string& a : brands[i].addresses) exact_.emplace(LowerAscii(a), i);
    for (const std::string& a : brands[i].external_addresses) external_.emplace(LowerAscii(a), i);
    for (const std::string& d : brands[i].wildcards) wildcards_.emplace(LowerAscii(d), i);
  }
}

const AddressTable::Map::value_type* AddressTable::Find(const Map& map, std::string_view lower) {
  if (auto it = map.find(lower); it != map.end()) return &*it;
  AddressParts parts = SplitAddress(lower);
  std::string_view base = StripPlusTag(parts.local);
  if (base.size() == parts.local.size() || parts.domain.empty()) return nullptr;
  // The untagged address on the stack: an address is at most kMaxPathLength bytes.
  char untagged[kMaxPathLength + 1];
  if (base.size() + 1 + parts.domain.size() > sizeof(untagged)) return nullptr;
  char* end = std::copy(base.begin(), base.end(), untagged);
  *end++ = '@';
  end = std::copy(parts.domain.begin(), parts.domain.end(), end);
  if (auto it = map.find(std::string_view(untagged, end - untagged)); it != map.end()) return &*it;
  return nullptr;
}

bool AddressTable::FindRecipient(std::string_view address, AddressMatch* match) const {
  LowerAsciiText lower_text(address);
  std::string_view lower = lower_text.view();
  if (const Map::value_type* entry = Find(exact_, lower)) {
    match->brand = entry->second;
    match->received_at.assign(entry->first);
    match->external = false;
    return true;
  }
  AddressParts parts = SplitAddress(lower);
  if (parts.domain.empty()) return false;
  if (auto it = wildcards_.find(parts.domain); it != wildcards_.end()) {
    // The ticket is received at the address as written (less its +tag): a wildcard stands for
    // every local part, and triggers select on the one the customer used.
    match->brand = it->second;
    match->received_at.assign(StripPlusTag(parts.local)).append("@").append(parts.domain);
    match->external = false;
    return true;
  }
  return false;
}

std::optional<AddressMatch> AddressTable::FindRecipient(std::string_view address) const {
  AddressMatch match;
  if (!FindRecipient(address, &match)) return std::nullopt;
  return match;
}

bool AddressTable::IsSupportAddress(std::string_view address) const {
  return Find(exact_, LowerAsciiText(address).view()) != nullptr;
}

std::optional<AddressMatch> AddressTable::FindExternal(std::string_view address) const {
  const Map::value_type* entry = Find(external_, LowerAsciiText(address).view());
  if (!entry) return std::nullopt;
  return AddressMatch{entry->second, entry->first, /*external=*/true};
}

}  // namespace postdesk
