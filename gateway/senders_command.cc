// `postdesk senders`: the senders whose mail to a brand is suspended (design.md's "suspend
// sender" trigger action): list them, suspend one by hand, or lift a suspension. The set is
// {pd}:suspended_senders:<brand> (storage/redis_functions.h); the ingest script checks it for
// every message, so a change applies to the next message without a reload.
#include <hiredis/hiredis.h>

#include <algorithm>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "gateway/commands.h"
#include "gateway/tool_redis.h"
#include "parser/email_address.h"
#include "storage/redis_functions.h"
#include "storage/redis_stream.h"

namespace postdesk {
namespace {

constexpr char kHelp[] =
    "usage: postdesk senders list --config FILE\n"
    "       postdesk senders suspend BRAND ADDRESS --config FILE\n"
    "       postdesk senders unsuspend BRAND ADDRESS --config FILE\n"
    "\n"
    "Senders whose mail to a brand is suspended, by a trigger's suspend_sender action or by\n"
    "hand: their next messages are kept as suspended messages ('postdesk suspended') instead\n"
    "of tickets. 'list' prints every brand's suspended senders as JSON; 'suspend' and\n"
    "'unsuspend' add or lift one (ADDRESS is compared in lower case), from the next message.\n";

}  // namespace

int SendersCommand(const Args& args) {
  if (WantsHelp(args)) {
    std::fputs(kHelp, stdout);
    return 0;
  }
  std::optional<std::string> config_path = OptionValue(args, "--config");
  std::string_view verb = args.empty() ? "" : args[0];
  const bool changes = verb == "suspend" || verb == "unsuspend";
  if (!config_path || (verb != "list" && !changes) || (changes && args.size() < 3)) {
    std::fprintf(stderr, "%s", kHelp);
    return 2;
  }
  Result<Config> config = LoadConfigFile(*config_path, ConfigParts::kWithoutTriggers);
  if (!config.ok()) return Fail(config.status().message());
  Result<AdminRedis> redis = OpenRedis(config.value());
  if (!redis.ok()) return Fail(redis.status().message());
  RedisConnection& connection = *redis->connection;
  // Redis's error reply, or why there was none.
  auto redis_failed = [&connection](const std::string& prefix, const redisReply* r) {
    return Fail(prefix +
                (r && r->type == REDIS_REPLY_ERROR ? ReplyText(r) : connection.LastError()));
  };

  if (verb == "list") {
    nlohmann::json list = nlohmann::json::array();
    for (const BrandConfig& brand : config->brands) {
      RedisReplyPtr members = connection.CommandArgv({"SMEMBERS", SuspendedSendersKey(brand.name)});
      if (!members || members->type != REDIS_REPLY_ARRAY) {
        return redis_failed("redis: SMEMBERS: ", members.get());
      }
      std::vector<std::string> senders;
      for (size_t i = 0; i < members->elements; ++i) {
        senders.push_back(ReplyText(members->element[i]));
      }
      std::sort(senders.begin(), senders.end());
      for (const std::string& sender : senders) {
        list.push_back({{"brand", brand.name}, {"sender", sender}});
      }
    }
    std::printf("%s\n", list.dump(2).c_str());
    return 0;
  }

  const std::string brand(args[1]);
  if (std::none_of(config->brands.begin(), config->brands.end(),
                   [&brand](const BrandConfig& b) { return b.name == brand; })) {
    return Fail("no [[brand]] named \"" + brand + "\"");
  }
  const std::string sender = LowerAscii(args[2]);
  if (SplitAddress(sender).domain.empty()) return Fail("not an address: " + sender);
  RedisReplyPtr r = connection.CommandArgv(
      {verb == "suspend" ? "SADD" : "SREM", SuspendedSendersKey(brand), sender});
  if (!r || r->type != REDIS_REPLY_INTEGER) return redis_failed("redis: ", r.get());
  if (verb == "unsuspend" && r->integer == 0) {
    return Fail(sender + " is not suspended for " + brand);
  }
  std::printf("%s\n", nlohmann::json(
                          {{"brand", brand}, {"sender", sender}, {"suspended", verb == "suspend"}})
                          .dump()
                          .c_str());
  return 0;
}

}  // namespace postdesk
