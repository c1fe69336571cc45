// RedisReplyArena under a real hiredis reader: replies of every shape come out as hiredis's own
// functions build them, and a stream of replies reuses the same memory.
#include "storage/redis_reply_arena.h"

#include <gtest/gtest.h>
#include <hiredis/hiredis.h>
#include <hiredis/read.h>

#include <memory>
#include <string>

namespace postdesk {
namespace {

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};

class RedisReplyArenaTest : public ::testing::Test {
 protected:
  void SetUp() override {
    reader_.reset(redisReaderCreate());
    ASSERT_NE(reader_, nullptr);
    arena_.Attach(reader_.get());
  }

  // Feeds `bytes` and returns the reply they complete (nullptr when they complete none).
  redisReply* Read(const std::string& bytes) {
    EXPECT_EQ(redisReaderFeed(reader_.get(), bytes.data(), bytes.size()), REDIS_OK);
    void* reply = nullptr;
    EXPECT_EQ(redisReaderGetReply(reader_.get(), &reply), REDIS_OK);
    return static_cast<redisReply*>(reply);
  }

  // As hiredis's async code does once the callback returned.
  void Free(redisReply* reply) { reader_->fn->freeObject(reply); }

  RedisReplyArena arena_;  // outlives the reader, as the header asks
  std::unique_ptr<redisReader, ReaderDeleter> reader_;
};

TEST_F(RedisReplyArenaTest, NestedIngestReplyHasEveryElement) {
  // EXEC's reply to MULTI / SET / FCALL: +OK, then the outcomes.
  redisReply* r =
      Read("*2\r\n+OK\r\n*2\r\n*3\r\n$6\r\nticket\r\n:12\r\n:0\r\n*2\r\n$9\r\nduplicate\r\n:7\r\n");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(r->elements, 2u);
  EXPECT_EQ(r->element[0]->type, REDIS_REPLY_STATUS);
  EXPECT_EQ(std::string(r->element[0]->str, r->element[0]->len), "OK");
  const redisReply* outcomes = r->element[1];
  ASSERT_EQ(outcomes->elements, 2u);
  const redisReply* first = outcomes->element[0];
  ASSERT_EQ(first->elements, 3u);
  EXPECT_EQ(std::string(first->element[0]->str), "ticket");  // NUL-terminated, as hiredis's
  EXPECT_EQ(first->element[1]->integer, 12);
  EXPECT_EQ(first->element[2]->type, REDIS_REPLY_INTEGER);
  EXPECT_EQ(outcomes->element[1]->element[1]->integer, 7);
  Free(r);
}

TEST_F(RedisReplyArenaTest, NilErrorEmptyAndBinaryRepliesKeepTheirShape) {
  redisReply* nil = Read("$-1\r\n");
  ASSERT_NE(nil, nullptr);
  EXPECT_EQ(nil->type, REDIS_REPLY_NIL);
  Free(nil);
  redisReply* null_array = Read("*-1\r\n");
  ASSERT_NE(null_array, nullptr);
  EXPECT_EQ(null_array->type, REDIS_REPLY_NIL);
  Free(null_array);
  redisReply* empty = Read("*0\r\n");
  ASSERT_NE(empty, nullptr);
  EXPECT_EQ(empty->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(empty->elements, 0u);
  Free(empty);
  redisReply* error = Read("-ERR no such function\r\n");
  ASSERT_NE(error, nullptr);
  EXPECT_EQ(error->type, REDIS_REPLY_ERROR);
  EXPECT_STREQ(error->str, "ERR no such function");
  Free(error);
  redisReply* binary = Read(std::string("$5\r\na\0b\r\n\r\n", 11));
  ASSERT_NE(binary, nullptr);
  EXPECT_EQ(std::string(binary->str, binary->len), std::string("a\0b\r\n", 5));
  Free(binary);
}

// A reply that arrives in pieces is built across the feeds, in the same arena.
TEST_F(RedisReplyArenaTest, ReplySplitAcrossReadsIsBuiltWhole) {
  EXPECT_EQ(Read("*2\r\n$5\r\nhel"), nullptr);
  redisReply* r = Read("lo\r\n:42\r\n");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(std::string(r->element[0]->str, r->element[0]->len), "hello");
  EXPECT_EQ(r->element[1]->integer, 42);
  Free(r);
}

// The point of the arena: after the first reply, a steady stream allocates no more blocks.
TEST_F(RedisReplyArenaTest, StreamOfRepliesReusesOneBlock) {
  Free(Read("*2\r\n+OK\r\n*1\r\n*3\r\n$6\r\nticket\r\n:1\r\n:0\r\n"));
  const size_t reserved = arena_.reserved_bytes();
  EXPECT_EQ(reserved, RedisReplyArena::kBlockBytes);
  for (int i = 0; i < 10000; ++i) {
    redisReply* r =
        Read("*2\r\n+OK\r\n*1\r\n*3\r\n$6\r\nticket\r\n:" + std::to_string(i) + "\r\n:0\r\n");
    ASSERT_NE(r, nullptr);
    ASSERT_EQ(r->element[1]->element[0]->element[1]->integer, i);
    Free(r);
  }
  EXPECT_EQ(arena_.reserved_bytes(), reserved);
}

// A reply larger than a block is held whole; afterwards the arena gives back what is past
// kKeptBytes.
TEST_F(RedisReplyArenaTest, LargeReplyFitsAndItsMemoryIsGivenBack) {
  std::string big(300 * 1024, 'x');
  big[1000] = 'y';
  redisReply* r = Read("*3\r\n$" + std::to_string(big.size()) + "\r\n" + big + "\r\n:5\r\n$" +
                       std::to_string(big.size()) + "\r\n" + big + "\r\n");
  ASSERT_NE(r, nullptr);
  ASSERT_EQ(r->elements, 3u);
  EXPECT_EQ(std::string(r->element[0]->str, r->element[0]->len), big);
  EXPECT_EQ(r->element[1]->integer, 5);
  EXPECT_EQ(std::string(r->element[2]->str, r->element[2]->len), big);
  EXPECT_GE(arena_.reserved_bytes(), 2 * big.size());
  Free(r);
  EXPECT_EQ(arena_.reserved_bytes(), RedisReplyArena::kBlockBytes);
  // A large reply on its own, first in its block: the block goes with it.
  redisReply* alone = Read("$" + std::to_string(big.size()) + "\r\n" + big + "\r\n");
  ASSERT_NE(alone, nullptr);
  EXPECT_EQ(std::string(alone->str, alone->len), big);
  Free(alone);
  EXPECT_LE(arena_.reserved_bytes(), RedisReplyArena::kKeptBytes);
  for (int i = 0; i < 100; ++i) Free(Read("+OK\r\n"));
  EXPECT_EQ(arena_.reserved_bytes(), RedisReplyArena::kBlockBytes);
}

// A connection that goes with a reply half read: hiredis frees the partial reply with the
// reader (the sanitizers check that nothing leaks or is touched after).
TEST_F(RedisReplyArenaTest, HalfReadReplyIsFreedWithTheReader) {
  EXPECT_EQ(Read("*3\r\n:1\r\n$10\r\nabc"), nullptr);
  reader_.reset();
}

// A protocol error frees what was built and leaves the reader in error, as hiredis's own
// functions do.
TEST_F(RedisReplyArenaTest, ProtocolErrorFreesThePartialReply) {
  const std::string bytes = "*2\r\n:1\r\n!bogus\r\n";
  ASSERT_EQ(redisReaderFeed(reader_.get(), bytes.data(), bytes.size()), REDIS_OK);
  void* reply = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader_.get(), &reply), REDIS_ERR);
  EXPECT_EQ(reply, nullptr);
  EXPECT_EQ(reader_->err, REDIS_ERR_PROTOCOL);
}

}  // namespace
}  // namespace postdesk
