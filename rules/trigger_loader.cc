#include "rules/trigger_loader.h"

#include <array>
#include <charconv>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <unordered_map>
#include <utility>

#include "parser/email_address.h"
#include "parser/utf8.h"
#include "rules/ticket_state.h"

namespace postdesk {
namespace {

using Json = nlohmann::json;

// How a field compares, which decides the operators it takes and how its value is normalized.
enum class FieldKind {
  kOrdered,  // status, priority: named values with an order
  kId,       // exact, case-insensitive
  kText,     // free text: string operators
  kWords,    // *_includes_word: word operators
  kTags,     // current_tags
  kBool,     // comment_is_public
  kNumber,   // hours, days, counts
};

struct FieldSpec {
  std::string_view name;
  TriggerField field;
  FieldKind kind;
  bool changes;  // a trigger action can change it, so the change operators apply
};

// Zendesk's condition names (API "Conditions reference"), then Postdesk's for the facts Zendesk
// has no field for (documented in docs/triggers.md).
constexpr std::array<FieldSpec, 25> kFields = {{
    {"update_type", TriggerField::kUpdateType, FieldKind::kId, false},
    {"status", TriggerField::kStatus, FieldKind::kOrdered, true},
    {"priority", TriggerField::kPriority, FieldKind::kOrdered, true},
    {"type", TriggerField::kType, FieldKind::kId, true},
    {"group_id", TriggerField::kGroup, FieldKind::kId, true},
    {"assignee_id", TriggerField::kAssignee, FieldKind::kId, true},
    {"brand_id", TriggerField::kBrand, FieldKind::kId, false},
    {"received_at", TriggerField::kReceivedAt, FieldKind::kId, false},
    {"via_id", TriggerField::kVia, FieldKind::kId, false},
    {"current_via_id", TriggerField::kVia, FieldKind::kId, false},
    {"requester_id", TriggerField::kRequester, FieldKind::kId, false},
    {"requester_email", TriggerField::kRequesterEmail, FieldKind::kText, false},
    {"requester_name", TriggerField::kRequesterName, FieldKind::kText, false},
    {"subject", TriggerField::kSubject, FieldKind::kText, false},
    {"description", TriggerField::kDescription, FieldKind::kText, false},
    {"comment", TriggerField::kComment, FieldKind::kText, false},
    {"subject_includes_word", TriggerField::kSubjectWords, FieldKind::kWords, false},
    {"comment_includes_word", TriggerField::kCommentWords, FieldKind::kWords, false},
    {"comment_is_public", TriggerField::kCommentIsPublic, FieldKind::kBool, false},
    {"current_tags", TriggerField::kCurrentTags, FieldKind::kTags, false},
    {"sender_type", TriggerField::kSenderType, FieldKind::kId, false},
    {"role", TriggerField::kSenderType, FieldKind::kId, false},
    {"hour_of_day", TriggerField::kHourOfDay, FieldKind::kNumber, false},
    {"day_of_week", TriggerField::kDayOfWeek, FieldKind::kNumber, false},
    {"requester_previous_tickets", TriggerField::kRequesterPreviousTickets, FieldKind::kNumber,
     false},
}};

struct OperatorSpec {
  std::string_view name;
  TriggerOperator op;
};

constexpr std::array<OperatorSpec, 21> kOperators = {{
    {"is", TriggerOperator::kIs},
    {"is_not", TriggerOperator::kIsNot},
    {"less_than", TriggerOperator::kLessThan},
    {"greater_than", TriggerOperator::kGreaterThan},
    {"less_than_or_equal", TriggerOperator::kLessThanOrEqual},
    {"less_than_equal", TriggerOperator::kLessThanOrEqual},  // Zendesk's spelling
    {"greater_than_or_equal", TriggerOperator::kGreaterThanOrEqual},
    {"greater_than_equal", TriggerOperator::kGreaterThanOrEqual},
    {"includes", TriggerOperator::kIncludes},
    {"not_includes", TriggerOperator::kNotIncludes},
    {"contains", TriggerOperator::kContains},
    {"contains_case_sensitive", TriggerOperator::kContainsCaseSensitive},
    {"not_contains", TriggerOperator::kNotContains},
    {"regex", TriggerOperator::kRegex},
    {"regex_case_sensitive", TriggerOperator::kRegexCaseSensitive},
    {"changed", TriggerOperator::kChanged},
    {"value", TriggerOperator::kChangedTo},
    {"value_previous", TriggerOperator::kChangedFrom},
    {"not_changed", TriggerOperator::kNotChanged},
    {"not_value", TriggerOperator::kNotChangedTo},
    {"not_value_previous", TriggerOperator::kNotChangedFrom},
}};

bool IsChangeOperator(TriggerOperator op) { return op >= TriggerOperator::kChanged; }
bool IsOrderOperator(TriggerOperator op) {
  return op >= TriggerOperator::kLessThan && op <= TriggerOperator::kGreaterThanOrEqual;
}
bool IsStringOperator(TriggerOperator op) {
  return op >= TriggerOperator::kContains && op <= TriggerOperator::kRegexCaseSensitive;
}

bool OperatorFits(const FieldSpec& field, TriggerOperator op) {
  if (IsChangeOperator(op)) return field.changes;
  bool equality = op == TriggerOperator::kIs || op == TriggerOperator::kIsNot;
  bool includes = op == TriggerOperator::kIncludes || op == TriggerOperator::kNotIncludes;
  switch (field.kind) {
    case FieldKind::kOrdered:
    case FieldKind::kNumber:
      return equality || IsOrderOperator(op);
    case FieldKind::kId:
    case FieldKind::kBool:
      return equality;
    case FieldKind::kText:
    case FieldKind::kWords:
      return equality || includes || IsStringOperator(op);
    case FieldKind::kTags:
      return includes;
  }
  return false;
}

constexpr std::array<std::string_view, 6> kStatuses = {"new",  "open",   "pending",
                                                       "hold", "solved", "closed"};
constexpr std::array<std::string_view, 5> kPriorities = {"", "low", "normal", "high", "urgent"};
constexpr std::array<std::string_view, 5> kTypes = {"", "question", "incident", "problem", "task"};

template <size_t N>
int Ordinal(const std::array<std::string_view, N>& names, std::string_view value) {
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == value) return static_cast<int>(i);
  }
  return -1;
}

