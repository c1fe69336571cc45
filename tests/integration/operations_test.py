"""Operations (issue 9): Prometheus metrics and the health check on [http] listen, and JSON logs.

The real gateway, real redis-server processes, smtplib and raw sockets; what an operator would
look at: the counters after a few messages, /healthz across a Redis outage, and a log in which
every line is a JSON object.
"""
import http.client
import json
import os
import re
import signal
import smtplib
import subprocess
import sys
import time
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import Gateway, RawClient, RedisServer, free_port  # noqa: E402

SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def http_get(port, path, method="GET"):
    """(status, headers, body) of one request to the gateway's HTTP port."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, path)
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read().decode()
    finally:
        conn.close()


def wait_http(port, path, want, timeout=20):
    deadline = time.time() + timeout
    while True:
        try:
            status, _, body = http_get(port, path)
        except (OSError, http.client.HTTPException) as e:
            status, body = None, str(e)
        if status == want or time.time() > deadline:
            return status, body
        time.sleep(0.2)


class Metrics:
    """Samples of a Prometheus text exposition, checked for HELP and TYPE before each family."""

    def __init__(self, text):
        self.samples = {}
        self.types = {}
        helped = set()
        for line in text.splitlines():
            if line.startswith("# HELP "):
                helped.add(line.split(" ")[2])
                continue
            if line.startswith("# TYPE "):
                _, _, name, kind = line.split(" ")
                assert name in helped, f"TYPE before HELP: {line}"
                self.types[name] = kind
                continue
            m = SAMPLE.match(line)
            assert m, f"not a sample line: {line!r}"
            name, labels, value = m.groups()
            family = re.sub(r"_(bucket|sum|count)$", "", name)
            assert name in self.types or family in self.types, f"no TYPE for {name}"
            key = (name, tuple(sorted(LABEL.findall(labels or ""))))
            self.samples[key] = float(value)

    def get(self, name, **labels):
        return self.samples[(name, tuple(sorted(labels.items())))]


def scrape(port):
    status, headers, body = http_get(port, "/metrics")
    assert status == 200, (status, body)
    assert headers["Content-Type"].startswith("text/plain; version=0.0.4"), headers
    return Metrics(body)


def wait_metric(port, name, want, timeout=10, **labels):
    """The sample once it equals `want` (Redis gauges come from a probe that runs each second)."""
    deadline = time.time() + timeout
    while True:
        value = scrape(port).get(name, **labels)
        if value == want or time.time() > deadline:
            return value
        time.sleep(0.1)


def message(subject, extra_headers=()):
    msg = EmailMessage()
    msg["From"] = "Ann Example <ann@customer.test>"
    msg["To"] = "support@acme.test"
    msg["Subject"] = subject
    for name, value in extra_headers:
        msg[name] = value
    msg.set_content("Hello,\nmy printer is on fire.\n")
    return msg


def send(port, msg, rcpts):
    """Code of the reply to the final dot, or of the first refused recipient."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.test")
        smtp.mail("ann@customer.test")
        for r in rcpts:
            code, _ = smtp.rcpt(r)
            if code != 250:
                smtp.rset()
                return code
        return smtp.data(msg.as_bytes())[0]


def start_redis(port, directory):
    """redis-server again on a port a RedisServer had (as gateway_test's outage test does)."""
    os.makedirs(directory, exist_ok=True)
    return subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


