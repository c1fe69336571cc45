// AddressTable: which brand, if any, a recipient address belongs to (design.md, "Addresses and
// brands").
//
// Built once from a Config and then read-only: all serving loops share one instance without
// locks. Lookups are case-insensitive, accept "local+tag@" for "local@", and fall back to a
// wildcard "*@domain"; each is two or three hash probes over a lower-cased copy, well under a
// microsecond. Never fails: an unknown address is std::nullopt.
#ifndef POSTDESK_GATEWAY_ADDRESS_TABLE_H_
#define POSTDESK_GATEWAY_ADDRESS_TABLE_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "gateway/config.h"

namespace postdesk {

struct AddressMatch {
  size_t brand = 0;         // index into Config::brands
  std::string received_at;  // the support address that matched, lower case, without +tag
  bool external = false;    // a registered external (forwarding) address
};

class AddressTable {
 public:
  explicit AddressTable(const std::vector<BrandConfig>& brands);

  // A support address or wildcard of a brand (what RCPT accepts). The pointer form assigns into
  // `match`, whose string keeps its storage: the session's RCPT allocates nothing.
  bool FindRecipient(std::string_view address, AddressMatch* match) const;
  std::optional<AddressMatch> FindRecipient(std::string_view address) const;
  // One of the brands' own support addresses, exact or +tag (not a wildcard: a customer may
  // well write from a domain we take mail for).
  bool IsSupportAddress(std::string_view address) const;
  // A registered external address (for forwarded mail); exact or +tag, no wildcards.
  std::optional<AddressMatch> FindExternal(std::string_view address) const;

  size_t size() const { return exact_.size() + wildcards_.size(); }

 private:
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
  };
  using Map = std::unordered_map<std::string, size_t, Hash, std::equal_to<>>;

  // The entry for `lower`, or for it without its +tag; null when neither is there.
  static const Map::value_type* Find(const Map& map, std::string_view lower);

  Map exact_;      // lower-case address -> brand
  Map external_;   // lower-case external address -> brand
  Map wildcards_;  // lower-case domain -> brand
};

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_ADDRESS_TABLE_H_
