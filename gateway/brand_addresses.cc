#include "gateway/brand_addresses.h"

#include <algorithm>
#include <cstdint>
#include <functional>
#include <set>

#include "gateway/bounded_file.h"
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

const std::vector<std::string>& ListOf(const BrandConfig& brand, List list) {
  if (list == List::kAddresses) return brand.addresses;
  return list == List::kWildcards ? brand.wildcards : brand.external_addresses;
}

// The entries seen so far, found by their text: open addressing over one array, so that an
// entry costs a hash and a probe or two and no allocation. (An std::unordered_map, a node per
// entry, took half of the time to load 300,000 addresses.) Keys are the brands' own strings,
// which stay put while it is used.
class EntryIndex {
 public:
  EntryIndex(const std::vector<BrandConfig>& brands, size_t entries) : brands_(brands) {
    size_t size = 16;
    while (size < 2 * entries) size *= 2;  // at most half full: probes stay short
    slots_.resize(size);
    entries_.reserve(entries);
  }

  // Adds `entry`; returns the entry added before it with the same text, or null.
  const Entry* Add(Entry entry) {
    const std::string_view text = TextOf(entry);
    const auto hash = static_cast<uint32_t>(std::hash<std::string_view>()(text));
    for (size_t i = hash & (slots_.size() - 1);; i = (i + 1) & (slots_.size() - 1)) {
      Slot& slot = slots_[i];
      if (slot.entry == 0) {
        entries_.push_back(entry);
        slot = {hash, static_cast<uint32_t>(entries_.size())};
        return nullptr;
      }
      const Entry& other = entries_[slot.entry - 1];
      if (slot.hash == hash && TextOf(other) == text) return &other;
    }
  }

 private:
  struct Slot {
    uint32_t hash = 0;
    uint32_t entry = 0;  // 1 + its index in entries_; 0: free
  };
  std::string_view TextOf(Entry entry) const {
    return ListOf(brands_[entry.brand], entry.list)[entry.index];
  }

  const std::vector<BrandConfig>& brands_;
  std::vector<Slot> slots_;
  std::vector<Entry> entries_;
};

// Where `entry` was written: "[[brand]] #1.addresses[0]", "[[brand]] #2.addresses_file b.txt:3".
std::string Where(const std::vector<BrandConfig>& brands,
                  const std::vector<BrandFileLines>* file_lines, Entry entry) {
  static constexpr std::string_view kKeys[] = {"addresses", "external_addresses", "wildcards"};
  if (file_lines && entry.list != List::kExternalAddresses) {
    const BrandConfig& brand = brands[entry.brand];
    const bool wildcard = entry.list == List::kWildcards;
    const std::vector<uint32_t>& lines =
        wildcard ? (*file_lines)[entry.brand].wildcards : (*file_lines)[entry.brand].addresses;
    const size_t inline_count = ListOf(brand, entry.list).size() - lines.size();
    if (entry.index >= inline_count) {
      return BrandPath(entry.brand) + ".addresses_file " + brand.addresses_file + ":" +
             std::to_string(lines[entry.index - inline_count]);
    }
  }
  return BrandPath(entry.brand) + "." + std::string(kKeys[static_cast<int>(entry.list)]) + "[" +
         std::to_string(entry.index) + "]";
}

// White space around an entry, the CR of a CRLF line end included.
constexpr std::string_view kBlank = " \t\r\v\f";

std::string_view Trimmed(std::string_view line) {
  const size_t begin = line.find_first_not_of(kBlank);
  if (begin == std::string_view::npos) return {};
  return line.substr(begin, line.find_last_not_of(kBlank) - begin + 1);
}

