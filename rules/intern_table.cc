#include "rules/intern_table.h"

#include <algorithm>

#include "rules/trigger_conditions.h"  // kAsciiLower

namespace postdesk {
namespace {

// HashKey, with the bytes ASCII lowered if kLower.
template <bool kLower>
uint64_t Hash(std::string_view key) {
  uint64_t hash = 0xcbf29ce484222325u;
  for (char c : key) {
    auto byte = static_cast<unsigned char>(c);
    hash ^= kLower ? kAsciiLower[byte] : byte;
    hash *= 0x100000001b3u;
  }
  hash ^= hash >> 33;
  hash *= 0xff51afd7ed558ccdu;
  hash ^= hash >> 33;
  return hash;
}

// True if `key` lowered is `lower`.
bool SameLowered(std::string_view key, std::string_view lower) {
  if (key.size() != lower.size()) return false;
  for (size_t i = 0; i < key.size(); ++i) {
    if (kAsciiLower[static_cast<unsigned char>(key[i])] != static_cast<unsigned char>(lower[i])) {
      return false;
    }
  }
  return true;
}

}  // namespace

uint64_t HashKey(std::string_view key) { return Hash<false>(key); }

template <bool kLower>
uint32_t InternTable::Lookup(std::string_view key) const {
  if (slots_.empty()) return kNone;
  const uint64_t hash = Hash<kLower>(key);
  const uint64_t tag = hash >> 32;
  const size_t mask = slots_.size() - 1;
  // At most half full: the probe ends at an empty slot.
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const uint64_t slot = slots_[i];
    if (slot == 0) return kNone;
    if ((slot >> 32) != tag) continue;
    const uint32_t id = static_cast<uint32_t>(slot) - 1;
    std::string_view stored(chars_.data() + offsets_[id], sizes_[id]);
    if (kLower ? SameLowered(key, stored) : stored == key) return id;
  }
}

uint32_t InternTable::Find(std::string_view key) const { return Lookup<false>(key); }

uint32_t InternTable::FindLowered(std::string_view key) const { return Lookup<true>(key); }

uint32_t InternTable::Intern(std::string_view key) {
  uint32_t id = Find(key);
  if (id != kNone) return id;
  if (2 * (size() + 1) > slots_.size()) Grow();
  id = static_cast<uint32_t>(size());
  offsets_.push_back(static_cast<uint32_t>(chars_.size()));
  sizes_.push_back(static_cast<uint32_t>(key.size()));
  chars_.append(key);
  const uint64_t hash = Hash<false>(key);
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i] != 0) i = (i + 1) & mask;
  slots_[i] = (hash >> 32 << 32) | (uint64_t{id} + 1);
  return id;
}

void InternTable::Grow() {
  std::vector<uint64_t> slots(std::max<size_t>(16, 2 * slots_.size()), 0);
  const size_t mask = slots.size() - 1;
  for (uint32_t id = 0; id < size(); ++id) {
    const uint64_t hash = Hash<false>(std::string_view(chars_.data() + offsets_[id], sizes_[id]));
    size_t i = hash & mask;
    while (slots[i] != 0) i = (i + 1) & mask;
    slots[i] = (hash >> 32 << 32) | (uint64_t{id} + 1);
  }
  slots_ = std::move(slots);
}

}  // namespace postdesk
