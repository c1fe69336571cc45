#include "storage/redis_functions.h"

namespace postdesk {

const std::string_view kFunctionsLibrary = R"LUA(#!lua name=postdesk
-- Postdesk storage functions. Keys: see storage/redis_functions.h.

local EVENTS_MAXLEN = 1000000

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- One message in: the raw message once, then per brand a ticket, its first comment, the
-- requester index and an event for the trigger workers.
local function ingest(keys, args)
  local meta = cjson.decode(args[1])
  local raw = args[2]
  local now = now_ms()
  local message_id = redis.call('INCR', keys[2])
  redis.call('SET', '{pd}:message:' .. message_id, raw)
  local requester = string.lower(meta.requester_email or '')
  local ids = {}
  for _, target in ipairs(meta.tickets) do
    local id = redis.call('INCR', keys[1])
    local key = '{pd}:ticket:' .. id
    redis.call('HSET', key,
      'id', id, 'subject', meta.subject, 'description', meta.description,
      'requester_email', meta.requester_email, 'requester_name', meta.requester_name,
      'received_at', target.received_at, 'brand', target.brand,
      'status', 'new', 'priority', '', 'type', '', 'tags', '[]', 'via', 'email',
      'created_at_ms', now, 'updated_at_ms', now, 'message', message_id,
      'truncated', meta.truncated and '1' or '0', 'transaction', meta.transaction)
    local comment_id = redis.call('INCR', '{pd}:comment:next_id')
    redis.call('RPUSH', key .. ':comments', cjson.encode({
      id = comment_id, author_email = meta.requester_email, author_name = meta.requester_name,
      body = meta.description, public = true, via = 'email', created_at_ms = now,
      message = message_id}))
    if requester ~= '' then
      redis.call('ZADD', '{pd}:requester:' .. requester .. ':tickets', now, id)
    end
    redis.call('XADD', keys[3], 'MAXLEN', '~', EVENTS_MAXLEN, '*',
      'type', 'ticket.created', 'ticket', id, 'brand', target.brand)
    ids[#ids + 1] = id
  end
  return ids
end

redis.register_function('postdesk_ingest', ingest)
)LUA";

}  // namespace postdesk