// A JSON scalar as Zendesk writes it: strings, numbers ("group_id": 360001) and booleans are all
// values; an array is a list of words.
Result<std::string> ValueText(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null:
      return std::string();
    case Json::value_t::string:
      return value.get<std::string>();
    case Json::value_t::boolean:
      return std::string(value.get<bool>() ? "true" : "false");
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
    case Json::value_t::number_float:
      return value.dump();
    case Json::value_t::array: {
      std::string joined;
      for (const Json& item : value) {
        if (item.is_array() || item.is_object()) return Status::Error("nested list in value");
        Result<std::string> text = ValueText(item);  // one level: bounded
        if (!joined.empty()) joined += ' ';
        joined += text.value();
      }
      return joined;
    }
    default:
      return Status::Error("value must be a string, number, boolean or list");
  }
}

Result<int64_t> ParseInteger(std::string_view text) {
  int64_t number = 0;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), number);
  if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
    return Status::Error("\"" + std::string(text) + "\" is not a whole number");
  }
  return number;
}

// Splits text into the lower-case words that *_includes_word compares: runs of letters and
// digits (any non-ASCII byte counts as a letter, so UTF-8 words stay whole).
std::vector<std::string> Words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || byte >= 0x80) {
      word += static_cast<char>(byte < 0x80 ? std::tolower(byte) : byte);
    } else if (!word.empty()) {
      words.push_back(std::move(word));
      word.clear();
    }
  }
  if (!word.empty()) words.push_back(std::move(word));
  std::sort(words.begin(), words.end());
  words.erase(std::unique(words.begin(), words.end()), words.end());
  return words;
}

