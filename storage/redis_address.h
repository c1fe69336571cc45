// RedisAddress: where a Redis server listens, from "[redis] url" or the embedded server's socket.
//
// Forms: "redis://host[:port][/db]" and "unix:///absolute/path.sock[?db=N]". Pure parsing; the
// error names what is wrong with the URL.
#ifndef POSTDESK_STORAGE_REDIS_ADDRESS_H_
#define POSTDESK_STORAGE_REDIS_ADDRESS_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "parser/result.h"

namespace postdesk {

struct RedisAddress {
  std::string unix_path;  // set for a unix socket; then host/port are unused
  std::string host;
  uint16_t port = 6379;
  int db = 0;

  std::string ToString() const;
};

Result<RedisAddress> ParseRedisUrl(std::string_view url);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_ADDRESS_H_