// The entries of one addresses_file's `text`, appended to `brand`'s with their lines. Errors
// start with the line's number and a colon: "17: \"foo@\" is not a mailbox address".
Status ReadAddressesFile(std::string_view text, BrandConfig* brand, BrandFileLines* lines) {
  // A byte order mark (some editors on Windows write one) would pass as part of the first
  // local part, UTF-8 being valid there (RFC 6531), and make that address one nobody sends to.
  if (text.starts_with("\xEF\xBB\xBF")) text.remove_prefix(3);
  const size_t most = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  brand->addresses.reserve(brand->addresses.size() + most);
  lines->addresses.reserve(most);
  uint32_t number = 0;
  while (!text.empty()) {
    const size_t end = std::min(text.find('\n'), text.size());
    const std::string_view entry = Trimmed(text.substr(0, end));
    text.remove_prefix(std::min(end + 1, text.size()));
    ++number;
    if (entry.empty() || entry.front() == '#') continue;
    const bool wildcard = entry.starts_with("*@");
    Result<std::string> value = wildcard ? WildcardDomain(entry) : BrandMailbox(entry);
    if (!value.ok()) return Status::Error(std::to_string(number) + ": " + value.status().message());
    (wildcard ? brand->wildcards : brand->addresses).push_back(std::move(value).value());
    (wildcard ? lines->wildcards : lines->addresses).push_back(number);
  }
  return Status::Ok();
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

Status CheckBrandsUnique(const std::vector<BrandConfig>& brands,
                         const std::vector<BrandFileLines>* file_lines) {
  size_t addresses_count = 0, wildcards_count = 0;
  for (const BrandConfig& brand : brands) {
    addresses_count += brand.addresses.size() + brand.external_addresses.size();
    wildcards_count += brand.wildcards.size();
  }
  EntryIndex addresses(brands, addresses_count), domains(brands, wildcards_count);
  std::set<std::string_view> names;
  for (uint32_t b = 0; b < brands.size(); ++b) {
    if (!names.insert(brands[b].name).second) {
      return Status::Error("brand \"" + brands[b].name + "\" twice");
    }
    for (List list : {List::kAddresses, List::kExternalAddresses, List::kWildcards}) {
      const bool wildcard = list == List::kWildcards;
      const std::vector<std::string>& values = ListOf(brands[b], list);
      for (uint32_t i = 0; i < values.size(); ++i) {
        const Entry entry{b, list, i};
        const Entry* first = (wildcard ? domains : addresses).Add(entry);
        if (!first) continue;
        return Status::Error(Where(brands, file_lines, entry) + ": " +
                             (wildcard ? "wildcard \"*@" : "address \"") + values[i] +
                             "\" appears twice: brand \"" + brands[first->brand].name +
                             "\" has it at " + Where(brands, file_lines, *first));
      }
    }
  }
  return Status::Ok();
}

Status LoadBrandAddressFiles(Config* config) {
  auto fail = [&](const std::string& why) { return Status::Error(config->source + ": " + why); };
  std::vector<BrandFileLines> file_lines(config->brands.size());
  bool any = false;
  for (size_t b = 0; b < config->brands.size(); ++b) {
    BrandConfig& brand = config->brands[b];
    if (brand.addresses_file.empty()) continue;
    any = true;
    const std::string name = BrandPath(b) + ".addresses_file " + brand.addresses_file;
    Result<std::string> text = ReadFileAtMost(brand.addresses_file, kMaxAddressesFileBytes);
    if (!text.ok()) return fail(name + ": " + text.status().message());
    Status read = ReadAddressesFile(text.value(), &brand, &file_lines[b]);
    if (!read.ok()) return fail(name + ":" + read.message());
    if (brand.addresses.empty() && brand.wildcards.empty()) {
      return fail(name +
                  ": holds no address, nor do addresses and wildcards: a brand needs at "
                  "least one address");
    }
  }
  if (!any) return Status::Ok();  // ParseConfig has checked the inline ones
  Status unique = CheckBrandsUnique(config->brands, &file_lines);
  return unique.ok() ? unique : fail(unique.message());
}

}  // namespace postdesk
