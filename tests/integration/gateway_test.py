"""End to end: the real postdesk binary, a real redis-server, and real clients (smtplib, swaks)."""
import os
import re
import shutil
import signal
import smtplib
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import CONFIG, POSTDESK, Gateway, RawClient, RedisServer, free_port, pid_alive, wait_for  # noqa: E402,E501

TICKET_REPLY = re.compile(r"^2\.0\.0 Ok: ticket (\d+)$")


def message(subject="Printer on fire", body="Hello,\nmy printer is on fire.\n",
            sender="Ann Example <ann@customer.test>", to="support@acme.test"):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    return msg


def send(port, msg, rcpts, mail_from="ann@customer.test"):
    """Sends with smtplib; returns (code, text) of the reply to the final dot."""
    with smtplib.SMTP("127.0.0.1", port, timeout=30) as smtp:
        smtp.ehlo("client.test")
        smtp.mail(mail_from)
        for r in rcpts:
            code, text = smtp.rcpt(r)
            assert code == 250, (r, code, text)
        return smtp.data(msg.as_bytes())


class SmtpDialogueTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.gw = Gateway()

    @classmethod
    def tearDownClass(cls):
        cls.gw.stop()

    def test_tickets_raw_writes_the_message_as_stored(self):
        message = (b"From: Ann Example <ann@customer.test>\r\nTo: support@acme.test\r\n"
                   b"Subject: Raw and whole\r\n\r\nLine one.\r\n.leading dot\r\n")
        with smtplib.SMTP("127.0.0.1", self.gw.port, timeout=10) as smtp:
            smtp.ehlo("client.test")
            smtp.mail("ann@customer.test")
            smtp.rcpt("support@acme.test")
            code, text = smtp.data(message)
        self.assertEqual(code, 250, text)
        ticket = TICKET_REPLY.match(text.decode()).group(1)
        raw = self.gw.raw_message(ticket)
        # Our trace header, then the message as smtplib had it before it dot-stuffed the line
        # that starts with a dot (RFC 5321 4.5.2).
        self.assertTrue(raw.startswith(b"Received: from client.test ([127.0.0.1])"), raw[:80])
        self.assertTrue(raw.endswith(message), raw)
        # What `tickets raw` writes, `postdesk parse` reads back.
        parse = subprocess.run([POSTDESK, "parse", "/dev/stdin"], input=raw, capture_output=True,
                               timeout=30)
        self.assertEqual(parse.returncode, 0, parse.stderr)
        self.assertIn(b'"subject": "Raw and whole"', parse.stdout)
        missing = subprocess.run([POSTDESK, "tickets", "raw", "99999", "--config", self.gw.config],
                                 capture_output=True, text=True, timeout=30)
        self.assertEqual(missing.returncode, 1)
        self.assertIn("no ticket 99999", missing.stderr)

    def test_ehlo_lists_the_six_extensions(self):
        with smtplib.SMTP("127.0.0.1", self.gw.port, timeout=10) as smtp:
            code, text = smtp.ehlo("client.test")
            self.assertEqual(code, 250)
            for ext in ("pipelining", "size", "8bitmime", "chunking", "smtputf8",
                        "enhancedstatuscodes"):
                self.assertTrue(smtp.has_extn(ext), ext)
            self.assertEqual(smtp.esmtp_features["size"], str(1024 * 1024))

    def test_bdat_chunks_pipelined_become_one_ticket(self):
        # RFC 3030, as Exchange Online and Gmail send it when CHUNKING is offered: the
        # commands and chunks pipelined, the chunks' octets counted, not dot-stuffed.
        first = (b"From: Ann Example <ann@customer.test>\r\nTo: help@acme.test\r\n"
                 b"Subject: Sent in chunks\r\n\r\n")
        last = b"Hello,\r\n.\r\nthis line follows a lone dot.\r\n"
        c = RawClient(self.gw.port)
        c.reply()
        c.send(b"EHLO client.test\r\nMAIL FROM:<ann@customer.test>\r\nRCPT TO:<help@acme.test>\r\n"
               + b"BDAT %d\r\n" % len(first) + first + b"BDAT %d LAST\r\n" % len(last) + last)
        self.assertIn("250-CHUNKING", c.reply())
        self.assertEqual(c.reply(), ["250 2.1.0 Ok"])
        self.assertEqual(c.reply(), ["250 2.1.5 Ok"])
        self.assertEqual(c.reply(), ["250 2.0.0 Ok: %d octets received" % len(first)])
        (reply,) = c.reply()
        m = TICKET_REPLY.match(reply[4:])
        self.assertTrue(m, reply)
        c.send("QUIT\r\n")
        self.assertEqual(c.reply(), ["221 2.0.0 Bye"])
        c.close()
        ticket = self.gw.ticket(int(m.group(1)))
        self.assertEqual(ticket["subject"], "Sent in chunks")
        self.assertEqual(ticket["received_at"], "help@acme.test")
        self.assertEqual(ticket["description"], "Hello,\n.\nthis line follows a lone dot.")

    def test_binarymime_message_by_bdat_is_stored_byte_for_byte(self):
        # RFC 3030 3, as Exchange sends to a server that offers BINARYMIME: an attachment in
        # Content-Transfer-Encoding: binary holds every octet, bare CR and LF, and a lone dot.
        octets = bytes(range(256)) + b"\r\n.\r\nbare\rcr\nlf"
        message = (b"From: Ann Example <ann@customer.test>\r\nTo: help@acme.test\r\n"
                   b"Subject: Binary receipt\r\nMIME-Version: 1.0\r\n"
                   b'Content-Type: multipart/mixed; boundary="b1"\r\n\r\n'
                   b"--b1\r\nContent-Type: text/plain; charset=utf-8\r\n"
                   b"Content-Transfer-Encoding: 8bit\r\n\r\nCaf\xc3\xa9 receipt attached.\r\n"
                   b"--b1\r\nContent-Type: application/octet-stream\r\n"
                   b'Content-Disposition: attachment; filename="receipt.bin"\r\n'
                   b"Content-Transfer-Encoding: binary\r\n\r\n" + octets + b"\r\n--b1--\r\n")
        c = RawClient(self.gw.port)
        c.reply()
        c.send(b"EHLO client.test\r\nMAIL FROM:<ann@customer.test> BODY=BINARYMIME\r\n"
               b"RCPT TO:<help@acme.test>\r\nDATA\r\n")
        self.assertIn("250-BINARYMIME", c.reply())
        self.assertEqual(c.reply(), ["250 2.1.0 Ok"])
        self.assertEqual(c.reply(), ["250 2.1.5 Ok"])
        self.assertEqual(c.reply(), ["503 5.5.1 Error: BODY=BINARYMIME needs BDAT"])
        c.send(b"BDAT %d LAST\r\n" % len(message) + message)
        (reply,) = c.reply()
        m = TICKET_REPLY.match(reply[4:])
        self.assertTrue(m, reply)
        c.close()
        ticket = self.gw.ticket(int(m.group(1)))
        self.assertEqual(ticket["description"], "Café receipt attached.")
        self.assertEqual(ticket["comments"][0]["attachments"][0]["filename"], "receipt.bin")
        self.assertEqual(ticket["comments"][0]["attachments"][0]["size"], len(octets))
        # The stored raw message (`tickets raw`, every octet through to stdout) is the chunk's
        # octets after our Received: header.
        stored = self.gw.raw_message(int(m.group(1)))
        self.assertTrue(stored.startswith(b"Received: "))
        self.assertTrue(stored.endswith(message))

    def test_greeting_helo_vrfy_noop_rset_quit(self):
        c = RawClient(self.gw.port)
        self.assertEqual(c.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
        c.send("HELO client.test\r\n")
        self.assertEqual(c.reply(), ["250 mx.postdesk.test"])
        c.send("VRFY support\r\n")
        self.assertTrue(c.reply()[0].startswith("252 2.0.0"))
        c.send("NOOP\r\nRSET\r\nQUIT\r\n")
        self.assertEqual(c.reply(), ["250 2.0.0 Ok"])
        self.assertEqual(c.reply(), ["250 2.0.0 Ok"])
        self.assertEqual(c.reply(), ["221 2.0.0 Bye"])
        self.assertTrue(c.closed())

    def test_unknown_recipient_gets_550_5_1_1(self):
        with smtplib.SMTP("127.0.0.1", self.gw.port, timeout=10) as smtp:
            smtp.ehlo("client.test")
            smtp.mail("ann@customer.test")
            code, text = smtp.rcpt("nobody@acme.test")
            self.assertEqual(code, 550)
            self.assertTrue(text.decode().startswith("5.1.1 <nobody@acme.test>"), text)
            code, _ = smtp.rcpt("Support+Urgent@ACME.test")
            self.assertEqual(code, 250)

    def test_message_becomes_a_ticket_with_subject_requester_and_received_at(self):
        code, text = send(self.gw.port, message(), ["help@acme.test"])
        self.assertEqual(code, 250, text)
        m = TICKET_REPLY.match(text.decode())
        self.assertTrue(m, text)
        ticket = self.gw.ticket(int(m.group(1)))
        self.assertEqual(ticket["subject"], "Printer on fire")
        self.assertEqual(ticket["requester"], {"email": "ann@customer.test", "name": "Ann Example"})
        self.assertEqual(ticket["received_at"], "help@acme.test")
        self.assertEqual(ticket["brand"], "acme")
        self.assertEqual(ticket["status"], "new")
        self.assertIn("my printer is on fire.", ticket["description"])
        for key in ("id", "priority", "tags", "comments", "created_at"):
            self.assertIn(key, ticket)
        self.assertEqual(len(ticket["comments"]), 1)

    def test_swaks_delivers_a_ticket(self):
        out = subprocess.run(
            ["swaks", "--server", f"127.0.0.1:{self.gw.port}", "--to", "support@acme.test",
             "--from", "bob@customer.test", "--header", "Subject: Sent with swaks",
             "--body", "Swaks body line."],
            capture_output=True, text=True, timeout=60)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        m = re.search(r"<-  250 2\.0\.0 Ok: ticket (\d+)", out.stdout)
        self.assertTrue(m, out.stdout)
        ticket = self.gw.ticket(int(m.group(1)))
        self.assertEqual(ticket["subject"], "Sent with swaks")
        self.assertEqual(ticket["requester"]["email"], "bob@customer.test")
        self.assertEqual(ticket["received_at"], "support@acme.test")

    def test_two_brands_in_one_transaction_make_one_ticket_each(self):
        code, text = send(self.gw.port, message(subject="Two brands"),
                          ["support@acme.test", "help@acme.test", "help@globex.test"])
        self.assertEqual(code, 250, text)
        ids = re.match(r"^2\.0\.0 Ok: ticket (\d+), ticket (\d+)$", text.decode())
        self.assertTrue(ids, text)
        brands = {self.gw.ticket(int(i))["brand"] for i in ids.groups()}
        self.assertEqual(brands, {"acme", "globex"})

    def test_wildcard_address_is_the_received_at(self):
        code, text = send(self.gw.port, message(), ["Billing@In.Acme.Test"])
        self.assertEqual(code, 250, text)
        ticket = self.gw.ticket(int(TICKET_REPLY.match(text.decode()).group(1)))
        self.assertEqual(ticket["received_at"], "billing@in.acme.test")

    def test_pipelined_transaction_in_one_write(self):
        c = RawClient(self.gw.port)
        c.reply()
        c.send("EHLO client.test\r\n")
        c.reply()
        c.send("MAIL FROM:<ann@customer.test>\r\nRCPT TO:<nobody@acme.test>\r\n"
               "RCPT TO:<support@acme.test>\r\nDATA\r\n")
        self.assertEqual(c.reply(), ["250 2.1.0 Ok"])
        self.assertTrue(c.reply()[0].startswith("550 5.1.1"))
        self.assertEqual(c.reply(), ["250 2.1.5 Ok"])
        self.assertEqual(c.reply(), ["354 End data with <CR><LF>.<CR><LF>"])
        c.send("Subject: pipelined\r\n\r\n..starts with a dot\r\nnot the end\n.\nstill data\r\n"
               ".\r\nNOOP\r\nQUIT\r\n")
        final = c.reply()[0]
        m = re.match(r"^250 2\.0\.0 Ok: ticket (\d+)$", final)
        self.assertTrue(m, final)
        self.assertEqual(c.reply(), ["250 2.0.0 Ok"])
        self.assertEqual(c.reply(), ["221 2.0.0 Bye"])
        ticket = self.gw.ticket(int(m.group(1)))
        self.assertEqual(ticket["subject"], "pipelined")
        # Dot-unstuffing, and a bare-LF dot that did not end the data.
        self.assertIn(".starts with a dot", ticket["description"])
        self.assertIn("still data", ticket["description"])

    def test_oversized_message_gets_552_and_the_session_goes_on(self):
        with smtplib.SMTP("127.0.0.1", self.gw.port, timeout=30) as smtp:
            smtp.ehlo("client.test")
            code, _ = smtp.mail("ann@customer.test", ["SIZE=2000000"])
            self.assertEqual(code, 552)
            smtp.mail("ann@customer.test")
            smtp.rcpt("support@acme.test")
            code, text = smtp.data(message(body="x" * 80 + "\n").as_bytes() * 1 +
                                   (b"y" * 998 + b"\r\n") * 1100)
            self.assertEqual(code, 552, text)
            self.assertEqual(smtp.noop()[0], 250)

    def test_utf8_addresses_with_smtputf8(self):
        with smtplib.SMTP("127.0.0.1", self.gw.port, timeout=30) as smtp:
            smtp.ehlo("client.test")
            code, _ = smtp.mail("jörg@kunde.test", ["SMTPUTF8", "BODY=8BITMIME"])
            self.assertEqual(code, 250)
            self.assertEqual(smtp.rcpt("größe@in.acme.test")[0], 250)


class ExternalRedisTest(unittest.TestCase):
    """[redis] url: a redis-server of the operator's own, its outages and its password."""

    def start_redis(self, port, directory):
        os.makedirs(directory, exist_ok=True)
        return subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", directory,
             "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def send_until(self, gw, want, deadline_s=20):
        deadline = time.time() + deadline_s
        while True:
            code, text = send(gw.port, message(), ["support@acme.test"])
            if code == want or time.time() > deadline:
                return code, text
            time.sleep(0.1)

    def assert_authenticates_without_printing(self, gw, redis, secret):
        """The loops' store and the tools (tickets get, check-config) all authenticate, and
        neither the log nor check-config shows the password."""
        code, text = self.send_until(gw, 250)
        self.assertEqual(code, 250, text)
        ticket = gw.ticket(int(TICKET_REPLY.match(text.decode()).group(1)))
        self.assertEqual(ticket["subject"], "Printer on fire")
        check = subprocess.run([POSTDESK, "check-config", "--config", gw.config],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 0, check.stderr)
        self.assertIn(f"redis redis://:***@127.0.0.1:{redis.port}", check.stdout)
        self.assertNotIn(secret, gw.read_log() + check.stdout)

    def test_redis_stop_gives_451_and_its_start_250_without_a_restart(self):
        redis = RedisServer()
        gw = Gateway(redis_url=redis.url)
        redis_dir = os.path.join(gw.dir, "redis")
        try:
            code, text = self.send_until(gw, 250)
            self.assertEqual(code, 250, text)
            # This server has no AOF: the start says what that risks, as workers alone do.
            warning = (f"redis redis://127.0.0.1:{redis.port}: appendonly is no: a restart of "
                       "Redis loses acknowledged mail")
            self.assertIn(warning, gw.read_log())
            workers_log = os.path.join(gw.dir, "workers.log")
            with open(workers_log, "w") as out:
                workers = subprocess.Popen([POSTDESK, "workers", "--config", gw.config,
                                            "--threads", "1"], stdout=out, stderr=subprocess.STDOUT)
            try:
                self.assertTrue(wait_for(lambda: warning in open(workers_log).read()),
                                open(workers_log).read())
            finally:
                workers.terminate()
                self.assertEqual(workers.wait(timeout=10), 0)
            # Redis stops: mail is refused for now (the sender keeps it), other sessions go on.
            redis.proc.terminate()
            redis.proc.wait(timeout=10)
            code, text = self.send_until(gw, 451)
            self.assertEqual(code, 451, text)
            self.assertTrue(text.decode().startswith("4.3.0"), text)
            with smtplib.SMTP("127.0.0.1", gw.port, timeout=10) as smtp:
                self.assertEqual(smtp.ehlo("client.test")[0], 250)
            # Redis comes back on the same port: the gateway reconnects by itself.
            redis.proc = self.start_redis(redis.port, redis_dir)
            code, text = self.send_until(gw, 250)
            self.assertEqual(code, 250, text)
            ticket = gw.ticket(int(TICKET_REPLY.match(text.decode()).group(1)))
            self.assertEqual(ticket["subject"], "Printer on fire")
            # The url mode starts no redis-server of its own.
            self.assertIsNone(gw.redis_pid())
        finally:
            gw.stop()
            redis.stop()


    def test_redis_password_in_the_url_is_used_everywhere_and_never_printed(self):
        password = "p@ss:w/rd 1"
        redis = RedisServer(password=password)
        url = f"redis://:{urllib.parse.quote(password, safe='')}@127.0.0.1:{redis.port}"
        gw = Gateway(redis_url=url)
        try:
            self.assert_authenticates_without_printing(gw, redis, "p@ss")

            # A wrong password stops the start, naming Redis's reason and not the password.
            wrong = os.path.join(gw.dir, "wrong.toml")
            with open(wrong, "w") as f:
                f.write(CONFIG.format(
                    data_dir=os.path.join(gw.dir, "var2"), port=free_port(), max_size="1MiB",
                    redis=f'[redis]\nurl = "redis://:guessed@127.0.0.1:{redis.port}"',
                    limits="", extra="", smtp_extra=""))
            out = subprocess.run([POSTDESK, "serve", "--config", wrong],
                                 capture_output=True, text=True, timeout=30)
            self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
            self.assertIn(f"redis://:***@127.0.0.1:{redis.port}: AUTH: WRONGPASS", out.stderr)
            self.assertNotIn("guessed", out.stdout + out.stderr)
        finally:
            gw.stop()
            redis.stop()


    def test_redis_password_from_a_file_is_used_by_the_gateway_and_the_tools(self):
        password = "from a secret file"
        redis = RedisServer(password=password)
        secrets = tempfile.mkdtemp(prefix="pd-secret-")
        path = os.path.join(secrets, "redis-password")
        with open(path, "w") as f:
            f.write(password + "\n")  # as `echo` and most secret stores write it
        gw = Gateway(redis_url=f"redis://127.0.0.1:{redis.port}",
                     redis_keys=f'password_file = "{path}"')
        try:
            self.assert_authenticates_without_printing(gw, redis, "secret file")

            # Gone, the file stops the next start (and check-config), naming it.
            os.remove(path)
            check = subprocess.run([POSTDESK, "check-config", "--config", gw.config],
                                   capture_output=True, text=True, timeout=30)
            self.assertEqual(check.returncode, 1, check.stdout)
            self.assertIn(f"[redis].password_file {path}: cannot open: No such file or directory",
                          check.stderr)
        finally:
            gw.stop()
            redis.stop()
            shutil.rmtree(secrets, ignore_errors=True)


class ConnectionLimitTest(unittest.TestCase):
    def test_connections_over_the_per_client_limit_get_421(self):
        gw = Gateway(limits="max_connections_per_ip = 2")
        try:
            first, second = RawClient(gw.port), RawClient(gw.port)
            for c in (first, second):
                self.assertEqual(c.reply(), ["220 mx.postdesk.test ESMTP Postdesk"])
            third = RawClient(gw.port)
            self.assertEqual(third.reply(), [
                "421 4.7.0 mx.postdesk.test Error: too many connections from your address"])
            self.assertTrue(third.closed())
            # A slot frees up when a client leaves.
            first.send("QUIT\r\n")
            first.reply()
            self.assertTrue(first.closed())
            deadline = time.time() + 5
            while True:
                fourth = RawClient(gw.port)
                line = fourth.reply()[0]
                if line.startswith("220") or time.time() > deadline:
                    break
                fourth.close()
                time.sleep(0.05)
            self.assertTrue(line.startswith("220"), line)
            for c in (first, second, third, fourth):
                c.close()
        finally:
            gw.stop()


class ShutdownTest(unittest.TestCase):
    def test_sigterm_finishes_the_transaction_in_flight_and_leaves_no_process(self):
        gw = Gateway()
        try:
            redis_pid = gw.redis_pid()
            self.assertIsNotNone(redis_pid)
            idle = RawClient(gw.port)
            idle.reply()
            busy = RawClient(gw.port)
            busy.reply()
            busy.send("EHLO client.test\r\nMAIL FROM:<ann@customer.test>\r\n"
                      "RCPT TO:<support@acme.test>\r\nDATA\r\n")
            for _ in range(4):
                busy.reply()
            busy.send("Subject: in flight\r\n\r\nhalf of the body ")
            time.sleep(0.2)
            gw.proc.send_signal(15)
            # The idle session is told at once; new connections are refused.
            self.assertTrue(idle.reply()[0].startswith("421 4.3.2"))
            time.sleep(0.3)
            busy.send("and the rest.\r\n.\r\n")
            final = busy.reply()[0]
            self.assertTrue(re.match(r"^250 2\.0\.0 Ok: ticket \d+$", final), final)
            self.assertTrue(busy.reply()[0].startswith("421 4.3.2"))
            self.assertEqual(gw.proc.wait(timeout=30), 0)
            self.assertFalse(pid_alive(redis_pid), "embedded redis-server still running")
            ticket = gw.ticket(int(final.split()[-1]))  # read back after the gateway stopped
            self.assertEqual(ticket["subject"], "in flight")
            idle.close()
            busy.close()
        finally:
            gw.stop()

    def test_sigterm_with_redis_stuck_answers_451_and_exits(self):
        # A Redis that keeps its connections and answers nothing (stopped here; stuck behind its
        # disk in life): the message in flight hears 451 after [redis] reply_timeout, so its
        # sender keeps it, and the drain ends instead of waiting for Redis for good.
        redis = RedisServer()
        self.addCleanup(redis.stop)
        gw = Gateway(redis_url=redis.url, redis_keys='reply_timeout = "2s"')
        self.addCleanup(gw.stop)
        self.assertEqual(send(gw.port, message("before"), ["support@acme.test"])[0], 250)
        os.kill(redis.proc.pid, signal.SIGSTOP)
        self.addCleanup(os.kill, redis.proc.pid, signal.SIGCONT)
        busy = RawClient(gw.port)
        self.addCleanup(busy.close)
        busy.reply()
        busy.send("EHLO client.test\r\nMAIL FROM:<ann@customer.test>\r\n"
                  "RCPT TO:<support@acme.test>\r\nDATA\r\n")
        for _ in range(4):
            busy.reply()
        busy.send("Subject: stuck\r\n\r\nRedis will not answer.\r\n.\r\n")
        gw.proc.send_signal(signal.SIGTERM)
        final = busy.reply()[0]
        self.assertTrue(final.startswith("451 4.3.0"), final)
        self.assertEqual(gw.proc.wait(timeout=30), 0, gw.read_log())
        self.assertIn("no reply within 2000 ms", gw.read_log())


class CommandLineTest(unittest.TestCase):
    def run_postdesk(self, *args):
        return subprocess.run([POSTDESK, *args], capture_output=True, text=True, timeout=30)

    def test_every_subcommand_has_help(self):
        for sub in (["serve"], ["parse"], ["tickets"], ["check-config"], ["suspended"],
                    ["workers"], ["targets"], ["senders"], []):
            out = self.run_postdesk(*sub, "--help")
            self.assertEqual(out.returncode, 0, sub)
            self.assertIn("usage: postdesk", out.stdout)

    def test_check_config_names_a_wrong_key(self):
        with tempfile.NamedTemporaryFile("w", suffix=".toml") as f:
            f.write('[smtp]\nlisten = ["127.0.0.1:2525"]\nhostnme = "x"\n'
                    '[[brand]]\nname = "a"\naddresses = ["a@b.test"]\n')
            f.flush()
            out = self.run_postdesk("check-config", "--config", f.name)
            self.assertEqual(out.returncode, 1)
            self.assertIn("[smtp].hostnme: unknown key", out.stderr)
            out = self.run_postdesk("serve", "--config", f.name)
            self.assertEqual(out.returncode, 1)
            self.assertIn("[smtp].hostnme: unknown key", out.stderr)

    def test_check_config_accepts_the_example(self):
        example = os.path.join(os.path.dirname(__file__), "..", "..", "postdesk.example.toml")
        out = self.run_postdesk("check-config", "--config", example)
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("ok: 1 brands", out.stdout)


if __name__ == "__main__":
    unittest.main()
