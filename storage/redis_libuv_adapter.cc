#include "storage/redis_libuv_adapter.h"

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

namespace postdesk {
namespace {

struct Adapter {
  redisAsyncContext* context = nullptr;  // null once hiredis has called cleanup
  uv_poll_t poll;
  uv_prepare_t flush;
  int events = 0;          // what hiredis asked for: UV_READABLE and, while waiting, UV_WRITABLE
  int watched = 0;         // what the poll handle watches now
  bool want_write = false;
  int open_handles = 2;

  // Restarts the poll only when what it should watch changed.
  void Update() {
    if (context == nullptr || events == watched) return;
    watched = events;
    if (events == 0) {
      uv_poll_stop(&poll);
    } else {
      uv_poll_start(&poll, events, &Adapter::OnPoll);
    }
  }

  static void OnPoll(uv_poll_t* handle, int status, int ready) {
    auto* self = static_cast<Adapter*>(handle->data);
    // An error on the socket (a refused connect): hiredis finds it out by doing what it waits
    // for, and disconnects with the reason.
    if (status < 0) ready = self->events;
    if (self->context != nullptr && (ready & UV_READABLE)) redisAsyncHandleRead(self->context);
    if (self->context != nullptr && (ready & UV_WRITABLE)) redisAsyncHandleWrite(self->context);
  }

  // Once per loop iteration while commands wait: writes them all with one write().
  static void OnFlush(uv_prepare_t* handle) {
    auto* self = static_cast<Adapter*>(handle->data);
    uv_prepare_stop(handle);
    if (self->context == nullptr || !self->want_write) return;
    redisAsyncHandleWrite(self->context);  // calls DelWrite when all is written
    if (self->context != nullptr && self->want_write) {
      // The socket buffer is full: wait until it drains.
      self->events |= UV_WRITABLE;
      self->Update();
    }
  }

  static void AddRead(void* data) {
    auto* self = static_cast<Adapter*>(data);
    self->events |= UV_READABLE;
    self->Update();
  }

  static void DelRead(void* data) {
    auto* self = static_cast<Adapter*>(data);
    self->events &= ~UV_READABLE;
    self->Update();
  }

  static void AddWrite(void* data) {
    auto* self = static_cast<Adapter*>(data);
    self->want_write = true;
    // While connecting, writability is how a non-blocking connect(2) reports that it is done;
    // and once waiting for a full buffer to drain, the poll goes on until hiredis is done.
    if (!(self->context->c.flags & REDIS_CONNECTED) || (self->events & UV_WRITABLE)) {
      self->events |= UV_WRITABLE;
      self->Update();
      return;
    }
    uv_prepare_start(&self->flush, &Adapter::OnFlush);
  }

  static void DelWrite(void* data) {
    auto* self = static_cast<Adapter*>(data);
    self->want_write = false;
    self->events &= ~UV_WRITABLE;
    self->Update();
  }

  static void Cleanup(void* data) {
    auto* self = static_cast<Adapter*>(data);
    self->context = nullptr;
    auto closed = [](uv_handle_t* h) {
      auto* adapter = static_cast<Adapter*>(h->data);
      if (--adapter->open_handles == 0) delete adapter;
    };
    uv_close(reinterpret_cast<uv_handle_t*>(&self->poll), closed);
    uv_close(reinterpret_cast<uv_handle_t*>(&self->flush), closed);
  }
};

}  // namespace

int AttachToLoop(redisAsyncContext* context, uv_loop_t* loop) {
  if (context->ev.data != nullptr) return REDIS_ERR;
  auto* adapter = new Adapter;
  if (uv_poll_init(loop, &adapter->poll, context->c.fd) != 0) {
    delete adapter;
    return REDIS_ERR;
  }
  uv_prepare_init(loop, &adapter->flush);
  adapter->poll.data = adapter;
  adapter->flush.data = adapter;
  adapter->context = context;
  context->ev.data = adapter;
  context->ev.addRead = &Adapter::AddRead;
  context->ev.delRead = &Adapter::DelRead;
  context->ev.addWrite = &Adapter::AddWrite;
  context->ev.delWrite = &Adapter::DelWrite;
  context->ev.cleanup = &Adapter::Cleanup;
  return REDIS_OK;
}

}  // namespace postdesk
