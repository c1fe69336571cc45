// RedisServerCheck: whether an operator's Redis server (`[redis] url`) keeps the promise the
// gateway makes to senders: a `250` follows a write that reached the disk, and nothing stored is
// ever dropped by Redis itself (design.md). The embedded server is started with those settings;
// a server of the operator's own may have any. Checked once when `serve` or `workers` starts.
//
// CheckRedisServer asks the server over a blocking connection (main thread, one INFO and one
// CONFIG GET) and returns what falls short, one sentence each, for the log (`serve` and
// `workers` log them through WarnOfRedisServerProblems):
//   - appendonly no: a restart of Redis loses acknowledged mail;
//   - appendfsync everysec or no: a crash of its host can lose the last writes;
//   - a maxmemory with an evicting maxmemory-policy: Redis may delete tickets to make room.
// A server that refuses CONFIG (managed services rename or forbid it) or INFO, or a connection
// lost meanwhile, gives one sentence saying what could not be checked. It fails only for a
// server older than Redis 7, which the Functions library needs: then nothing can be stored.
#ifndef POSTDESK_STORAGE_REDIS_SERVER_CHECK_H_
#define POSTDESK_STORAGE_REDIS_SERVER_CHECK_H_

#include <string>
#include <string_view>
#include <vector>

#include "parser/result.h"
#include "storage/redis_connection.h"

namespace postdesk {

Result<std::vector<std::string>> CheckRedisServer(RedisConnection& redis);

// Connects to `address` (2 s), checks it, and logs each problem as a warning naming the server.
// Fails only for a server too old to serve; one that cannot be reached is left to the caller's
// own connections, which report and retry.
Status WarnOfRedisServerProblems(const RedisAddress& address);

// The major version in INFO's "redis_version:7.0.15" line; 0 when there is none. Pure.
int RedisMajorVersion(std::string_view info);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_SERVER_CHECK_H_
