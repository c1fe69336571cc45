#include "storage/redis_functions.h"

#include "storage/resp_command.h"

namespace postdesk {

const std::string_view kFunctionsLibrary = R"LUA(#!lua name=postdesk
-- Postdesk storage functions. Keys: see storage/redis_functions.h.

-- Text, not a number: Lua would format a number with printf's %g on every XADD.
local EVENTS_MAXLEN = '1000000'
local P = '{pd}:'

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

-- Scripts hold numbers as doubles, and both Lua and Redis turn a double into text with printf's
-- %g, which costs more than a small command (measured under callgrind: a tenth of an ingest).
-- The ingest path keeps times and ids as text: Redis's time in milliseconds, and integer replies
-- written with %d.
local function now_ms_text()
  local t = redis.call('TIME')
  local us = t[2]
  local ms = #us > 3 and string.sub(us, 1, #us - 3) or ''
  return t[1] .. string.rep('0', 3 - #ms) .. ms
end

local function int_text(n)
  return string.format('%d', n)
end

-- One entry on the events stream, its field/value pairs as given. A comment's event names the
-- comment it added (its index in the comments list) and the status before it, so that a worker
-- reading it later still sees this update, not a later one. A new ticket's event names only
-- the ticket: its comment is the first and there was no status before
-- (storage/trigger_queue.cc). Nothing more: every field costs the stream, the AOF and every
-- reader.
local function event(events_key, ...)
  redis.call('XADD', events_key, 'MAXLEN', '~', EVENTS_MAXLEN, '*', ...)
end

-- postdesk_ingest: one message in. It runs inside MULTI ... EXEC after the SETs of the raw
-- message and the comment body under keys named by the client's storage key (see
-- storage/ingest_request.h), so that neither large value passes through Lua: each byte a script
-- sees costs as much as a small command, in copies and garbage collection.
--   KEYS: ticket next_id, events stream, raw message key ({pd}:message:<storage key>, or the
--         recovered record's), body key ({pd}:body:<storage key>)
--   ARGV: 1 storage key, 2 subject, 3 comment (the JSON members the client wrote: author,
--         public, via, message_id, attachments), 4 ticket (the JSON members of the ticket's
--         core: subject, requester_name, via, transaction, and the flags that are on),
--         5 requester email, 6 requester name, 7 Message-ID ('' when none), 8 transaction,
--         9 rate limit, 10 rate window ms, 11 block ms, 12 dedupe window ms, 13 suspended
--         retention ms, 14 suspended id being recovered ('0' when not), 15 that record's
--         message (storage key), 16 target count, then 5 per target: brand, received_at,
--         cause, reason, thread ticket
-- Per target (brand) one outcome:
--   {'duplicate', ticket}   the same Message-ID reached this brand within the window
--   {'suspended', id, cause}
--   {'comment', ticket}     a reply threaded into an open ticket
--   {'ticket', id, followup_of}  a new ticket (a follow-up when the reply named a closed one)
-- The raw message and the body stay only if an outcome uses them: a pure duplicate stores
-- nothing. A recovered message's outcome is always a new ticket.
local function ingest(keys, args)
  local storage_key, subject, comment_json, ticket_json = args[1], args[2], args[3], args[4]
  local requester_email, requester_name = args[5], args[6]
  local message_id_header, transaction = args[7], args[8]
  local rate_limit_text, rate_window_ms, block_ms = args[9], args[10], args[11]
  local dedupe_window_ms, retention_ms = args[12], args[13]
  local recovered_id, target_count = args[14], tonumber(args[16])
  local recovering = recovered_id ~= '0'
  local now = now_ms_text()
  local raw_key, body_key = keys[3], keys[4]
  local message = storage_key
  if recovering then
    message = args[15]  -- the record's raw message, which KEYS[3] names, is kept
    redis.call('DEL', P .. 'suspended:' .. recovered_id)
    redis.call('ZREM', P .. 'suspended', recovered_id)
  end
  local sender = string.lower(requester_email)
  local raw_uses, body_used = 0, false
  local suspended_ids = {}

  local function add_comment(ticket_key)
    body_used = true
    local comment_id = int_text(redis.call('INCR', P .. 'comment:next_id'))
    return redis.call('RPUSH', ticket_key .. ':comments', '{"id":' .. comment_id ..
      ',"created_at_ms":' .. now .. ',"message":"' .. message .. '","body":"' .. storage_key ..
      '",' .. comment_json .. '}') - 1
  end

  -- followup_of: the closed ticket's id as text, or nil. A ticket's fields that never change
  -- after this are one JSON member, `core` (one field costs the hash as much as another to
  -- write, whatever its size); beside it only what scripts read or change. Fields that are
  -- empty for a new ticket (priority, type, group, assignee, tags) are left out: readers take a
  -- missing field as empty.
  local function new_ticket(brand, received_at, followup_of)
    local n = redis.call('INCR', keys[1])
    local id = int_text(n)
    local key = P .. 'ticket:' .. id
    local core = '{"id":"' .. id .. '","created_at_ms":"' .. now .. '","message":"' .. message ..
      '","description_body":"' .. storage_key .. '",' ..
      (followup_of and ('"followup_source_id":"' .. followup_of .. '",') or '') .. ticket_json .. '}'
    redis.call('HSET', key, 'status', 'new', 'brand', brand, 'received_at', received_at,
      'requester_email', requester_email, 'updated_at_ms', now, 'version', '1', 'core', core)
    raw_uses = raw_uses + 1
    add_comment(key)
    if sender ~= '' then
      redis.call('ZADD', P .. 'requester:' .. sender .. ':tickets', now, id)
    end
    event(keys[2], 'type', 'ticket.created', 'ticket', id)
    return n
  end

  local function suspend(brand, received_at, cause, reason)
    raw_uses = raw_uses + 1
    local n = redis.call('INCR', P .. 'suspended:next_id')
    local id = int_text(n)
    suspended_ids[#suspended_ids + 1] = id
    local key = P .. 'suspended:' .. id
    redis.call('HSET', key, 'id', id, 'cause', cause, 'reason', reason,
      'brand', brand, 'received_at', received_at,
      'sender', requester_email, 'sender_name', requester_name,
      'subject', subject, 'message', message, 'created_at_ms', now,
      'transaction', transaction)
    redis.call('PEXPIRE', key, retention_ms)
    -- The index outlives expired entries; readers skip and prune ids whose hash is gone.
    redis.call('ZADD', P .. 'suspended', now, id)
    return n
  end

  local rate_limit = tonumber(rate_limit_text)
  local outcomes = {}
  for t = 0, target_count - 1 do
    local base = 17 + 5 * t
    local brand, received_at = args[base], args[base + 1]
    local cause, reason, thread_text = args[base + 2], args[base + 3], args[base + 4]
    local thread = tonumber(thread_text)
    local dedupe_key = nil
    if message_id_header ~= '' and not recovering then
      dedupe_key = P .. 'dedupe:' .. brand .. ':' .. redis.sha1hex(message_id_header)
    end
    local first = dedupe_key and redis.call('GET', dedupe_key)
    if first then
      outcomes[#outcomes + 1] = {'duplicate', tonumber(first)}
    else
      -- The rate guard counts every message from a sender to a brand; past the limit the
      -- sender is blocked for a while (design.md: Classification). One counter does both: it
      -- lives for the window from its first message, and the message that passes the limit
      -- gives it the block time instead, during which every message is over the limit.
      if cause == '' and sender ~= '' and not recovering then
        if redis.call('SISMEMBER', P .. 'suspended_senders:' .. brand, sender) == 1 then
          cause, reason = 'blocklisted', 'sender suspended for this brand'
        else
          local counter = P .. 'rate:' .. brand .. ':' .. sender
          local n = redis.call('INCR', counter)
          if n == 1 then redis.call('PEXPIRE', counter, rate_window_ms) end
          if n == rate_limit + 1 then
            cause = 'loop'
            reason = 'more than ' .. rate_limit_text .. ' messages within the rate window'
            redis.call('PEXPIRE', counter, block_ms)
          elseif n > rate_limit then
            cause, reason = 'blocklisted', 'sender blocked by the rate guard'
          end
        end
      end
      local outcome
      if cause ~= '' then
        outcome = {'suspended', suspend(brand, received_at, cause, reason), cause}
      else
        local thread_key = P .. 'ticket:' .. thread_text
        local status = thread > 0 and redis.call('HGET', thread_key, 'status')
        if status and redis.call('HGET', thread_key, 'brand') ~= brand then status = nil end
        if status and status ~= 'closed' then
          raw_uses = raw_uses + 1
          local index = add_comment(thread_key)
          -- A requester's reply reopens a solved or waiting ticket, as in Zendesk.
          local reopen = (status == 'solved' or status == 'pending' or status == 'hold')
          redis.call('HSET', thread_key, 'updated_at_ms', now,
            'status', reopen and 'open' or status)
          redis.call('HINCRBY', thread_key, 'version', '1')
          event(keys[2], 'type', 'ticket.comment_added', 'ticket', thread_text,
            'comment', int_text(index), 'previous_status', status)
          outcome = {'comment', thread}
        else
          local followup = status == 'closed' and thread_text or nil
          outcome = {'ticket', new_ticket(brand, received_at, followup), followup and thread or 0}
        end
        if dedupe_key then
          redis.call('SET', dedupe_key, int_text(outcome[2]), 'PX', dedupe_window_ms)
        end
      end
      outcomes[#outcomes + 1] = outcome
    end
  end
  if raw_uses == 0 and not recovering then redis.call('DEL', raw_key) end
  if not body_used then redis.call('DEL', body_key) end
  -- Deleting a suspended message deletes its raw message too, unless a ticket or another
  -- suspension of the same transaction (another brand) still needs it.
  if raw_uses > 1 then
    for _, id in ipairs(suspended_ids) do
      redis.call('HSET', P .. 'suspended:' .. id, 'message_shared', '1')
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
    event(keys[2], 'type', 'ticket.delayed', 'ticket', job.ticket, 'actions', job.actions,
      'trigger', job.trigger)
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

void RedisArgv::AppendResp(std::string* out) const {
  AppendRespArray(argv.size(), out);
  for (size_t i = 0; i < argv.size(); ++i) AppendRespBulk(std::string_view(argv[i], lens[i]), out);
}

RedisArgv FunctionLoadCommand() {
  RedisArgv command;
  for (std::string_view arg : {std::string_view("FUNCTION"), std::string_view("LOAD"),
                               std::string_view("REPLACE"), kFunctionsLibrary}) {
    command.Add(arg);
  }
  return command;
}

RedisArgv AuthCommand(const RedisAddress& address) {
  return AuthCommand(address.username, address.password);
}

RedisArgv AuthCommand(std::string_view username, std::string_view password) {
  RedisArgv command;
  command.Add("AUTH");
  if (!username.empty()) command.Add(username);  // an ACL user (Redis 6)
  command.Add(password);
  return command;
}

}  // namespace postdesk
