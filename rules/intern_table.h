// Internal to rules/: strings interned to dense integer ids, for the compiled trigger conditions
// (compiled_triggers.h) and the set's index.
#ifndef POSTDESK_RULES_INTERN_TABLE_H_
#define POSTDESK_RULES_INTERN_TABLE_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace postdesk {

// FNV-1a over the bytes, then a finalizer, so that the low bits a table indexes by depend on
// every byte.
uint64_t HashKey(std::string_view key);

// Strings to dense ids (0, 1, 2...), in an open-addressing table of 64-bit slots.
class InternTable {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // The id of `key`, byte for byte, adding it if new.
  uint32_t Intern(std::string_view key);
  // The id of `key`, or kNone.
  uint32_t Find(std::string_view key) const;
  // The id of `key` with its ASCII letters lowered (the table's keys being lower case), or kNone:
  // no lowered copy is made.
  uint32_t FindLowered(std::string_view key) const;
  size_t size() const { return offsets_.size(); }

 private:
  template <bool kLower>
  uint32_t Lookup(std::string_view key) const;
  void Grow();

  // (upper 32 bits of the hash) << 32 | (id + 1); 0 is empty. Size: a power of two.
  std::vector<uint64_t> slots_;
  std::vector<uint32_t> offsets_;  // key i is chars_[offsets_[i], offsets_[i] + sizes_[i])
  std::vector<uint32_t> sizes_;
  std::string chars_;
};

}  // namespace postdesk

#endif  // POSTDESK_RULES_INTERN_TABLE_H_