// Python's re.escape: everything but letters, digits, '_' and non-ASCII is escaped.
std::string EscapeRegex(std::string_view text) {
  std::string escaped;
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (!(std::isalnum(byte) || byte == '_' || byte >= 0x80)) escaped += '\\';
    escaped += c;
  }
  return escaped;
}

// The action as TriggerAction::json keeps it, from its checked (hence shallow) field and value.
std::string ActionJson(const std::string& field, const Json& value) {
  return Json{{"field", field}, {"value", value}}.dump(-1, ' ', false,
                                                       Json::error_handler_t::replace);
}

class Loader {
 public:
  explicit Loader(std::string_view source) : source_(source) {}

  Result<std::vector<Trigger>> Triggers(const Json& root) {
    const Json* list = &root;
    if (root.is_object()) {
      auto it = root.find("triggers");
      if (it == root.end()) return Fail("expected {\"triggers\": [...]} or a list of triggers");
      list = &*it;
    }
    if (!list->is_array()) return Fail("\"triggers\" must be a list");
    std::vector<Trigger> triggers;
    triggers.reserve(list->size());
    // A trigger's id names it in the ticket's audit, in its notifications and in the actions a
    // "wait" left for later, so two triggers must not share one (explicit, or the position
    // that stands in for a missing one).
    std::unordered_map<std::string, size_t> first_with_id;
    for (size_t i = 0; i < list->size(); ++i) {
      Result<Trigger> trigger = OneTrigger((*list)[i], i);
      if (!trigger.ok()) return trigger.status();
      auto [it, fresh] = first_with_id.emplace(trigger->id, i);
      if (!fresh) {
        const Trigger& first = triggers[it->second];
        return Fail("trigger " + std::to_string(i + 1) + " \"" + trigger->title + "\" (id " +
                    trigger->id + "): the id of trigger " + std::to_string(it->second + 1) + " \"" +
                    first.title + "\" too; give each trigger its own \"id\"");
      }
      triggers.push_back(std::move(trigger).value());
    }
    return triggers;
  }

  Result<std::vector<TriggerAction>> Actions(const Json& list, const std::string& where) {
    if (!list.is_array()) return Fail(where + "\"actions\" must be a list");
    std::vector<TriggerAction> actions;
    for (size_t i = 0; i < list.size(); ++i) {
      Result<TriggerAction> action =
          OneAction(list[i], where + "actions[" + std::to_string(i) + "]");
      if (!action.ok()) return action.status();
      actions.push_back(std::move(action).value());
    }
    return actions;
  }

 private:
  Status Fail(const std::string& message) const {
    return Status::Error(std::string(source_) + ": " + message);
  }

