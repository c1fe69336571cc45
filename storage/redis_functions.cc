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

-- An event names the comment it added (its index in the comments list) and the status before
-- it, so that a worker reading it later still sees this update, not a later one.
local function event(keys, kind, ticket, brand, comment_index, previous_status)
  redis.call('XADD', keys[3], 'MAXLEN', '~', EVENTS_MAXLEN, '*',
    'type', kind, 'ticket', ticket, 'brand', brand, 'comment', comment_index,
    'previous_status', previous_status)
end

-- Returns the new comment's index in the list.
local function add_comment(ticket_key, meta, message_id, now)
  local comment_id = redis.call('INCR', P .. 'comment:next_id')
  return redis.call('RPUSH', ticket_key .. ':comments', cjson.encode({
    id = comment_id, author_email = meta.requester_email, author_name = meta.requester_name,
    body = meta.description, public = true, via = 'email', created_at_ms = now,
    message = message_id, message_id = meta.message_id})) - 1
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
    'followup_source_id', followup_of or '', 'version', 1)
  add_comment(key, meta, message_id, now)
  local requester = string.lower(meta.requester_email or '')
  if requester ~= '' then
    redis.call('ZADD', P .. 'requester:' .. requester .. ':tickets', now, id)
  end
  event(keys, 'ticket.created', id, target.brand, 0, '')
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
        if redis.call('SISMEMBER', P .. 'suspended_senders:' .. brand, sender) == 1 then
          cause, reason = 'blocklisted', 'sender suspended by a trigger'
        elseif redis.call('EXISTS', blocked) == 1 then
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
          local index = add_comment(thread_key, meta, stored_message(), now)
          -- A requester's reply reopens a solved or waiting ticket, as in Zendesk.
          local reopen = (status == 'solved' or status == 'pending' or status == 'hold')
          redis.call('HSET', thread_key, 'updated_at_ms', now,
            'status', reopen and 'open' or status)
          redis.call('HINCRBY', thread_key, 'version', 1)
          event(keys, 'ticket.comment_added', thread, brand, index, status)
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

-- A trigger worker's result for one event, atomically (storage/trigger_queue.h):
--   KEYS: events stream, outbox stream, delayed-actions sorted set
--   ARGV: group, entry id, ticket id, expected version, changes (JSON object of fields),
--         notifications (JSON list), delayed (JSON list), suspend sender ('1'/'0'), fired (JSON)
-- Returns 'applied', 'duplicate' (this entry was applied before: acknowledged again),
-- 'missing' (no such ticket: acknowledged) or 'conflict' (the ticket changed since the worker
-- read it: nothing written, the worker reads again).
local APPLIED_TTL_MS = 7 * 24 * 3600 * 1000
local function apply_triggers(keys, args)
  local group, entry, ticket, version = args[1], args[2], args[3], tonumber(args[4])
  local done = P .. 'applied:' .. entry
  if redis.call('EXISTS', done) == 1 then
    redis.call('XACK', keys[1], group, entry)
    return 'duplicate'
  end
  local key = P .. 'ticket:' .. ticket
  if redis.call('EXISTS', key) == 0 then
    redis.call('XACK', keys[1], group, entry)
    return 'missing'
  end
  if tonumber(redis.call('HGET', key, 'version') or '0') ~= version then
    return 'conflict'
  end
  local now = now_ms()
  local changes = cjson.decode(args[5])
  if next(changes) then
    for field, value in pairs(changes) do redis.call('HSET', key, field, value) end
    redis.call('HSET', key, 'updated_at_ms', now)
    redis.call('HINCRBY', key, 'version', 1)
  end
  local brand = redis.call('HGET', key, 'brand')
  local received_at = redis.call('HGET', key, 'received_at') or ''
  for _, n in ipairs(cjson.decode(args[6])) do
    redis.call('XADD', keys[2], '*', 'ticket', ticket, 'brand', brand, 'kind', n.kind,
      'recipient', n.recipient, 'recipient_name', n.recipient_name, 'subject', n.subject,
      'body', n.body, 'trigger', n.trigger, 'event', entry, 'received_at', received_at,
      'in_reply_to', n.in_reply_to)
  end
  for i, d in ipairs(cjson.decode(args[7])) do
    redis.call('ZADD', keys[3], now + d.delay_ms, cjson.encode({
      job = entry .. '/' .. i, ticket = ticket, actions = d.actions, trigger = d.trigger}))
  end
  if args[8] == '1' then
    local sender = redis.call('HGET', key, 'requester_email')
    if sender and sender ~= '' then
      redis.call('SADD', P .. 'suspended_senders:' .. brand, string.lower(sender))
    end
  end
  if args[9] ~= '[]' or next(changes) then
    redis.call('RPUSH', key .. ':audit', cjson.encode({
      event = entry, at_ms = now, fired = cjson.decode(args[9]), changes = changes}))
  end
  redis.call('SET', done, '1', 'PX', APPLIED_TTL_MS)
  redis.call('XACK', keys[1], group, entry)
  return 'applied'
