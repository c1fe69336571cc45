#include "rules/trigger.h"

#include <algorithm>
#include <iterator>
#include <utility>

#include "parser/email_address.h"
#include "rules/compiled_triggers.h"

namespace postdesk {
namespace {

bool IsEquality(const TriggerCondition& condition, TriggerField field) {
  return condition.field == field && condition.op == TriggerOperator::kIs;
}

// The union of two ascending lists without repeats, into `out`; returns its size. No branch
// depends on the values (the smaller is picked with a conditional move), so the processor never
// mispredicts one, as it would on half of std::set_union's comparisons.
size_t Union(const uint32_t* a, size_t a_size, const uint32_t* b, size_t b_size, uint32_t* out) {
  size_t i = 0;
  size_t j = 0;
  size_t k = 0;
  while (i < a_size && j < b_size) {
    const uint32_t x = a[i];
    const uint32_t y = b[j];
    out[k++] = x < y ? x : y;
    i += x <= y ? 1 : 0;
    j += y <= x ? 1 : 0;
  }
  while (i < a_size) out[k++] = a[i++];
  while (j < b_size) out[k++] = b[j++];
  return k;
}

}  // namespace

const std::string* TriggerSet::GroupName(std::string_view id) const {
  if (group_names_.empty() || id.empty()) return nullptr;
  auto it = group_names_.find(std::string(id));
  return it == group_names_.end() ? nullptr : &it->second;
}

TriggerSet::TriggerSet(std::vector<Trigger> triggers, GroupNames group_names)
    : group_names_(std::move(group_names)) {
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
  std::vector<int32_t> keys(triggers_.size(), -1);  // that condition, by index in `all`
  for (uint32_t i = 0; i < triggers_.size(); ++i) {
    const std::vector<TriggerCondition>& all = triggers_[i].all;
    auto find = [&all](TriggerField field) -> int32_t {
      for (size_t k = 0; k < all.size(); ++k) {
        const TriggerCondition& condition = all[k];
        if (IsEquality(condition, field)) return static_cast<int32_t>(k);
        if (field == TriggerField::kCurrentTags && condition.field == field &&
            condition.op == TriggerOperator::kIncludes && !condition.words.empty()) {
          return static_cast<int32_t>(k);
        }
      }
      return -1;
    };
    for (TriggerField field : {TriggerField::kReceivedAt, TriggerField::kBrand,
                               TriggerField::kCurrentTags, TriggerField::kUpdateType}) {
      keys[i] = find(field);
      if (keys[i] >= 0) break;
    }
  }
  // The compiled conditions intern every key.
  compiled_ = std::make_shared<const CompiledTriggers>(triggers_, keys);
  const InternTable& ids = compiled_->ids();
  const InternTable& tags = compiled_->tags();
  std::vector<std::vector<uint32_t>> by_received_at(ids.size());
  std::vector<std::vector<uint32_t>> by_brand(ids.size());
  std::vector<std::vector<uint32_t>> by_tag(tags.size());
  std::vector<uint32_t> by_update_type[2];
  std::vector<uint32_t> unindexed;
  for (uint32_t i = 0; i < triggers_.size(); ++i) {
    if (keys[i] < 0) {
      unindexed.push_back(i);
      continue;
    }
    const TriggerCondition& key = triggers_[i].all[static_cast<size_t>(keys[i])];
    switch (key.field) {
      case TriggerField::kReceivedAt:
        by_received_at[ids.FindLowered(key.value)].push_back(i);
        break;
      case TriggerField::kBrand:
        by_brand[ids.FindLowered(key.value)].push_back(i);
        break;
      case TriggerField::kCurrentTags:
        for (const std::string& tag : key.words) by_tag[tags.Find(tag)].push_back(i);
        break;
      default:
        by_update_type[key.value == "create" ? 0 : 1].push_back(i);
        break;
    }
  }
  auto lay_out = [this](const std::vector<uint32_t>& items) {
    Bucket bucket{static_cast<uint32_t>(bucket_items_.size()), 0};
    bucket_items_.insert(bucket_items_.end(), items.begin(), items.end());
    bucket.end = static_cast<uint32_t>(bucket_items_.size());
    return bucket;
  };
  auto lay_out_all = [&lay_out](const std::vector<std::vector<uint32_t>>& lists,
                                std::vector<Bucket>& buckets) {
    buckets.resize(lists.size());
    for (size_t id = 0; id < lists.size(); ++id) buckets[id] = lay_out(lists[id]);
  };
  lay_out_all(by_received_at, by_received_at_);
  lay_out_all(by_brand, by_brand_);
  lay_out_all(by_tag, by_tag_);
  // Every event's candidates include the triggers of its update type and the unindexed ones:
  // merged once here.
  for (int created = 0; created < 2; ++created) {
    std::vector<uint32_t> base;
    std::set_union(by_update_type[created].begin(), by_update_type[created].end(),
                   unindexed.begin(), unindexed.end(), std::back_inserter(base));
    by_update_type_[created] = lay_out(base);
  }
}

void TriggerSet::Candidates(bool created, std::string_view received_at, std::string_view brand,
                            const std::vector<std::string>& tags,
                            std::vector<uint32_t>& out) const {
  // The index keys are the loader's lower-case values; the ticket's may keep their case.
  const InternTable& ids = compiled_->ids();
  std::vector<uint32_t> tag_ids;
  tag_ids.reserve(tags.size());
  for (const std::string& tag : tags) tag_ids.push_back(compiled_->tags().Find(tag));
  CandidatesByIds(created, ids.FindLowered(received_at), ids.FindLowered(brand), tag_ids, out);
}

bool TriggerSet::CandidatesByIds(bool created, uint32_t received_at, uint32_t brand,
                                 const std::vector<uint32_t>& tags,
                                 std::vector<uint32_t>& out) const {
  out.clear();
  const Bucket* buckets[kMaxBuckets];
  size_t count = 0;
  auto add = [&](const Bucket& bucket) {
    if (bucket.size() > 0 && count < std::size(buckets)) buckets[count++] = &bucket;
  };
  if (received_at < by_received_at_.size()) add(by_received_at_[received_at]);
  if (brand < by_brand_.size()) add(by_brand_[brand]);
  add(by_update_type_[created ? 0 : 1]);
  for (uint32_t tag : tags) {
    if (tag >= by_tag_.size() || by_tag_[tag].size() == 0) continue;
    if (count == std::size(buckets)) {
      out.resize(triggers_.size());
      for (uint32_t i = 0; i < out.size(); ++i) out[i] = i;
      return false;
    }
    add(by_tag_[tag]);
  }
  if (count == 0) return true;
  auto items = [this](const Bucket& bucket) {
    return std::pair(bucket_items_.begin() + bucket.begin, bucket_items_.begin() + bucket.end);
  };
  if (count == 1) {
    auto [begin, end] = items(*buckets[0]);
    out.assign(begin, end);
    return true;
  }
  // Merge the smallest first, so that the large bucket is copied once. Each union goes from one
  // half of `out` to the other, so that no other buffer is needed: [0, total) holds the result
  // so far, [total, 2 * total) receives the next union.
  std::sort(buckets, buckets + count,
            [](const Bucket* a, const Bucket* b) { return a->size() < b->size(); });
  size_t total = 0;
  for (size_t i = 0; i < count; ++i) total += buckets[i]->size();
  out.resize(2 * total);
  uint32_t* result = out.data();
  uint32_t* spare = out.data() + total;
  auto [first_begin, first_end] = items(*buckets[0]);
  size_t size = static_cast<size_t>(std::copy(first_begin, first_end, result) - result);
  for (size_t i = 1; i < count; ++i) {
    auto [begin, end] = items(*buckets[i]);
    size = Union(result, size, &*begin, static_cast<size_t>(end - begin), spare);
    std::swap(result, spare);
  }
  if (result != out.data()) std::copy(result, result + size, out.data());
  out.resize(size);
  return true;
}

uint32_t TriggerSet::AddTagCandidates(uint32_t tag, std::vector<uint32_t>& candidates,
                                      std::vector<uint32_t>& spare) const {
  if (!IndexesTagId(tag)) return UINT32_MAX;
  const Bucket& bucket = by_tag_[tag];
  spare.resize(candidates.size() + bucket.size());
  spare.resize(Union(candidates.data(), candidates.size(), &bucket_items_[bucket.begin],
                     bucket.size(), spare.data()));
  candidates.swap(spare);
  return bucket_items_[bucket.begin];
}

bool TriggerSet::IndexesTag(std::string_view tag) const {
  return IndexesTagId(compiled_->tags().Find(tag));
}

}  // namespace postdesk
