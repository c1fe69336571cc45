#include "gateway/notify_config.h"

#include <charconv>
#include <set>

#include "parser/email_address.h"

namespace postdesk {
namespace {

Status Mailbox(TableReader& r, std::string_view key, std::string* value, bool required) {
  RETURN_IF_ERROR(r.String(key, value));
  if (value->empty()) {
    return required ? Status::Error(r.Name(key) + ": required") : Status::Ok();
  }
  if (!IsValidMailbox(*value) || SplitAddress(*value).domain.empty()) {
    return Status::Error(r.Name(key) + ": \"" + *value + "\" is not a mailbox address");
  }
  *value = LowerAscii(*value);
  return Status::Ok();
}

Status MailboxList(TableReader& r, std::string_view key, std::vector<std::string>* out) {
  RETURN_IF_ERROR(r.StringList(key, out));
  for (size_t i = 0; i < out->size(); ++i) {
    std::string& address = (*out)[i];
    if (!IsValidMailbox(address) || SplitAddress(address).domain.empty()) {
      return Status::Error(r.Name(key) + "[" + std::to_string(i) + "]: \"" + address +
                           "\" is not a mailbox address");
    }
    address = LowerAscii(address);
  }
  return Status::Ok();
}

}  // namespace

Result<ListenAddress> ParseRelay(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return Status::Error("expected host:port");
  ListenAddress out;
  out.host = std::string(text.substr(0, colon));
  if (out.host.size() > 2 && out.host.front() == '[' && out.host.back() == ']') {
    out.host = out.host.substr(1, out.host.size() - 2);
  }
  std::string_view port = text.substr(colon + 1);
  unsigned value = 0;
  auto [end, error] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (error != std::errc() || end != port.data() + port.size() || value == 0 || value > 65535) {
    return Status::Error("port must be 1-65535");
  }
  out.port = static_cast<uint16_t>(value);
  return out;
}

Status ReadNotify(TableReader& r, NotifyConfig* out) {
  RETURN_IF_ERROR(r.String("relay", &out->relay));
  if (!out->relay.empty()) {
    Result<ListenAddress> relay = ParseRelay(out->relay);
    if (!relay.ok()) return Status::Error(r.Name("relay") + ": " + relay.status().message());
  }
  RETURN_IF_ERROR(r.Bool("relay_tls", &out->relay_tls));
  RETURN_IF_ERROR(r.Bool("relay_require_tls", &out->relay_require_tls));
  int64_t initial = out->retry_initial.count(), max = out->retry_max.count();
  RETURN_IF_ERROR(r.Integer("retry_initial_ms", 1, 3600000, &initial));
  RETURN_IF_ERROR(r.Integer("retry_max_ms", 1, 86400000, &max));
  if (max < initial) return Status::Error(r.Name("retry_max_ms") + ": below retry_initial_ms");
  out->retry_initial = std::chrono::milliseconds(initial);
  out->retry_max = std::chrono::milliseconds(max);
  RETURN_IF_ERROR(Mailbox(r, "admin_email", &out->admin_email, false));
  RETURN_IF_ERROR(Mailbox(r, "archive_address", &out->archive_address, false));
  RETURN_IF_ERROR(MailboxList(r, "partner_addresses", &out->partner_addresses));
  RETURN_IF_ERROR(MailboxList(r, "agents", &out->agents));
  RETURN_IF_ERROR(r.Integer("ticket_recipient_limit", 1, 1000000, &out->ticket_recipient_limit));
  RETURN_IF_ERROR(r.Duration("ticket_recipient_window", &out->ticket_recipient_window));
  RETURN_IF_ERROR(r.Integer("recipient_limit", 1, 1000000, &out->recipient_limit));
  RETURN_IF_ERROR(r.Duration("recipient_window", &out->recipient_window));
  // Zammad's caps count over minutes to hours; outside that a cap either never resets within a
  // loop's lifetime or forgets the loop before it is stopped.
  for (auto [key, value] : {std::pair{"ticket_recipient_window", out->ticket_recipient_window},
                            {"recipient_window", out->recipient_window}}) {
    if (value < std::chrono::minutes(1) || value > std::chrono::hours(24)) {
      return Status::Error(r.Name(key) + ": must be between 1m and 24h");
    }
  }
  RETURN_IF_ERROR(r.Integer("target_failure_limit", 1, 1000, &out->target_failure_limit));
  return r.Finish();
}

Status ReadTarget(TableReader& r, TargetConfig* out) {
  RETURN_IF_ERROR(r.String("id", &out->id));
  if (out->id.empty()) return Status::Error(r.Name("id") + ": required");
  RETURN_IF_ERROR(r.String("title", &out->title));
  RETURN_IF_ERROR(Mailbox(r, "email", &out->email, true));
  RETURN_IF_ERROR(r.String("subject", &out->subject));
  if (out->subject.find_first_of("\r\n") != std::string::npos) {
    return Status::Error(r.Name("subject") + ": must be one line");
  }
  RETURN_IF_ERROR(r.String("relay", &out->relay));
  if (!out->relay.empty()) {
    Result<ListenAddress> relay = ParseRelay(out->relay);
    if (!relay.ok()) return Status::Error(r.Name("relay") + ": " + relay.status().message());
  }
  RETURN_IF_ERROR(r.Bool("active", &out->active));
  return r.Finish();
}

Status ReadGroup(TableReader& r, GroupConfig* out) {
  RETURN_IF_ERROR(r.String("id", &out->id));
  if (out->id.empty()) return Status::Error(r.Name("id") + ": required");
  out->id = LowerAscii(out->id);  // as trigger actions store group ids
  RETURN_IF_ERROR(r.String("name", &out->name));
  RETURN_IF_ERROR(MailboxList(r, "members", &out->members));
  return r.Finish();
}

Status CheckNotifyReferences(const Config& config) {
  std::set<std::string> targets, groups;
  for (const TargetConfig& t : config.targets) {
    if (!targets.insert(t.id).second) return Status::Error("[[target]] id \"" + t.id + "\" twice");
  }
  for (const GroupConfig& g : config.groups) {
    if (!groups.insert(g.id).second) return Status::Error("[[group]] id \"" + g.id + "\" twice");
  }
  if (!config.triggers.set) return Status::Ok();
  for (const Trigger& trigger : config.triggers.set->triggers()) {
    for (const TriggerAction& action : trigger.actions) {
      if (action.kind == TriggerActionKind::kNotifyTarget && !targets.count(action.value)) {
        return Status::Error("trigger \"" + trigger.title + "\" (id " + trigger.id +
                             "): notification_target: no [[target]] with id \"" + action.value +
                             "\"");
      }
    }
  }
  return Status::Ok();
}

}  // namespace postdesk
