// Reading the notification sections of the configuration: [notify], [[target]] and [[group]].
// Internal to the configuration code (config.cc); pure, one thread at a time. Errors name the
// key, as TableReader's do.
#ifndef POSTDESK_GATEWAY_NOTIFY_CONFIG_H_
#define POSTDESK_GATEWAY_NOTIFY_CONFIG_H_

#include "gateway/config.h"
#include "gateway/toml_table_reader.h"

namespace postdesk {

Status ReadNotify(TableReader& r, NotifyConfig* out);
Status ReadTarget(TableReader& r, TargetConfig* out);
Status ReadGroup(TableReader& r, GroupConfig* out);
// Target and group ids are unique; every notification_target of the triggers names a target.
Status CheckNotifyReferences(const Config& config);

// "host:port" of a relay; fails with the reason.
Result<ListenAddress> ParseRelay(std::string_view text);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_NOTIFY_CONFIG_H_
