// AdminRedis: the Redis a command-line tool talks to (`tickets`, `suspended`, `targets`): the
// running gateway's embedded server, or one started on data_dir for the time of the command when
// the gateway is stopped, or [redis] url. Main thread only; fails with the reason.
#ifndef POSTDESK_GATEWAY_TOOL_REDIS_H_
#define POSTDESK_GATEWAY_TOOL_REDIS_H_

#include <memory>

#include "gateway/config.h"
#include "storage/embedded_redis.h"
#include "storage/redis_connection.h"

namespace postdesk {

struct AdminRedis {
  std::unique_ptr<EmbeddedRedis> embedded;  // declared first: destroyed after the connection
  std::unique_ptr<RedisConnection> connection;
};

Result<AdminRedis> OpenRedis(const Config& config);

}  // namespace postdesk

#endif  // POSTDESK_GATEWAY_TOOL_REDIS_H_