  Result<Trigger> OneTrigger(const Json& item, size_t index) {
    Trigger trigger;
    trigger.id = std::to_string(index + 1);
    std::string where = "trigger " + std::to_string(index + 1);
    if (!item.is_object()) return Fail(where + ": a trigger must be an object");
    if (auto it = item.find("id"); it != item.end() && !it->is_null()) {
      Result<std::string> id = ValueText(*it);
      if (!id.ok()) return Fail(where + ": id: " + id.status().message());
      trigger.id = id.value();
    }
    if (auto it = item.find("title"); it != item.end() && it->is_string()) {
      trigger.title = it->get<std::string>();
    }
    where += " \"" + trigger.title + "\" (id " + trigger.id + "): ";
    if (auto it = item.find("active"); it != item.end()) {
      if (!it->is_boolean()) return Fail(where + "\"active\" must be true or false");
      trigger.active = it->get<bool>();
    }
    if (auto it = item.find("position"); it != item.end() && !it->is_null()) {
      if (!it->is_number_integer()) return Fail(where + "\"position\" must be a whole number");
      trigger.position = it->get<int64_t>();
    } else {
      trigger.position = static_cast<int64_t>(index);
    }
    if (auto it = item.find("conditions"); it != item.end() && !it->is_null()) {
      if (!it->is_object()) return Fail(where + "\"conditions\" must be an object");
      for (auto& [name, target] :
           {std::pair{"all", &trigger.all}, std::pair{"any", &trigger.any}}) {
        auto list = it->find(name);
        if (list == it->end() || list->is_null()) continue;
        if (!list->is_array()) return Fail(where + "conditions." + name + " must be a list");
        for (size_t i = 0; i < list->size(); ++i) {
          std::string place = where + "conditions." + name + "[" + std::to_string(i) + "]: ";
          Result<TriggerCondition> condition = OneCondition((*list)[i], place);
          if (!condition.ok()) return condition.status();
          target->push_back(std::move(condition).value());
        }
      }
    }
    auto actions = item.find("actions");
    if (actions == item.end()) return Fail(where + "no \"actions\"");
    Result<std::vector<TriggerAction>> parsed = Actions(*actions, where);
    if (!parsed.ok()) return parsed.status();
    trigger.actions = std::move(parsed).value();
    return trigger;
  }

  // Fails with PythonRegex's message alone; the caller adds the place.
  Result<std::shared_ptr<const PythonRegex>> Regex(const std::string& pattern, bool sensitive) {
    // One compiled regex per distinct pattern in the whole set (issue 5: compiled once).
    auto key = std::make_pair(pattern, sensitive);
    if (auto it = regexes_.find(key); it != regexes_.end()) return it->second;
    Result<PythonRegex> regex = PythonRegex::Compile(pattern, sensitive);
    if (!regex.ok()) return regex.status();
    auto shared = std::make_shared<const PythonRegex>(std::move(regex).value());
    regexes_.emplace(key, shared);
    return shared;
  }

  Result<TriggerCondition> OneCondition(const Json& item, const std::string& place) {
    if (!item.is_object()) return Fail(place + "a condition must be an object");
    auto field_it = item.find("field");
    auto op_it = item.find("operator");
    if (field_it == item.end() || !field_it->is_string()) return Fail(place + "no \"field\"");
    if (op_it == item.end() || !op_it->is_string()) return Fail(place + "no \"operator\"");
    std::string field_name = field_it->get<std::string>();
    std::string op_name = op_it->get<std::string>();
    const FieldSpec* field = nullptr;
    for (const FieldSpec& spec : kFields) {
      if (spec.name == field_name) field = &spec;
    }
    if (!field) return Fail(place + "unknown field \"" + field_name + "\"");
    const OperatorSpec* op = nullptr;
    for (const OperatorSpec& spec : kOperators) {
      if (spec.name == op_name) op = &spec;
    }
    if (!op) return Fail(place + "unknown operator \"" + op_name + "\"");
    if (!OperatorFits(*field, op->op)) {
      return Fail(place + "operator \"" + op_name + "\" does not apply to field \"" + field_name +
                  "\"");
    }
    TriggerCondition condition{field->field, op->op, {}, {}, 0, nullptr};
    std::string raw;
    if (auto value = item.find("value"); value != item.end()) {
      Result<std::string> text = ValueText(*value);
      if (!text.ok()) return Fail(place + text.status().message());
      raw = std::move(text).value();
    }
    Status status = Normalize(*field, raw, condition);
    if (!status.ok()) return Fail(place + "field \"" + field_name + "\": " + status.message());
    return condition;
  }

