#!/usr/bin/env bash
# The ceiling of the durable ingest path: `postdesk serve` as it is, except that Redis's
# postdesk_ingest function is replaced, once the gateway listens, by one that only allocates a
# ticket id. Everything else stays: SMTP, parsing, classification, the MULTI / SET of the raw
# message / FCALL / EXEC block, the AOF with its fsync before every 250, the trigger workers.
# What it measures is how fast this machine can take mail through the design's path if the
# ticket itself cost Redis nothing: no ticket hash, comment, index, event, duplicate check or
# rate guard. It is a measurement, never a way to run: the tickets it makes are empty.
#
#   tools/bench/ingest_ceiling.sh build/postdesk serve --config tools/bench/peers.toml
#   ../shared/bench/peers.sh [-d] -- tools/bench/ingest_ceiling.sh build/postdesk serve --config tools/bench/peers.toml
#
# The configuration must use the embedded Redis (no [redis] url): the socket is found in its
# data_dir. SIGTERM stops the gateway as it would stop `postdesk serve`.
set -euo pipefail
(($# >= 3)) || { echo "usage: $0 POSTDESK serve --config FILE" >&2; exit 2; }

config=""
for ((i = 1; i < $#; i++)); do
  [ "${!i}" = "--config" ] && { j=$((i + 1)); config=${!j}; }
done
[ -n "$config" ] || { echo "$0: no --config FILE" >&2; exit 2; }
data_dir=$(sed -n 's/^data_dir *= *"\(.*\)"/\1/p' "$config")
[ -n "$data_dir" ] || data_dir=./var

log=$(mktemp)
trap 'rm -f "$log"' EXIT
"$@" 2> >(tee "$log" >&2) &
gateway=$!
trap 'kill -TERM "$gateway" 2>/dev/null; wait "$gateway"; rm -f "$log"; exit 0' TERM INT

for ((i = 0; i < 300; i++)); do
  grep -q "listening on" "$log" && break
  kill -0 "$gateway" 2>/dev/null || { echo "$0: the gateway exited" >&2; exit 1; }
  sleep 0.1
done

# The same library name and functions, so that FCALL postdesk_ingest reaches the stub; the
# reply has the real function's shape: one {'ticket', id, followup_of} per target (brand).
redis-cli -s "$data_dir/redis.sock" -x FUNCTION LOAD REPLACE >/dev/null <<'LUA'
#!lua name=postdesk
local function ingest(keys, args)
  local outcomes = {}
  for t = 1, tonumber(args[16]) do
    outcomes[t] = {'ticket', redis.call('INCR', keys[1]), 0}
  end
  return outcomes
end
local function nothing() return 0 end
redis.register_function('postdesk_ingest', ingest)
redis.register_function('postdesk_notify_rate', nothing)
redis.register_function('postdesk_target_result', nothing)
redis.register_function('postdesk_apply_triggers', nothing)
redis.register_function('postdesk_release_delayed', nothing)
LUA
echo "ingest_ceiling: postdesk_ingest replaced by the id-only stub" >&2
wait "$gateway"