class MetricsHealthTest(unittest.TestCase):
    def test_metrics_count_what_happened_and_healthz_follows_redis(self):
        redis = RedisServer()
        http_port = free_port()
        gw = Gateway(redis_url=redis.url, extra=f'[http]\nlisten = "127.0.0.1:{http_port}"\n')
        try:
            status, body = wait_http(http_port, "/healthz", 200)
            self.assertEqual((status, body), (200, "ok\n"), gw.read_log())
            # None yet: the harness waits for the gateway's "listening on" line, without a
            # connection of its own.
            self.assertEqual(wait_metric(http_port, "postdesk_connections_total", 0), 0)
            self.assertEqual(wait_metric(http_port, "postdesk_connections_open", 0), 0)
            before = scrape(http_port)
            self.assertEqual(before.types["postdesk_final_dot_seconds"], "histogram")
            self.assertEqual(before.types["postdesk_transactions_total"], "counter")

            # One ticket, one unknown recipient (refused at RCPT: no DATA), one auto-reply.
            self.assertEqual(send(gw.port, message("Printer on fire"), ["support@acme.test"]), 250)
            self.assertEqual(send(gw.port, message("Hello?"), ["nobody@acme.test"]), 550)
            auto = message("Out of office", [("Auto-Submitted", "auto-replied")])
            self.assertEqual(send(gw.port, auto, ["support@acme.test"]), 250)

            # Closing a connection is asynchronous: wait for the gauge to come back to 0.
            deadline = time.time() + 10
            while True:
                m = scrape(http_port)
                if m.get("postdesk_connections_open") == 0 or time.time() > deadline:
                    break
                time.sleep(0.1)
            self.assertEqual(m.get("postdesk_connections_open"), 0)
            self.assertEqual(m.get("postdesk_connections_total")
                             - before.get("postdesk_connections_total"), 3)
            self.assertEqual(m.get("postdesk_transactions_total", verdict="ticket"), 1)
            self.assertEqual(m.get("postdesk_transactions_total", verdict="suspended"), 1)
            for verdict in ("comment", "duplicate", "refused", "tempfail"):
                self.assertEqual(m.get("postdesk_transactions_total", verdict=verdict), 0, verdict)
            self.assertEqual(m.get("postdesk_suspended_total", cause="auto_vacation"), 1)
            self.assertEqual(m.get("postdesk_suspended_total", cause="loop"), 0)
            self.assertEqual(m.get("postdesk_recipients_total", result="unknown"), 1)
            self.assertEqual(m.get("postdesk_recipients_total", result="accepted"), 2)
            self.assertEqual(m.get("postdesk_final_dot_seconds_count"), 2)
            self.assertEqual(m.get("postdesk_final_dot_seconds_bucket", le="+Inf"), 2)
            self.assertGreater(m.get("postdesk_final_dot_seconds_sum"), 0)
            self.assertEqual(m.get("postdesk_redis_command_seconds_count"), 2)
            self.assertGreater(m.get("postdesk_received_bytes_total"), 200)
            self.assertEqual(m.get("postdesk_redis_up"), 1)
            self.assertEqual(m.get("postdesk_redis_connections"), 2)  # loops = 2
            self.assertEqual(m.get("postdesk_redis_errors_total"), 0)
            # The ticket's event went on the stream (the suspension makes none), and the trigger
            # workers of this process took it.
            self.assertEqual(wait_metric(http_port, "postdesk_events_stream_length", 1), 1)
            self.assertEqual(wait_metric(http_port, "postdesk_trigger_events_total", 1), 1)
            self.assertEqual(wait_metric(http_port, "postdesk_stream_backlog", 0, stream="events"), 0)
            self.assertEqual(http_get(http_port, "/nope")[0], 404)
            self.assertEqual(http_get(http_port, "/metrics", method="POST")[0], 405)

            # Redis stops: /healthz says so, and mail gets 451 (counted as tempfail).
            redis.proc.terminate()
            redis.proc.wait(timeout=10)
            status, body = wait_http(http_port, "/healthz", 503)
            self.assertEqual(status, 503, body)
            self.assertIn(f"127.0.0.1:{redis.port}", body)
            self.assertEqual(wait_metric(http_port, "postdesk_redis_up", 0), 0)
            deadline = time.time() + 20
            tempfails = 0
            while tempfails == 0 and time.time() < deadline:
                code = send(gw.port, message("While Redis is down"), ["support@acme.test"])
                tempfails += code == 451
            self.assertEqual(tempfails, 1)
            m = scrape(http_port)
            self.assertEqual(m.get("postdesk_transactions_total", verdict="tempfail"), 1)
            self.assertGreaterEqual(m.get("postdesk_redis_errors_total"), 1)

            # Redis comes back on the same port: healthy again without a restart.
            redis.proc = start_redis(redis.port, os.path.join(gw.dir, "redis"))
            status, body = wait_http(http_port, "/healthz", 200)
            self.assertEqual((status, body), (200, "ok\n"))
            self.assertEqual(wait_metric(http_port, "postdesk_redis_up", 1), 1)
        finally:
            gw.stop()
            redis.stop()

    def test_healthz_says_draining_after_sigterm(self):
        http_port = free_port()
        gw = Gateway(extra=f'[http]\nlisten = "127.0.0.1:{http_port}"\n')
        try:
            self.assertEqual(wait_http(http_port, "/healthz", 200)[0], 200, gw.read_log())
            # A transaction in flight keeps the gateway draining for a moment.
            client = RawClient(gw.port)
            client.reply()
            client.send("EHLO client.test\r\nMAIL FROM:<ann@customer.test>\r\n")
            client.reply()
            client.reply()
            gw.proc.send_signal(signal.SIGTERM)
            status, body = wait_http(http_port, "/healthz", 503, timeout=5)
            self.assertEqual((status, body), (503, "draining\n"))
            client.close()
            self.assertEqual(gw.proc.wait(timeout=30), 0)
        finally:
            gw.stop()