end

-- Moves delayed actions that are due onto the events stream, at most ARGV[1] of them, in one
-- atomic step so that two workers never both release the same job.
--   KEYS: delayed-actions sorted set, events stream
local function release_delayed(keys, args)
  local due = redis.call('ZRANGEBYSCORE', keys[1], '-inf', now_ms(), 'LIMIT', 0,
    tonumber(args[1]))
  for _, member in ipairs(due) do
    local job = cjson.decode(member)
    redis.call('XADD', keys[2], 'MAXLEN', '~', EVENTS_MAXLEN, '*', 'type', 'ticket.delayed',
      'ticket', job.ticket, 'actions', job.actions, 'trigger', job.trigger)
    redis.call('ZREM', keys[1], member)
  end
  return #due
end

-- Per-recipient notification caps (loop safety): counts one notification to ARGV[2] about
-- ticket ARGV[1] and answers 'ok', 'ticket_cap' or 'recipient_cap'.
--   ARGV: ticket, recipient, ticket limit, ticket window ms, recipient limit, recipient window ms
local function notify_rate(keys, args)
  local function count(key, window)
    local n = redis.call('INCR', key)
    if n == 1 then redis.call('PEXPIRE', key, window) end
    return n
  end
  local per_ticket = count(P .. 'notify_rate:' .. args[1] .. ':' .. args[2], tonumber(args[4]))
  local per_recipient = count(P .. 'notify_rate:' .. args[2], tonumber(args[6]))
  if per_ticket > tonumber(args[3]) then return 'ticket_cap' end
  if per_recipient > tonumber(args[5]) then return 'recipient_cap' end
  return 'ok'
end

-- A delivery to target ARGV[1] succeeded (ARGV[2] = '1') or failed ('0', reason ARGV[4]).
-- Consecutive failures count up; at ARGV[3] the target is deactivated. Returns
-- {consecutive failures, 1 if this call deactivated it}.
local function target_result(keys, args)
  local key = P .. 'target:' .. args[1]
  if args[2] == '1' then
    redis.call('HSET', key, 'failures', 0, 'last_success_ms', now_ms())
    return {0, 0}
  end
  local failures = redis.call('HINCRBY', key, 'failures', 1)
  redis.call('HSET', key, 'last_error', args[4], 'last_failure_ms', now_ms())
  if failures >= tonumber(args[3]) and redis.call('HGET', key, 'active') ~= '0' then
    redis.call('HSET', key, 'active', '0', 'deactivated_ms', now_ms())
    return {failures, 1}
  end
  return {failures, 0}
end

redis.register_function('postdesk_ingest', ingest)
redis.register_function('postdesk_notify_rate', notify_rate)
redis.register_function('postdesk_target_result', target_result)
redis.register_function('postdesk_apply_triggers', apply_triggers)
redis.register_function('postdesk_release_delayed', release_delayed)
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
