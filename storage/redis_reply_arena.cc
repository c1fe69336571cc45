#include "storage/redis_reply_arena.h"

#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <cassert>
#include <cstring>
#include <new>

namespace postdesk {
namespace {

// Every object starts with the arena that holds it, so that freeObject, which hiredis calls with
// the reply alone, finds its way back.
struct Header {
  RedisReplyArena* arena;
};

constexpr size_t kAlign = alignof(std::max_align_t);

size_t Aligned(size_t n) { return (n + kAlign - 1) & ~(kAlign - 1); }

Header* HeaderOf(void* reply) { return reinterpret_cast<Header*>(reply) - 1; }

}  // namespace

redisReplyObjectFunctions RedisReplyArena::kFunctions = {
    &RedisReplyArena::CreateString, &RedisReplyArena::CreateArray, &RedisReplyArena::CreateInteger,
    &RedisReplyArena::CreateNil, &RedisReplyArena::FreeObject};

void RedisReplyArena::Attach(redisReader* reader) {
  reader->fn = &kFunctions;
  reader->privdata = this;
}

size_t RedisReplyArena::reserved_bytes() const {
  size_t total = 0;
  for (const Block& b : blocks_) total += b.size;
  return total;
}

void* RedisReplyArena::Allocate(size_t bytes) {
  bytes = Aligned(bytes);
  while (block_ < blocks_.size()) {
    if (blocks_[block_].size - used_ >= bytes) {
      void* p = blocks_[block_].bytes.get() + used_;
      used_ += bytes;
      return p;
    }
    ++block_;
    used_ = 0;
  }
  const size_t size = bytes > kBlockBytes ? bytes : kBlockBytes;
  std::unique_ptr<std::byte[]> fresh(new (std::nothrow) std::byte[size]);
  if (!fresh) return nullptr;
  blocks_.push_back({std::move(fresh), size});
  block_ = blocks_.size() - 1;
  used_ = bytes;
  return blocks_[block_].bytes.get();
}

void RedisReplyArena::StartOver() {
  // Blocks past kKeptBytes go, so one large reply does not pin its memory.
  size_t kept = 0, count = 0;
  while (count < blocks_.size() && kept + blocks_[count].size <= kKeptBytes) {
    kept += blocks_[count].size;
    ++count;
  }
  blocks_.resize(count);
  block_ = 0;
  used_ = 0;
}

void* RedisReplyArena::NewReply(const redisReadTask* task, int type, size_t extra_bytes) {
  RedisReplyArena* arena = task->parent != nullptr ? HeaderOf(task->parent->obj)->arena
                                                   : static_cast<RedisReplyArena*>(task->privdata);
  void* memory = arena->Allocate(sizeof(Header) + Aligned(sizeof(redisReply)) + extra_bytes);
  if (memory == nullptr) return nullptr;
  auto* header = static_cast<Header*>(memory);
  header->arena = arena;
  // Header is 8 bytes and kAlign 16: the reply sits right after it, 8-aligned as its members
  // need; Allocate counts the padding.
  auto* reply = reinterpret_cast<redisReply*>(header + 1);
  std::memset(reply, 0, sizeof(redisReply));
  reply->type = type;
  if (task->parent != nullptr) {
    auto* parent = static_cast<redisReply*>(task->parent->obj);
    assert(parent->type == REDIS_REPLY_ARRAY);
    parent->element[task->idx] = reply;
  } else {
    assert(arena->root_ == nullptr);
    arena->root_ = reply;
  }
  return reply;
}

void* RedisReplyArena::CreateString(const redisReadTask* task, char* text, size_t length) {
  auto* reply = static_cast<redisReply*>(NewReply(task, task->type, length + 1));
  if (reply == nullptr) return nullptr;
  // The text follows the reply, NUL-terminated as hiredis's own strings are.
  char* copy = reinterpret_cast<char*>(reply) + Aligned(sizeof(redisReply));
  std::memcpy(copy, text, length);
  copy[length] = '\0';
  reply->str = copy;
  reply->len = length;
  return reply;
}

void* RedisReplyArena::CreateArray(const redisReadTask* task, int elements) {
  const size_t count = elements > 0 ? static_cast<size_t>(elements) : 0;
  auto* reply =
      static_cast<redisReply*>(NewReply(task, REDIS_REPLY_ARRAY, count * sizeof(redisReply*)));
  if (reply == nullptr) return nullptr;
  if (count > 0) {
    reply->element = reinterpret_cast<redisReply**>(reinterpret_cast<char*>(reply) +
                                                    Aligned(sizeof(redisReply)));
    std::memset(reply->element, 0, count * sizeof(redisReply*));
  }
  reply->elements = count;
  return reply;
}

void* RedisReplyArena::CreateInteger(const redisReadTask* task, long long value) {
  auto* reply = static_cast<redisReply*>(NewReply(task, REDIS_REPLY_INTEGER, 0));
  if (reply != nullptr) reply->integer = value;
  return reply;
}

void* RedisReplyArena::CreateNil(const redisReadTask* task) {
  return NewReply(task, REDIS_REPLY_NIL, 0);
}

// hiredis frees only whole replies (their root), and holds one at a time: everything in the
// arena belongs to this one.
void RedisReplyArena::FreeObject(void* reply) {
  if (reply == nullptr) return;
  RedisReplyArena* arena = HeaderOf(reply)->arena;
  assert(arena->root_ == reply);
  arena->root_ = nullptr;
  arena->StartOver();
}

}  // namespace postdesk