  Status Normalize(const FieldSpec& field, const std::string& raw, TriggerCondition& condition) {
    TriggerOperator op = condition.op;
    if (op == TriggerOperator::kChanged || op == TriggerOperator::kNotChanged) return Status();
    switch (field.kind) {
      case FieldKind::kOrdered: {
        std::string value = LowerAscii(raw);
        if (value == "-") value.clear();  // Zendesk writes "-" for "no priority"
        int ordinal = field.field == TriggerField::kStatus ? Ordinal(kStatuses, value)
                                                           : Ordinal(kPriorities, value);
        if (ordinal < 0) return Status::Error("unknown value \"" + raw + "\"");
        condition.value = value;
        condition.number = ordinal;
        return Status();
      }
      case FieldKind::kNumber: {
        Result<int64_t> number = ParseInteger(raw);
        if (!number.ok()) return number.status();
        condition.number = number.value();
        return Status();
      }
      case FieldKind::kBool: {
        std::string value = LowerAscii(raw);
        if (value == "requester_can_see_comment") value = "true";
        if (value != "true" && value != "false" && value != "not_relevant") {
          return Status::Error("unknown value \"" + raw + "\"");
        }
        condition.value = value;
        return Status();
      }
      case FieldKind::kTags:
        condition.words = ParseTags(raw);
        return Status();
      case FieldKind::kId:
        return NormalizeId(field, raw, condition);
      case FieldKind::kText:
      case FieldKind::kWords:
        return NormalizeText(field, raw, condition);
    }
    return Status();
  }

  Status NormalizeId(const FieldSpec& field, const std::string& raw, TriggerCondition& condition) {
    std::string value = LowerAscii(raw);
    switch (field.field) {
      case TriggerField::kUpdateType:
        if (value != "create" && value != "change") {
          return Status::Error("unknown value \"" + raw + "\" (Create or Change)");
        }
        break;
      case TriggerField::kType:
        if (value == "-") value.clear();
        if (Ordinal(kTypes, value) < 0) return Status::Error("unknown value \"" + raw + "\"");
        break;
      case TriggerField::kVia:
        if (value == "4" || value == "mail") value = "email";  // Zendesk's via id 4 is email
        break;
      case TriggerField::kSenderType:
        if (value == "end_user") break;
        if (value != "requester" && value != "agent") {
          return Status::Error("unknown value \"" + raw + "\" (requester, end_user or agent)");
        }
        break;
      default:
        break;
    }
    condition.value = std::move(value);
    return Status();
  }

  Status NormalizeText(const FieldSpec& field, const std::string& raw,
                       TriggerCondition& condition) {
    TriggerOperator op = condition.op;
    bool words_field = field.kind == FieldKind::kWords;
    if (op == TriggerOperator::kIncludes || op == TriggerOperator::kNotIncludes) {
      condition.words = Words(raw);
      if (condition.words.empty()) return Status::Error("no words to look for");
      // Words with non-ASCII letters also match the text's words caselessly ("ÉCOLE" is
      // "école"): PCRE2's Unicode case folding does it, as for contains.
      std::string alternatives;
      for (const std::string& word : condition.words) {
        if (IsAscii(word)) continue;
        if (!alternatives.empty()) alternatives += '|';
        alternatives += EscapeRegex(word);
      }
      if (!alternatives.empty()) {
        Result<std::shared_ptr<const PythonRegex>> regex = Regex("(?:" + alternatives + ")", false);
        if (!regex.ok()) return regex.status();
        condition.regex = regex.value();
      }
      return Status();
    }
    if (op == TriggerOperator::kRegex || op == TriggerOperator::kRegexCaseSensitive) {
      Result<std::shared_ptr<const PythonRegex>> regex =
          Regex(raw, op == TriggerOperator::kRegexCaseSensitive);
      if (!regex.ok()) return regex.status();
      condition.regex = regex.value();
      condition.value = raw;
      return Status();
    }
    // On a words field, "is" and "is_not" mean "contains the string" and "does not" (Zendesk).
    bool substring =
        words_field || op == TriggerOperator::kContains || op == TriggerOperator::kNotContains;
    bool sensitive = op == TriggerOperator::kContainsCaseSensitive;
    if (sensitive || IsAscii(raw)) {
      condition.value = sensitive ? raw : LowerAscii(raw);
      return Status();
    }
    // Case-insensitive comparison of non-ASCII text: PCRE2's Unicode case folding does it.
    std::string pattern = substring ? "(?s).*" + EscapeRegex(raw) + ".*" : EscapeRegex(raw);
    Result<std::shared_ptr<const PythonRegex>> regex = Regex(pattern, false);
    if (!regex.ok()) return regex.status();
    condition.regex = regex.value();
    condition.value = raw;
    return Status();
  }

