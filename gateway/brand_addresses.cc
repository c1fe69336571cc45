#include "gateway/brand_addresses.h"

#include <cstdint>
#include <set>
#include <unordered_map>

#include "parser/email_address.h"

namespace postdesk {
namespace {

// `text` in double quotes for a message, cut short: an entry may be megabytes long (a binary
// file read as addresses), and the message goes to a terminal or a log line.
std::string Quoted(std::string_view text) {
  constexpr size_t kMaxQuotedBytes = 100;
  if (text.size() <= kMaxQuotedBytes) return "\"" + std::string(text) + "\"";
  size_t cut = kMaxQuotedBytes;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xC0) == 0x80) --cut;  // UTF-8
  return "\"" + std::string(text.substr(0, cut)) + "...\"";
}

std::string BrandPath(size_t brand) { return "[[brand]] #" + std::to_string(brand + 1); }

// Which of a brand's lists an entry is in.
enum class List : uint8_t { kAddresses, kExternalAddresses, kWildcards };

// An entry of the configuration, small enough that 300,000 of them cost little to index.
struct Entry {
  uint32_t brand;
  List list;
  uint32_t index;  // in that list
};

// Where `entry` was written: "[[brand]] #1.addresses[0]".
std::string Where(Entry entry) {
  static constexpr std::string_view kKeys[] = {"addresses", "external_addresses", "wildcards"};
  return BrandPath(entry.brand) + "." + std::string(kKeys[static_cast<int>(entry.list)]) + "[" +
         std::to_string(entry.index) + "]";
}

}  // namespace

Result<std::string> BrandMailbox(std::string_view text) {
  if (!IsValidMailbox(text) || SplitAddress(text).domain.empty()) {
    return Status::Error(Quoted(text) + " is not a mailbox address");
  }
  return LowerAscii(text);
}

Result<std::string> WildcardDomain(std::string_view text) {
  // The domain checked as a mailbox's would be: "x" stands for the wildcard's local part.
  if (!text.starts_with("*@") || !IsValidMailbox("x" + std::string(text.substr(1)))) {
    return Status::Error(Quoted(text) + " must look like \"*@domain\"");
  }
  return LowerAscii(text.substr(2));
}

Status CheckBrandsUnique(const std::vector<BrandConfig>& brands) {
  size_t total = 0;
  for (const BrandConfig& brand : brands) {
    total += brand.addresses.size() + brand.external_addresses.size();
  }
  // Keys view the brands' strings, which stay put while this runs: one hash probe an entry,
  // no copy, so that hundreds of thousands take milliseconds.
  std::unordered_map<std::string_view, Entry> addresses, domains;
  addresses.reserve(total);
  std::set<std::string_view> names;
  for (uint32_t b = 0; b < brands.size(); ++b) {
    const BrandConfig& brand = brands[b];
    if (!names.insert(brand.name).second)
      return Status::Error("brand \"" + brand.name + "\" twice");
    const std::pair<List, const std::vector<std::string>*> lists[] = {
        {List::kAddresses, &brand.addresses},
        {List::kExternalAddresses, &brand.external_addresses},
        {List::kWildcards, &brand.wildcards}};
    for (const auto& [list, values] : lists) {
      const bool wildcard = list == List::kWildcards;
      for (uint32_t i = 0; i < values->size(); ++i) {
        const Entry entry{b, list, i};
        auto [first, fresh] = (wildcard ? domains : addresses).emplace((*values)[i], entry);
        if (fresh) continue;
        return Status::Error(Where(entry) + ": " + (wildcard ? "wildcard \"*@" : "address \"") +
                             (*values)[i] + "\" appears twice: brand \"" +
                             brands[first->second.brand].name + "\" has it at " +
                             Where(first->second));
      }
    }
  }
  return Status::Ok();
}

}  // namespace postdesk