class JsonLogTest(unittest.TestCase):
    def test_every_line_is_json_and_the_transaction_line_has_its_fields(self):
        gw = Gateway(extra='[log]\nformat = "json"\n')
        try:
            c = RawClient(gw.port)
            self.assertTrue(c.reply()[0].startswith("220"))
            # A HELO with control characters, an ANSI colour sequence and a quote.
            c.send('EHLO evil\x01\x1b[31m"red\x7f\r\n')
            self.assertTrue(c.reply()[-1].startswith("250"))
            c.send("MAIL FROM:<ann@customer.test>\r\n")
            self.assertEqual(c.reply(), ["250 2.1.0 Ok"])
            c.send("RCPT TO:<support@acme.test>\r\n")
            self.assertEqual(c.reply(), ["250 2.1.5 Ok"])
            c.send("RCPT TO:<help@acme.test>\r\n")
            self.assertEqual(c.reply(), ["250 2.1.5 Ok"])
            c.send("DATA\r\n")
            self.assertTrue(c.reply()[0].startswith("354"))
            c.send("From: ann@customer.test\r\nSubject: Printer\r\n\r\nOn fire.\r\n.\r\n")
            reply = c.reply()[0]
            self.assertTrue(reply.startswith("250 2.0.0 Ok: ticket "), reply)
            c.send("QUIT\r\n")
            c.reply()
            c.close()
            self.assertIsNotNone(gw.redis_pid())  # the harness still finds what it reads
            self.assertEqual(gw.terminate(), 0)
            log = gw.read_log()
        finally:
            gw.stop()

        self.assertNotIn("\x01", log)
        self.assertNotIn("\x1b", log)
        lines = log.splitlines()
        self.assertGreater(len(lines), 3)
        records = []
        for line in lines:
            record = json.loads(line)  # every line: one JSON object
            self.assertIsInstance(record, dict, line)
            self.assertTrue({"ts", "level", "msg"} <= record.keys(), line)
            self.assertRegex(record["ts"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
            records.append(record)
        transactions = [r for r in records if r["msg"] == "transaction"]
        self.assertEqual(len(transactions), 1, log)
        t = transactions[0]
        self.assertEqual(t["level"], "info")
        self.assertRegex(t["session"], r"^[0-9a-f]+\.1$")
        self.assertEqual(t["client"], "127.0.0.1")
        self.assertEqual(t["tls"], "no")
        self.assertEqual(t["helo"], 'evil\\x01\\x1b[31m"red\\x7f')  # escaped as text, not raw
        self.assertEqual(t["from"], "ann@customer.test")
        self.assertEqual(t["rcpt"], ["support@acme.test", "help@acme.test"])
        self.assertIsInstance(t["size"], int)
        self.assertGreater(t["size"], 40)
        self.assertEqual(t["outcome"], "ticket")
        self.assertEqual(reply, f"250 2.0.0 Ok: ticket {t['ticket']}")
        self.assertEqual(t["reply"], reply)
        self.assertIsInstance(t["ms"], int)
        self.assertIn("stopped", [r["msg"] for r in records])


if __name__ == "__main__":
    unittest.main()