  Result<std::shared_ptr<const MessageTemplate>> Template(const Json& text,
                                                          const std::string& place) {
    if (!text.is_string()) return Fail(place + "must be text");
    // One compiled template per distinct text in the whole set, as for regexes: triggers copied
    // from one another share their messages, and a cycle renders a shared one once.
    const std::string& source = text.get_ref<const std::string&>();
    if (auto it = templates_.find(source); it != templates_.end()) return it->second;
    Result<MessageTemplate> compiled = MessageTemplate::Compile(source);
    if (!compiled.ok()) return Fail(place + compiled.status().message());
    auto shared = std::make_shared<const MessageTemplate>(std::move(compiled).value());
    templates_.emplace(source, shared);
    return shared;
  }

  Result<TriggerAction> OneAction(const Json& item, const std::string& place_prefix) {
    std::string place = place_prefix + ": ";
    if (!item.is_object()) return Fail(place + "an action must be an object");
    auto field_it = item.find("field");
    if (field_it == item.end() || !field_it->is_string()) return Fail(place + "no \"field\"");
    std::string field = field_it->get<std::string>();
    place += "action \"" + field + "\": ";
    auto value_it = item.find("value");
    // A reference, not a copy: copying (or dumping) JSON recurses as deep as it nests, and an
    // action's value is only known to be shallow once checked below.
    const Json no_value;
    const Json& value = value_it == item.end() ? no_value : *value_it;
    TriggerAction action{TriggerActionKind::kStatus, {}, {}, 0, nullptr, nullptr, {}};

    static const std::map<std::string_view, TriggerActionKind> kActions = {
        {"status", TriggerActionKind::kStatus},
        {"priority", TriggerActionKind::kPriority},
        {"type", TriggerActionKind::kType},
        {"group_id", TriggerActionKind::kGroup},
        {"assignee_id", TriggerActionKind::kAssignee},
        {"set_tags", TriggerActionKind::kSetTags},
        {"current_tags", TriggerActionKind::kAddTags},
        {"remove_tags", TriggerActionKind::kRemoveTags},
        {"notification_user", TriggerActionKind::kNotifyUser},
        {"notification_group", TriggerActionKind::kNotifyGroup},
        {"notification_target", TriggerActionKind::kNotifyTarget},
        {"suspend_sender", TriggerActionKind::kSuspendSender},
        {"wait", TriggerActionKind::kWait},
    };
    auto kind = kActions.find(field);
    if (kind == kActions.end())
      return Fail(place_prefix + ": unknown action field \"" + field + "\"");
    action.kind = kind->second;

    switch (action.kind) {
      case TriggerActionKind::kNotifyUser:
      case TriggerActionKind::kNotifyGroup: {
        // ["requester_id" | "assignee_id" | "all_agents" | a user or group, subject, body]
        if (!value.is_array() || value.size() != 3) {
          return Fail(place + "value must be [recipient, subject, body]");
        }
        Result<std::string> recipient = ValueText(value[0]);
        if (!recipient.ok() || recipient.value().empty()) return Fail(place + "no recipient");
        action.value = recipient.value();
        auto subject = Template(value[1], place + "subject: ");
        if (!subject.ok()) return subject.status();
        auto body = Template(value[2], place + "body: ");
        if (!body.ok()) return body.status();
        action.subject = subject.value();
        action.body = body.value();
        action.json = ActionJson(field, value);
        return action;
      }
      case TriggerActionKind::kNotifyTarget: {
        // [target id, message]; the target's subject comes from its configuration.
        if (!value.is_array() || value.size() != 2) {
          return Fail(place + "value must be [target id, message]");
        }
        Result<std::string> target = ValueText(value[0]);
        if (!target.ok() || target.value().empty()) return Fail(place + "no target id");
        action.value = target.value();
        auto body = Template(value[1], place + "message: ");
        if (!body.ok()) return body.status();
        action.body = body.value();
        action.json = ActionJson(field, value);
        return action;
      }
      default:
        break;
    }
    Result<std::string> text = ValueText(value);
    if (!text.ok()) return Fail(place + text.status().message());
    std::string lower = LowerAscii(text.value());
    switch (action.kind) {
      case TriggerActionKind::kStatus:
        if (Ordinal(kStatuses, lower) < 0 || lower == "new") {
          return Fail(place + "unknown status \"" + text.value() + "\"");
        }
        action.value = lower;
        break;
      case TriggerActionKind::kPriority:
      case TriggerActionKind::kType: {
        if (lower == "-") lower.clear();
        bool known = action.kind == TriggerActionKind::kPriority ? Ordinal(kPriorities, lower) >= 0
                                                                 : Ordinal(kTypes, lower) >= 0;
        if (!known) return Fail(place + "unknown value \"" + text.value() + "\"");
        action.value = lower;
        break;
      }
      case TriggerActionKind::kGroup:
      case TriggerActionKind::kAssignee:
        action.value = lower;
        break;
      case TriggerActionKind::kSetTags:
      case TriggerActionKind::kAddTags:
      case TriggerActionKind::kRemoveTags:
        action.tags = ParseTags(text.value());
        break;
      case TriggerActionKind::kSuspendSender:
        if (lower != "true") return Fail(place + "value must be true");
        break;
      case TriggerActionKind::kWait: {
        // Seconds; at most 30 days, past which a delayed action is a forgotten one.
        Result<int64_t> seconds = ParseInteger(text.value());
        if (!seconds.ok() || seconds.value() < 1 || seconds.value() > 30 * 86400) {
          return Fail(place + "value must be a number of seconds from 1 to 2592000");
        }
        action.wait_seconds = seconds.value();
        break;
      }
      default:
        break;
    }
    action.json = ActionJson(field, value);
    return action;
  }

