#include "storage/redis_functions.h"

namespace postdesk {

const std::string_view kFunctionsLibrary = R"LUA(#!lua name=postdesk
-- Postdesk storage functions. Keys: see storage/redis_functions.h.

local EVENTS_MAXLEN = 1000000
local P = '{pd}:'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function event(keys, kind, ticket, brand)
  redis.call('XADD', keys[3], 'MAXLEN', '~', EVENTS_MAXLEN, '*',
    'type', kind, 'ticket', ticket, 'brand', brand)
end

local function add_comment(ticket_key, meta, message_id, now)
  local comment_id = redis.call('INCR', P .. 'comment:next_id')
  redis.call('RPUSH', ticket_key .. ':comments', cjson.encode({
    id = comment_id, author_email = meta.requester_email, author_name = meta.requester_name,
    body = meta.description, public = true, via = 'email', created_at_ms = now,
    message = message_id}))
end

local function new_ticket(keys, meta, target, message_id, now, followup_of)
  local id = redis.call('INCR', keys[1])
  local key = P .. 'ticket:' .. id
  redis.call('HSET', key,
    'id', id, 'subject', meta.subject, 'description', meta.description,
    'requester_email', meta.requester_email, 'requester_name', meta.requester_name,
    'received_at', target.received_at, 'brand', target.brand,
    'status', 'new', 'priority', '', 'type', '', 'tags', '[]', 'via', 'email',
    'created_at_ms', now, 'updated_at_ms', now, 'message', message_id,
    'truncated', meta.truncated and '1' or '0', 'transaction', meta.transaction,
    'auto_notifications_suppressed', meta.auto_notifications_suppressed and '1' or '0',
    'followup_source_id', followup_of or '')
  add_comment(key, meta, message_id, now)
  local requester = string.lower(meta.requester_email or '')
  if requester ~= '' then
    redis.call('ZADD', P .. 'requester:' .. requester .. ':tickets', now, id)
  end
  event(keys, 'ticket.created', id, target.brand)
  return id
end

local function suspend(meta, target, cause, reason, message_id, now)
  local id = redis.call('INCR', P .. 'suspended:next_id')
  local key = P .. 'suspended:' .. id
  redis.call('HSET', key, 'id', id, 'cause', cause, 'reason', reason,
    'brand', target.brand, 'received_at', target.received_at,
    'sender', meta.requester_email, 'sender_name', meta.requester_name,
    'subject', meta.subject, 'message', message_id, 'created_at_ms', now,
    'transaction', meta.transaction)
  redis.call('PEXPIRE', key, meta.suspended_retention_ms)
  -- The index outlives expired entries; readers skip and prune ids whose hash is gone.
  redis.call('ZADD', P .. 'suspended', now, id)
  return id
end

-- One message in, atomically: the raw message once, then per brand (target) one outcome:
--   {'duplicate', ticket}   the same Message-ID reached this brand within the window
--   {'suspended', id, cause}
--   {'comment', ticket}     a reply threaded into an open ticket
--   {'ticket', id, followup_of}  a new ticket (a follow-up when the reply named a closed one)
local function ingest(keys, args)
  local meta = cjson.decode(args[1])
  local raw = args[2]
  local now = now_ms()
  -- The raw message is stored once, on first use: a pure duplicate stores nothing.
  local message_id = nil
  if meta.recovering then
    message_id = meta.existing_message
    redis.call('DEL', P .. 'suspended:' .. meta.suspended_id)
    redis.call('ZREM', P .. 'suspended', meta.suspended_id)
  end
  local function stored_message()
    if not message_id then
      message_id = redis.call('INCR', keys[2])
      redis.call('SET', P .. 'message:' .. message_id, raw)
    end
    return message_id
  end
  local sender = string.lower(meta.requester_email or '')
  local outcomes = {}
  for _, target in ipairs(meta.tickets) do
    local brand = target.brand
    local dedupe_key = nil
    if meta.message_id ~= '' and not meta.recovering then
      dedupe_key = P .. 'dedupe:' .. brand .. ':' .. redis.sha1hex(meta.message_id)
    end
    local first = dedupe_key and redis.call('GET', dedupe_key)
    if first then
      outcomes[#outcomes + 1] = {'duplicate', tonumber(first)}
    else
      local cause, reason = target.cause, target.reason
      -- The rate guard counts every message from a sender to a brand; past the limit the
      -- sender is blocked for a while (design.md: Classification).
      if cause == '' and sender ~= '' and not meta.recovering then
        local blocked = P .. 'blocked:' .. brand .. ':' .. sender
        if redis.call('EXISTS', blocked) == 1 then
          cause, reason = 'blocklisted', 'sender blocked by the rate guard'
        else
          local counter = P .. 'rate:' .. brand .. ':' .. sender
          local n = redis.call('INCR', counter)
          if n == 1 then redis.call('PEXPIRE', counter, meta.rate_window_ms) end
          if n > meta.rate_limit then
            cause = 'loop'
            reason = 'more than ' .. meta.rate_limit .. ' messages within the rate window'
            redis.call('SET', blocked, '1', 'PX', meta.block_ms)
          end
        end
      end
      local outcome
      if cause ~= '' then
        local id = suspend(meta, target, cause, reason, stored_message(), now)
        outcome = {'suspended', id, cause}
      else
        local thread = tonumber(target.thread_ticket) or 0
        local thread_key = P .. 'ticket:' .. thread
        local status = thread > 0 and redis.call('HGET', thread_key, 'status')
        if status and redis.call('HGET', thread_key, 'brand') ~= brand then status = nil end
        if status and status ~= 'closed' then
          add_comment(thread_key, meta, stored_message(), now)
          -- A requester's reply reopens a solved or waiting ticket, as in Zendesk.
          local reopen = (status == 'solved' or status == 'pending' or status == 'hold')
          redis.call('HSET', thread_key, 'updated_at_ms', now,
            'status', reopen and 'open' or status)
          event(keys, 'ticket.comment_added', thread, brand)
          outcome = {'comment', thread}
        else
          local followup = status == 'closed' and thread or nil
          outcome = {'ticket', new_ticket(keys, meta, target, stored_message(), now, followup),
                     followup or 0}
        end
        if dedupe_key then
          redis.call('SET', dedupe_key, outcome[2], 'PX', meta.dedupe_window_ms)
        end
      end
      outcomes[#outcomes + 1] = outcome
    end
  end
  return outcomes
end

redis.register_function('postdesk_ingest', ingest)
)LUA";

RedisArgv FunctionLoadCommand() {
  RedisArgv command;
  for (std::string_view arg : {std::string_view("FUNCTION"), std::string_view("LOAD"),
                               std::string_view("REPLACE"), kFunctionsLibrary}) {
    command.Add(arg);
  }
  return command;
}

RedisArgv IngestCommand(std::string_view meta_json, std::string_view raw) {
  RedisArgv command;
  for (std::string_view arg :
       {std::string_view("FCALL"), std::string_view("postdesk_ingest"), std::string_view("3"),
        std::string_view("{pd}:ticket:next_id"), std::string_view("{pd}:message:next_id"),
        std::string_view("{pd}:events"), meta_json, raw}) {
    command.Add(arg);
  }
  return command;
}

}  // namespace postdesk
