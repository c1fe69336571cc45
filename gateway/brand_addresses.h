// A brand's support addresses as the configuration gives them: inline ([[brand]] addresses,
// wildcards, external_addresses) or from a file of them ([[brand]] addresses_file), with the
// checks both share, and the rule that each belongs to one brand only.
//
// Operators generate the files from another system, so they hold thousands of addresses each
// and hundreds of thousands in all (design.md, "Addresses and brands"): loading them is linear
// in their size, one hash probe per address, well under a second for 300,000.
//
// Internal to the configuration code (config.cc). No shared state; any thread. Errors name the
// place ("[[brand]] #2.addresses_file acme.txt:17: ..."); LoadBrandAddressFiles's start with the
// configuration file's name too, the others' are prefixed by their caller.
#ifndef POSTDESK_GATEWAY_BRAND_ADDRESSES_H_
#define POSTDESK_GATEWAY_BRAND_ADDRESSES_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "gateway/config.h"
#include "parser/result.h"

namespace postdesk {

// The most bytes one addresses_file may hold. 300,000 addresses of 40 bytes are 12 MB: a file
// over this bound is a mistake (a wrong path, a binary), not a list of addresses.
inline constexpr size_t kMaxAddressesFileBytes = 64u * 1024 * 1024;

// `text` as a support or external address: an RFC 5321 mailbox with a domain, in lower case.
// The error says why: "\"foo@\" is not a mailbox address".
Result<std::string> BrandMailbox(std::string_view text);

// "*@domain" -> the domain in lower case. The error: "\"x\" must look like \"*@domain\"".
Result<std::string> WildcardDomain(std::string_view text);

// The line of each entry that came from a brand's addresses_file; they follow the inline ones
// in BrandConfig::addresses and ::wildcards.
struct BrandFileLines {
  std::vector<uint32_t> addresses;
  std::vector<uint32_t> wildcards;
};

// Every brand name once; every support address, external address and wildcard domain in one
// brand only, or which brand gets the ticket would depend on the order of the file. A duplicate
// is named where it stands and where it stood first: "[[brand]] #2.addresses_file b.txt:3:
// address \"x@a.test\" appears twice: brand \"acme\" has it at [[brand]] #1.addresses[0]".
// `file_lines`: one per brand once their addresses_file is merged in; null before.
Status CheckBrandsUnique(const std::vector<BrandConfig>& brands,
                         const std::vector<BrandFileLines>* file_lines = nullptr);

// Reads each brand's addresses_file (relative paths from the working directory, as every path
// of the configuration), appends its addresses and wildcards to the brand's inline ones, and
// checks the whole as ParseConfig checks the inline ones. Call once, on what ParseConfig made;
// after an error *config is half merged, to be thrown away.
// One address a line; blank lines and lines whose first non-blank character is '#' are
// skipped; white space around an entry is trimmed; "*@domain" is a wildcard.
Status LoadBrandAddressFiles(Config* config);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_BRAND_ADDRESSES_H_
