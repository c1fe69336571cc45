#!/usr/bin/env python3
"""Redis's instructions per stored message, under callgrind.

Starts a scratch redis-server under valgrind's callgrind (AOF on, appendfsync always, as the
embedded one), loads the Functions library from storage/redis_functions.cc, and pipelines
ingest blocks shaped as TicketStore sends them for smtp-source's 2 KiB messages (MULTI, SET of
the raw message, FCALL postdesk_ingest, EXEC; captured with MONITOR): 300 to warm up, then
--count with instrumentation on. Prints the instructions per message; the callgrind file
stays for callgrind_annotate. Needs valgrind, redis-server and redis-cli.

  tools/bench/redis_ingest_cost.py [--count 1000] [--no-aof]
"""

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RAW = b"X" * 2300  # the raw message with our Received: header, as smtp-source's are
WARM = 300  # blocks before instrumentation starts


def resp(*args):
    out = [b"*%d\r\n" % len(args)]
    for a in args:
        a = a if isinstance(a, bytes) else a.encode()
        out.append(b"$%d\r\n%s\r\n" % (len(a), a))
    return b"".join(out)


def block(i):
    key = "k%d" % i
    span = '"269,2050"'
    fcall = resp(
        "FCALL", "postdesk_ingest", "4", "{pd}:ticket:next_id", "{pd}:events",
        "{pd}:message:" + key, "{pd}:body:" + key, key, "",
        '"author_email":"bench@load.test","author_name":"","public":true,"via":"email",'
        '"message_id":"%d@vm","body_span":%s' % (i, span),
        '"subject":"","requester_name":"","via":"email","transaction":"d.%d",'
        '"description_span":%s' % (i, span),
        "bench@load.test", "", "%d@vm" % i, "d.%d" % i,
        "1000000", "3600000", "3600000", "604800000", "1209600000", "0", "", "1",
        "acme", "support@acme.test", "", "", "0")
    return resp("MULTI") + resp("SET", "{pd}:message:" + key, RAW) + fcall + resp("EXEC")


def cli(sock, *args, stdin=None):
    return subprocess.run(["redis-cli", "-s", sock, *args], input=stdin, capture_output=True,
                          check=True).stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=1000)
    parser.add_argument("--no-aof", action="store_true")
    options = parser.parse_args()

    source = open(os.path.join(ROOT, "storage/redis_functions.cc")).read()
    library = re.search(r'R"LUA\((.*?)\)LUA"', source, re.S).group(1).encode()
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
        cli(sock, "-x", "FUNCTION", "LOAD", "REPLACE", stdin=library)
        cli(sock, "--pipe", stdin=b"".join(block(i) for i in range(WARM)))
        subprocess.run(["callgrind_control", "-i", "on", str(server.pid)],
                       capture_output=True, check=True)
        blocks = b"".join(block(i) for i in range(WARM, WARM + options.count))
        cli(sock, "--pipe", stdin=blocks)
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
