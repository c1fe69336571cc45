// RedisReplyArena: where one hiredis connection's reader builds its reply objects, instead of a
// malloc for every object and every string (hiredis's default functions).
//
// hiredis hands a connection's replies over one at a time and frees each (freeObject on its
// root) before it reads the next, so the objects of the one reply alive are all in the arena, and
// the arena starts over when that reply is freed: a steady stream of small replies allocates
// nothing once the first block exists. A reply larger than a block gets blocks of its own; at the
// start-over, blocks past kKeptBytes in all are freed, so one huge reply does not pin its memory.
//
// Only for a connection whose replies hiredis frees itself after each callback (the async API):
// a blocking context's caller, who may keep several replies, must not use it.
// Used on the thread that drives the connection (a TicketStore's loop). Attach it before the
// connection reads anything, and keep it alive until hiredis has freed the reader (hiredis frees a
// half-read reply when a connection goes). Allocation failure is reported to hiredis as NULL,
// which it turns into an out-of-memory error on the connection.
#ifndef POSTDESK_STORAGE_REDIS_REPLY_ARENA_H_
#define POSTDESK_STORAGE_REDIS_REPLY_ARENA_H_

#include <cstddef>
#include <memory>
#include <vector>

struct redisReader;
struct redisReadTask;
struct redisReplyObjectFunctions;

namespace postdesk {

class RedisReplyArena {
 public:
  static constexpr size_t kBlockBytes = 16 * 1024;
  static constexpr size_t kKeptBytes = 64 * 1024;

  RedisReplyArena() = default;
  RedisReplyArena(const RedisReplyArena&) = delete;
  RedisReplyArena& operator=(const RedisReplyArena&) = delete;

  // Makes `reader` build its replies here (its reply functions and privdata).
  void Attach(redisReader* reader);

  // Bytes held in blocks now, in use or not; at most kKeptBytes between replies.
  size_t reserved_bytes() const;

 private:
  struct Block {
    std::unique_ptr<std::byte[]> bytes;
    size_t size;
  };

  static redisReplyObjectFunctions kFunctions;
  static void* CreateString(const redisReadTask* task, char* text, size_t length);
  static void* CreateArray(const redisReadTask* task, int elements);
  static void* CreateInteger(const redisReadTask* task, long long value);
  static void* CreateNil(const redisReadTask* task);
  static void FreeObject(void* reply);

  // A zeroed reply of `type` linked into its parent array, or nullptr when out of memory.
  static void* NewReply(const redisReadTask* task, int type, size_t extra_bytes);
  void* Allocate(size_t bytes);
  void StartOver();

  std::vector<Block> blocks_;
  size_t block_ = 0;      // the block being filled
  size_t used_ = 0;       // bytes of it in use
  void* root_ = nullptr;  // the reply being built or handed over (hiredis has one at a time)
};

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_REPLY_ARENA_H_
