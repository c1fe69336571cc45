#include "gateway/tool_redis.h"

namespace postdesk {

Result<AdminRedis> OpenRedis(const Config& config) {
  AdminRedis redis;
  RedisAddress address;
  if (config.redis_url.empty()) {
    address.unix_path = EmbeddedRedis::SocketPath(config.data_dir);
    if (!RedisAnswers(address, std::chrono::milliseconds(500))) {
      Result<std::unique_ptr<EmbeddedRedis>> started =
          EmbeddedRedis::Start(config.data_dir, config.redis_fsync);
      if (!started.ok()) return started.status();
      redis.embedded = std::move(started).value();
      address = redis.embedded->address();
    }
  } else {
    Result<RedisAddress> parsed = ExternalRedisAddress(config);
    if (!parsed.ok()) return parsed.status();
    address = parsed.value();
  }
  Result<std::unique_ptr<RedisConnection>> connection = RedisConnection::Connect(address);
  if (!connection.ok()) return connection.status();
  redis.connection = std::move(connection).value();
  return redis;
}

}  // namespace postdesk
