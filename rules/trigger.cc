#include "rules/trigger.h"

#include <algorithm>

#include "parser/email_address.h"
#include "rules/compiled_triggers.h"

namespace postdesk {
namespace {

bool IsEquality(const TriggerCondition& condition, TriggerField field) {
  return condition.field == field && condition.op == TriggerOperator::kIs;
}

}  // namespace

TriggerSet::TriggerSet(std::vector<Trigger> triggers) {
  std::stable_sort(triggers.begin(), triggers.end(),
                   [](const Trigger& a, const Trigger& b) { return a.position < b.position; });
  for (Trigger& trigger : triggers) {
    if (trigger.active) {
      triggers_.push_back(std::move(trigger));
    } else {
      ++inactive_count_;
    }
  }
  // Each trigger goes into the bucket of the most selective "all" condition that no action can
  // change during a cycle: the address, then the brand, then tags (recomputed after each change),
  // then the update type. A trigger with none of them is a candidate for every event.
  for (uint32_t i = 0; i < triggers_.size(); ++i) {
    const std::vector<TriggerCondition>& all = triggers_[i].all;
    auto find = [&all](TriggerField field) -> const TriggerCondition* {
      for (const TriggerCondition& condition : all) {
        if (IsEquality(condition, field)) return &condition;
        if (field == TriggerField::kCurrentTags && condition.field == field &&
            condition.op == TriggerOperator::kIncludes && !condition.words.empty()) {
          return &condition;
        }
      }
      return nullptr;
    };
    if (const TriggerCondition* c = find(TriggerField::kReceivedAt)) {
      by_received_at_[c->value].push_back(i);
    } else if (const TriggerCondition* b = find(TriggerField::kBrand)) {
      by_brand_[b->value].push_back(i);
    } else if (const TriggerCondition* t = find(TriggerField::kCurrentTags)) {
      for (const std::string& tag : t->words) by_tag_[tag].push_back(i);
    } else if (const TriggerCondition* u = find(TriggerField::kUpdateType)) {
      by_update_type_[u->value == "create" ? 0 : 1].push_back(i);
    } else {
      unindexed_.push_back(i);
    }
  }
  compiled_ = std::make_shared<const CompiledTriggers>(triggers_);
}

void TriggerSet::Candidates(bool created, std::string_view received_at, std::string_view brand,
                            const std::vector<std::string>& tags,
                            std::vector<uint32_t>& out) const {
  out.clear();
  const Bucket* buckets[64];
  size_t count = 0;
  auto add = [&](const Bucket* bucket) {
    if (bucket && !bucket->empty() && count < std::size(buckets)) buckets[count++] = bucket;
  };
  auto lookup = [](const BucketMap& map, std::string_view key) -> const Bucket* {
    if (map.empty()) return nullptr;
    auto it = map.find(key);
    return it == map.end() ? nullptr : &it->second;
  };
  // The index keys are the loader's lower-case values; the ticket's may keep their case. Only a
  // key with an upper-case letter is copied to be lowered.
  std::string lowered;
  auto lower = [&lowered](std::string_view key) -> std::string_view {
    if (std::none_of(key.begin(), key.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
      return key;
    }
    lowered = LowerAscii(key);
    return lowered;
  };
  add(lookup(by_received_at_, lower(received_at)));
  add(lookup(by_brand_, lower(brand)));
  add(&by_update_type_[created ? 0 : 1]);
  add(&unindexed_);
  if (!by_tag_.empty()) {
    for (const std::string& tag : tags) {
      const Bucket* bucket = lookup(by_tag_, tag);
      if (bucket && count == std::size(buckets)) {
        // More tagged buckets than slots: fall back to every trigger, which is always correct.
        out.resize(triggers_.size());
        for (uint32_t i = 0; i < out.size(); ++i) out[i] = i;
        return;
      }
      add(bucket);
    }
  }
  if (count == 0) return;
  if (count == 1) {
    out.assign(buckets[0]->begin(), buckets[0]->end());
    return;
  }
  // Merge the smallest first, so that the large bucket (usually the unindexed one) is copied once.
  std::sort(buckets, buckets + count,
            [](const Bucket* a, const Bucket* b) { return a->size() < b->size(); });
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += buckets[i]->size();
  // Each union goes from one half of `out` to the other, so that no other buffer is needed:
  // [0, total) holds the result so far, [total, 2 * total) receives the next union.
  out.resize(2 * total);
  auto result_begin = out.begin();
  auto result_end = std::copy(buckets[0]->begin(), buckets[0]->end(), result_begin);
  auto spare = out.begin() + static_cast<std::ptrdiff_t>(total);
  for (size_t i = 1; i < count; ++i) {
    auto merged_end =
        std::set_union(result_begin, result_end, buckets[i]->begin(), buckets[i]->end(), spare);
    std::swap(result_begin, spare);
    result_end = merged_end;
  }
  if (result_begin != out.begin()) std::copy(result_begin, result_end, out.begin());
  out.resize(static_cast<size_t>(result_end - result_begin));
}

bool TriggerSet::IndexesTag(std::string_view tag) const {
  return by_tag_.find(tag) != by_tag_.end();
}

}  // namespace postdesk
