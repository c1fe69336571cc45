#include "parser/message_json.h"

namespace postdesk {
namespace {

nlohmann::json Optional(const std::optional<std::string>& value) {
  return value ? nlohmann::json(*value) : nlohmann::json(nullptr);
}

}  // namespace

nlohmann::json MessageToJson(const ParsedMessage& m) {
  nlohmann::json attachments = nlohmann::json::array();
  for (const Attachment& a : m.attachments) {
    attachments.push_back({{"filename", a.filename},
                           {"content_type", a.content_type},
                           {"size", a.size},
                           {"content_id", a.content_id}});
  }
  return {
      {"subject", m.subject},
      {"from_email", m.from_email},
      {"from_name", m.from_name},
      {"description", m.description},
      {"truncated", m.truncated},
      {"attachments", std::move(attachments)},
      {"message_id", m.message_id},
      {"in_reply_to", m.in_reply_to},
      {"references", m.references},
      {"auto_submitted", m.auto_submitted},
      {"precedence", m.precedence},
      {"to", m.to},
      {"cc", m.cc},
      {"reply_to", m.reply_to},
      {"received_count", m.received_count},
      {"list_id", Optional(m.list_id)},
      {"list_unsubscribe", Optional(m.list_unsubscribe)},
      {"x_loop", m.x_loop},
      {"x_autoreply", Optional(m.x_autoreply)},
      {"x_autorespond", Optional(m.x_autorespond)},
      {"x_autoresponder", Optional(m.x_autoresponder)},
      {"x_auto_response_suppress", Optional(m.x_auto_response_suppress)},
      {"x_failed_recipients", Optional(m.x_failed_recipients)},
      {"content_type", m.content_type},
      {"report_type", m.report_type},
      {"delivered_to", m.delivered_to},
      {"x_forwarded_to", m.x_forwarded_to},
      {"x_original_to", m.x_original_to},
      {"warnings", m.warnings},
  };
}

}  // namespace postdesk