  std::string_view source_;
  std::map<std::pair<std::string, bool>, std::shared_ptr<const PythonRegex>> regexes_;
  std::map<std::string, std::shared_ptr<const MessageTemplate>, std::less<>> templates_;
};

Result<Json> ParseJson(std::string_view text, std::string_view source) {
  if (text.size() > kMaxTriggerFileBytes) {
    return Status::Error(std::string(source) + ": larger than " +
                         std::to_string(kMaxTriggerFileBytes) + " bytes");
  }
  // nlohmann's parser keeps its own stack, so deep nesting cannot overflow ours. Its exceptions
  // stop here: no exception leaves the loader.
  try {
    return Json::parse(text);
  } catch (const Json::exception& error) {
    return Status::Error(std::string(source) + ": " + error.what());
  }
}

}  // namespace

Result<std::vector<Trigger>> ParseTriggers(std::string_view json, std::string_view source) {
  Result<Json> root = ParseJson(json, source);
  if (!root.ok()) return root.status();
  return Loader(source).Triggers(root.value());
}

Result<std::vector<TriggerAction>> ParseTriggerActions(std::string_view json) {
  Result<Json> root = ParseJson(json, "delayed actions");
  if (!root.ok()) return root.status();
  return Loader("delayed actions").Actions(root.value(), "");
}

Result<std::shared_ptr<const TriggerSet>> LoadTriggerSet(std::string_view json,
                                                         std::string_view source) {
  Result<std::vector<Trigger>> triggers = ParseTriggers(json, source);
  if (!triggers.ok()) return triggers.status();
  return std::make_shared<const TriggerSet>(std::move(triggers).value());
}

}  // namespace postdesk
