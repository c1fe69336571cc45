// AttachToLoop: hiredis's asynchronous context on a libuv loop, with its writes batched once per
// loop iteration.
//
// hiredis's own libuv adapter restarts the uv_poll handle for every command queued and every
// buffer written, and libuv turns each restart into epoll_ctl calls (measured: seven per stored
// message, five of them failing). This one watches the socket for reading for the connection's
// life and writes what the commands of an iteration queued from a uv_prepare handle, just before
// the loop waits; it polls for writability only while connecting and when the socket buffer is
// full. Runs on the loop's thread, as the context does. Frees itself in its handles' close
// callbacks once hiredis calls cleanup (when the context is freed).
#ifndef POSTDESK_STORAGE_REDIS_LIBUV_ADAPTER_H_
#define POSTDESK_STORAGE_REDIS_LIBUV_ADAPTER_H_

#include <uv.h>

struct redisAsyncContext;

namespace postdesk {

// REDIS_OK, or REDIS_ERR when the context already has an adapter or the handles cannot be made.
int AttachToLoop(redisAsyncContext* context, uv_loop_t* loop);

}  // namespace postdesk

#endif  // POSTDESK_STORAGE_REDIS_LIBUV_ADAPTER_H_
