// The compiled trigger model: Zendesk's trigger JSON after loading (rules/trigger_loader.h).
//
// A TriggerSet owns its triggers, their compiled regexes and message templates, and an index of
// what each trigger selects on, so that an event only visits the triggers that can fire on it
// (design.md, "Triggers": 10,000 triggers must not make each event 10,000 times slower).
//
// A TriggerSet is immutable once built: share it between worker threads through a
// std::shared_ptr<const TriggerSet> and swap the pointer to reload. Nothing here fails; loading
// does (trigger_loader.h).
#ifndef POSTDESK_RULES_TRIGGER_H_
#define POSTDESK_RULES_TRIGGER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "rules/placeholders.h"
#include "rules/python_regex.h"

namespace postdesk {

class CompiledTriggers;  // compiled_triggers.h, internal to rules/

// Condition fields. Their Zendesk names are in trigger_loader.cc.
enum class TriggerField : uint8_t {
  kUpdateType,
  kStatus,
  kPriority,
  kType,
  kGroup,
  kAssignee,
  kBrand,
  kReceivedAt,
  kVia,
  kRequester,  // requester_id: the requester's email address here
  kRequesterEmail,
  kRequesterName,
  kSubject,
  kDescription,
  kComment,
  kSubjectWords,  // subject_includes_word
  kCommentWords,  // comment_includes_word
  kCommentIsPublic,
  kCurrentTags,
  kSenderType,
  kHourOfDay,
  kDayOfWeek,
  kRequesterPreviousTickets,
};

enum class TriggerOperator : uint8_t {
  kIs,
  kIsNot,
  kLessThan,
  kGreaterThan,
  kLessThanOrEqual,
  kGreaterThanOrEqual,
  kIncludes,     // any of the words or tags
  kNotIncludes,  // none of them
  kContains,     // case-insensitive substring
  kContainsCaseSensitive,
  kNotContains,
  kRegex,  // case-insensitive, full match
  kRegexCaseSensitive,
  kChanged,
  kChangedTo,    // "value"
  kChangedFrom,  // "value_previous"
  kNotChanged,
  kNotChangedTo,    // "not_value"
  kNotChangedFrom,  // "not_value_previous"
};

struct TriggerCondition {
  TriggerField field;
  TriggerOperator op;
  // The value, normalized: lower case wherever the comparison ignores case.
  std::string value;
  // Words or tags for includes / not_includes; sorted, lower case.
  std::vector<std::string> words;
  // Ordinal or number for the ordering operators.
  int64_t number = 0;
  // For regex operators, and for case-insensitive contains of non-ASCII text.
  std::shared_ptr<const PythonRegex> regex;
};

enum class TriggerActionKind : uint8_t {
  kStatus,
  kPriority,
  kType,
  kGroup,
  kAssignee,
  kSetTags,
  kAddTags,
  kRemoveTags,
  kNotifyUser,
  kNotifyGroup,
  kNotifyTarget,
  kSuspendSender,
  kWait,
};

struct TriggerAction {
  TriggerActionKind kind;
  // Field value (status, priority...), or the notification's recipient: "requester_id",
  // "assignee_id", "all_agents", a user, a group or a target id.
  std::string value;
  std::vector<std::string> tags;
  int64_t wait_seconds = 0;
  std::shared_ptr<const MessageTemplate> subject;
  std::shared_ptr<const MessageTemplate> body;
  // The action as it was written, so that delayed actions survive in storage and reload.
  std::string json;
};

struct Trigger {
  std::string id;  // Zendesk's id when the file has one, else the 1-based position in the file
  std::string title;
  bool active = true;
  int64_t position = 0;
  std::vector<TriggerCondition> all;
  std::vector<TriggerCondition> any;
  std::vector<TriggerAction> actions;
};

// A group id (lower case, as conditions and actions hold it) to its name, for
// {{ticket.group.name}}.
using GroupNames = std::unordered_map<std::string, std::string>;

class TriggerSet {
 public:
  // Takes active triggers in position order (ties keep file order); builds the index. The group
  // names come with the set, so that a reload swaps both at once.
  explicit TriggerSet(std::vector<Trigger> triggers, GroupNames group_names = {});

  // The configured name of a group id, or null.
  const std::string* GroupName(std::string_view id) const;

  // Active triggers only, in the order the cycle runs them.
  const std::vector<Trigger>& triggers() const { return triggers_; }
  size_t inactive_count() const { return inactive_count_; }

  // Appends to `out`, in run order, the index of every trigger that can fire on an event with
  // these facts: a trigger that requires a different received_at, brand, update type or tags is
  // left out. `out` is cleared first.
  void Candidates(bool created, std::string_view received_at, std::string_view brand,
                  const std::vector<std::string>& tags, std::vector<uint32_t>& out) const;
  // The same from the facts' ids in compiled(): received_at and brand as ids().FindLowered gives
  // them, the tags as tags().Find does (any other value counts as no id), for the cycle, which has
  // them already. True if every candidate is in a bucket of the index, so that the condition it
  // was indexed by holds (CompiledTriggers::Matches may skip it); false if every trigger is.
  bool CandidatesByIds(bool created, uint32_t received_at, uint32_t brand,
                       const std::vector<uint32_t>& tags, std::vector<uint32_t>& out) const;

  // Merges into `candidates` (an exact CandidatesByIds answer for a ticket with at most 32 tags)
  // the triggers indexed by `tag` (a tags() id), as CandidatesByIds would answer with the tag
  // added; `spare` is a buffer. Returns the first trigger index the tag's bucket holds, or
  // UINT32_MAX if the index has no trigger for it.
  uint32_t AddTagCandidates(uint32_t tag, std::vector<uint32_t>& candidates,
                            std::vector<uint32_t>& spare) const;

  // True if a trigger is indexed by `tag` (lower case): adding or removing any other tag leaves
  // Candidates' answer as it was.
  bool IndexesTag(std::string_view tag) const;
  bool IndexesTagId(uint32_t tag) const { return tag < by_tag_.size() && by_tag_[tag].size() > 0; }

  // The conditions of triggers(), compiled for the cycle (trigger_engine.cc).
  const CompiledTriggers& compiled() const { return *compiled_; }

 private:
  struct Bucket {  // trigger indexes, ascending: bucket_items_[begin, end)
    uint32_t begin = 0;
    uint32_t end = 0;
    size_t size() const { return end - begin; }
  };
  // At most this many buckets are merged; more (a ticket with dozens of indexed tags) make every
  // trigger a candidate, which is always correct.
  static constexpr size_t kMaxBuckets = 64;

  template <typename TagIds>
  void Merge(bool created, uint32_t received_at, uint32_t brand, const TagIds& tag_ids,
             std::vector<uint32_t>& out) const;

  std::vector<Trigger> triggers_;
  size_t inactive_count_ = 0;
  GroupNames group_names_;
  std::shared_ptr<const CompiledTriggers> compiled_;
  std::vector<uint32_t> bucket_items_;
  std::vector<Bucket> by_received_at_;  // by id in compiled_->ids()
  std::vector<Bucket> by_brand_;        // by id in compiled_->ids()
  std::vector<Bucket> by_tag_;          // by id in compiled_->tags()
  // [0] Create, [1] Change: the update type's triggers and those the index has no key for.
  Bucket by_update_type_[2];
};

}  // namespace postdesk

#endif  // POSTDESK_RULES_TRIGGER_H_
