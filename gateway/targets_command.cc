// `postdesk targets`: the email targets of the configuration and their health in Redis
// (design.md, "Targets and notifications"): list them, send a test message, and deactivate or
// reactivate one by hand (a target deactivated after repeated failures stays so until then).
#include <uv.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>

#include "gateway/commands.h"
#include "gateway/notify_config.h"
#include "gateway/smtp_client.h"
#include "gateway/tls_stream.h"
#include "gateway/tool_redis.h"
#include "parser/notification_message.h"
#include "storage/outbox_queue.h"

namespace postdesk {
namespace {

constexpr char kHelp[] =
    "usage: postdesk targets list --config FILE\n"
    "       postdesk targets test ID --config FILE\n"
    "       postdesk targets activate ID --config FILE\n"
    "       postdesk targets deactivate ID --config FILE\n"
    "\n"
    "Email targets ([[target]] in FILE) that notification_target actions send to. 'list'\n"
    "prints each with its state as JSON: active (it is sent to), active_in_configuration (its\n"
    "[[target]] active key), deactivated (by 21 consecutive failures or 'deactivate'),\n"
    "consecutive failures, last error; 'test' sends a test message to it now through its relay\n"
    "and prints the relay's answer; 'activate' and 'deactivate' switch it (activating also\n"
    "clears its failure count; a target whose [[target]] says active = false stays inactive).\n";

// Sends one message through a fresh SmtpClient on a private loop and waits for the answer.
DeliveryResult SendNow(const Config& config, const std::string& relay, OutboundMessage message) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  SmtpClient::Options options;
  ListenAddress address = ParseRelay(relay).value();
  options.host = address.host;
  options.port = address.port;
  options.helo_name = config.hostname;
  if (config.notify.relay_tls) {
    Result<std::shared_ptr<const TlsContext>> tls = TlsContext::Client();
    if (tls.ok()) options.tls = tls.value();
  }
  options.require_tls = config.notify.relay_require_tls;
  options.connect_timeout = std::chrono::seconds(10);
  options.command_timeout = std::chrono::seconds(30);
  std::optional<DeliveryResult> answer;
  {
    SmtpClient client(&loop, options);
    client.Send(std::move(message), [&answer](DeliveryResult r) { answer = std::move(r); });
    while (!answer && uv_run(&loop, UV_RUN_ONCE)) {
    }
    bool closed = false;
    client.Close([&closed] { closed = true; });
    while (!closed && uv_run(&loop, UV_RUN_ONCE)) {
    }
  }
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
  if (!answer) answer = DeliveryResult{DeliveryResult::Kind::kTemporary, 0, "no answer", {}};
  return *answer;
}

}  // namespace

int TargetsCommand(const Args& args) {
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  std::string_view verb = args.empty() ? "" : args[0];
  bool needs_id = verb == "test" || verb == "activate" || verb == "deactivate";
  if (!config_path || (verb != "list" && !needs_id) || (needs_id && args.size() < 2)) {
    std::fprintf(stderr, "%s", kHelp);
    return 2;
  }
  Result<Config> config = LoadConfigFile(*config_path, ConfigParts::kWithoutTriggers);
  if (!config.ok()) return Fail(config.status().message());
  const TargetConfig* target = nullptr;
  if (needs_id) {
    for (const TargetConfig& t : config->targets) {
      if (t.id == args[1]) target = &t;
    }
    if (!target) return Fail("no [[target]] with id \"" + std::string(args[1]) + "\"");
  }
  Result<AdminRedis> redis = OpenRedis(config.value());
  if (!redis.ok()) return Fail(redis.status().message());
  Result<std::unique_ptr<OutboxQueue>> queue =
      OutboxQueue::Connect(redis->connection->address(), "targets-command");
  if (!queue.ok()) return Fail(queue.status().message());

  if (verb == "list") {
    nlohmann::json list = nlohmann::json::array();
    for (const TargetConfig& t : config->targets) {
      Result<TargetHealth> health = queue.value()->GetTarget(t.id);
      if (!health.ok()) return Fail(health.status().message());
      list.push_back({{"id", t.id},
                      {"title", t.title},
                      {"email", t.email},
                      {"subject", t.subject},
                      {"relay", t.relay.empty() ? config->notify.relay : t.relay},
                      {"active", t.active && health->active},
                      {"active_in_configuration", t.active},
                      {"deactivated", !health->active},
                      {"failures", health->failures},
                      {"last_error", health->last_error}});
    }
    std::printf("%s\n", list.dump(2).c_str());
    return 0;
  }
  if (verb == "activate" || verb == "deactivate") {
    Status set = queue.value()->SetTargetActive(target->id, verb == "activate");
    if (!set.ok()) return Fail(set.message());
    // The file has the last word: activating a target it marks inactive changes nothing yet.
    bool active = verb == "activate" && target->active;
    if (verb == "activate" && !active) {
      std::fprintf(stderr, "target %s stays inactive: its [[target]] says active = false\n",
                   target->id.c_str());
    }
    std::printf("{\"id\": %s, \"active\": %s}\n", nlohmann::json(target->id).dump().c_str(),
                active ? "true" : "false");
    return 0;
  }
  // test
  std::string relay = target->relay.empty() ? config->notify.relay : target->relay;
  if (relay.empty()) return Fail("target " + target->id + ": no relay configured to test");
  const BrandConfig& brand = config->brands[0];
  std::string from = brand.addresses.empty() ? "postmaster@" + config->hostname : brand.addresses[0];
  NotificationEmail email;
  email.from_name = brand.name;
  email.from_address = from;
  email.reply_to = from;
  email.to_address = target->email;
  email.subject = target->subject.empty() ? "Postdesk target test" : target->subject;
  email.body = "A test message to target " + target->id + " (" + target->title + ").";
  email.message_id = "pd.test." + std::to_string(std::time(nullptr)) + "@" + config->hostname;
  email.date_unix_seconds = std::time(nullptr);
  email.loop_marker = config->hostname;
  OutboundMessage message{from, {target->email}, BuildNotificationMessage(email)};
  DeliveryResult result = SendNow(config.value(), relay, std::move(message));
  bool delivered = result.kind == DeliveryResult::Kind::kDelivered;
  nlohmann::json out = {{"id", target->id},
                        {"relay", relay},
                        {"result", delivered ? "delivered"
                                   : result.kind == DeliveryResult::Kind::kPermanent
                                       ? "permanent_failure"
                                       : "temporary_failure"},
                        {"code", result.code},
                        {"reply", result.reply}};
  std::printf("%s\n", out.dump(2).c_str());
  return delivered ? 0 : 1;
}

}  // namespace postdesk
