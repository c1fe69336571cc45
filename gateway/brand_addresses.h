// A brand's addresses as the configuration gives them ([[brand]] addresses, wildcards,
// external_addresses): the check of each entry, and the rule that each belongs to one brand
// only.
//
// Internal to the configuration code (config.cc). No shared state; any thread. Errors name the
// place ("[[brand]] #2.addresses[0]: ..."); the caller prefixes the configuration file's name.
#ifndef POSTDESK_GATEWAY_BRAND_ADDRESSES_H_
#define POSTDESK_GATEWAY_BRAND_ADDRESSES_H_

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "parser/result.h"

namespace postdesk {

// `text` as a support or external address: an RFC 5321 mailbox with a domain, in lower case.
// The error says why: "\"foo@\" is not a mailbox address".
Result<std::string> BrandMailbox(std::string_view text);

// "*@domain" -> the domain in lower case. The error: "\"x\" must look like \"*@domain\"".
Result<std::string> WildcardDomain(std::string_view text);

// Every brand name once; every support address, external address and wildcard domain in one
// brand only, or which brand gets the ticket would depend on the order of the file. A duplicate
// is named where it stands and where it stood first: "[[brand]] #2.addresses[0]: address
// \"x@a.test\" appears twice: brand \"acme\" has it at [[brand]] #1.addresses[0]". One hash
// probe an entry: hundreds of thousands take milliseconds.
Status CheckBrandsUnique(const std::vector<BrandConfig>& brands);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_BRAND_ADDRESSES_H_
