#!/usr/bin/env python3
"""Redis's instructions per stored message, under callgrind.

Starts a scratch redis-server under valgrind's callgrind (AOF on, appendfsync always, as the
embedded one), loads the gateway's Functions library, and pipelines the ingest blocks that
TicketStore sends for generated 2 KiB messages (MULTI, SET of the raw message, FCALL
postdesk_ingest, EXEC), both written by the gateway's own code (build/tools/bench/ingest_blocks,
built with -DPOSTDESK_BUILD_BENCHMARKS=ON): 300 to warm up, then --count with instrumentation
on. Prints the instructions per message; the callgrind file
stays for callgrind_annotate. Needs valgrind, redis-server and redis-cli.

  tools/bench/redis_ingest_cost.py [--count 1000] [--no-aof] [--size BYTES] [--unique-senders]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
WARM = 300  # blocks before instrumentation starts


def blocks(options, first, count, function_load=False):
    """The gateway's own ingest blocks for messages first..first+count-1 (ingest_blocks.cc),
    after its FUNCTION LOAD when asked."""
    return subprocess.run(
        [options.ingest_blocks, "--config", options.config, "--to", options.to,
         "--first", str(first), "--count", str(count), "--size", str(options.size),
         "--unique-senders", "yes" if options.unique_senders else "no",
         "--function-load", "yes" if function_load else "no"],
        capture_output=True, check=True).stdout


def cli(sock, *args, stdin=None):
    return subprocess.run(["redis-cli", "-s", sock, *args], input=stdin, capture_output=True,
                          check=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--no-aof", action="store_true")
    parser.add_argument("--size", type=int, default=2048, help="body bytes per message")
    parser.add_argument("--unique-senders", action="store_true",
                        help="a sender per message, as postdesk-blast's (default: one, as smtp-source's)")
    parser.add_argument("--config", default=os.path.join(ROOT, "tools/bench/peers.toml"))
    parser.add_argument("--to", default="support@acme.test", help="a support address of --config")
    parser.add_argument("--ingest-blocks",
                        default=os.path.join(ROOT, "build/tools/bench/ingest_blocks"))
    options = parser.parse_args()

    work = tempfile.mkdtemp(prefix="pd-redis-cost-")
    sock = os.path.join(work, "redis.sock")
    out = os.path.join(work, "callgrind.out")
    server = subprocess.Popen(
        ["valgrind", "--tool=callgrind", "--instr-atstart=no", "--callgrind-out-file=" + out,
         "redis-server", "--port", "0", "--unixsocket", sock, "--dir", work, "--save", "",
         "--appendonly", "no" if options.no_aof else "yes", "--appendfsync", "always"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(300):
            if os.path.exists(sock) and cli(sock, "PING").strip() == b"PONG":
                break
            time.sleep(0.1)
        cli(sock, "--pipe", stdin=blocks(options, 0, WARM, function_load=True))
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)],
                       capture_output=True, check=True)
        measured = blocks(options, WARM, options.count)
        cli(sock, "--pipe", stdin=measured)
        subprocess.run(["callgrind_control", "-i", "off", str(server.pid)],
                       capture_output=True, check=True)
        tickets = int(cli(sock, "GET", "{pd}:ticket:next_id"))
    finally:
        server.terminate()
        server.wait()
    if tickets != WARM + options.count:
        sys.exit("expected %d tickets, Redis holds %d" % (WARM + options.count, tickets))
    totals = subprocess.run(["callgrind_annotate", out], capture_output=True, text=True).stdout
    match = re.search(r"([\d,]+) \(100\.0%\)\s+PROGRAM TOTALS", totals)
    total = int(match.group(1).replace(",", ""))
    print("%d instructions per message (%d messages, AOF %s); profile: %s"
          % (total // options.count, options.count, "off" if options.no_aof else "on", out))


if __name__ == "__main__":
    main()
