"""A real sender: Postfix, as the MTA that forwards a support mailbox or holds mail for an MX,
relaying into the real gateway. What a sender relies on is checked against Postfix's own queue
and log, not against a client written for the test: mail it relays becomes a ticket; while
Redis is down it hears 451, keeps the message and delivers it once Redis is back, exactly once;
an unknown recipient is refused at RCPT, so Postfix, not Postdesk, tells the sender; and a
message over the gateway's SIZE is never sent at all.

Postfix runs as a private instance (its own configuration, queue and log under a temporary
folder, no listening ports) with the gateway as its relayhost. Its master must start as root,
so these tests are skipped elsewhere, saying so.
"""
import email
import email.policy
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import Gateway, free_port, pid_alive, wait_for, wait_port  # noqa: E402

SBIN = "/usr/sbin"
# Postfix's status line for one delivery attempt to one recipient.
STATUS = re.compile(r"to=<(?P<rcpt>[^>]*)>, relay=(?P<relay>\S+), .*status=(?P<status>\w+) "
                    r"\((?P<text>.*)\)$")

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {dir}/spool
data_directory = {dir}/data
maillog_file = {dir}/maillog
maillog_file_prefixes = {dir}
mail_owner = postfix
setgid_group = postdrop
myhostname = mta.sender.test
mydomain = sender.test
myorigin = sender.test
mydestination =
inet_protocols = ipv4
master_service_disable = inet
relayhost = [127.0.0.1]:{port}
smtp_dns_support_level = disabled
smtp_tls_security_level = none
# Deferred mail is tried again within a second or two, so that a test need not wait minutes.
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
# Bounces stay in the queue's log: there is nowhere to deliver them.
notify_classes =
bounce_notice_recipient = postmaster
"""


class PostfixSender:
    """A private Postfix instance whose relayhost is 127.0.0.1:`port`."""

    def __init__(self, port):
        self.dir = tempfile.mkdtemp(prefix="pd-postfix-")
        os.chmod(self.dir, 0o755)  # Postfix's daemons run as the postfix user
        self.etc = os.path.join(self.dir, "etc")
        os.makedirs(self.etc)
        os.makedirs(os.path.join(self.dir, "spool"))
        data = os.path.join(self.dir, "data")
        os.makedirs(data)
        shutil.chown(data, user="postfix")
        with open(os.path.join(self.etc, "main.cf"), "w") as f:
            f.write(MAIN_CF.format(dir=self.dir, port=port))
        with open("/etc/postfix/master.cf") as f:
            master = f.read()
        # Logging to maillog_file goes through postlogd (Postfix 3.4): a machine without syslog
        # then still has the log this test reads.
        with open(os.path.join(self.etc, "master.cf"), "w") as f:
            f.write(master + "\npostlog   unix-dgram n  -       n       -       1       postlogd\n")
        self.log_path = os.path.join(self.dir, "maillog")
        self.run("postfix", "check")
        self.run("postfix", "start")

    def run(self, program, *args, stdin=None):
        out = subprocess.run([os.path.join(SBIN, program), "-c", self.etc, *args], input=stdin,
                             capture_output=True, timeout=30)
        if out.returncode != 0:
            raise AssertionError(f"{program} {' '.join(args)}: {out.stderr.decode()}\n"
                                 + self.read_log())
        return out.stdout.decode()

    def submit(self, message, sender, recipients):
        """Hands a message to Postfix as a local program would (sendmail)."""
        out = subprocess.run([os.path.join(SBIN, "sendmail"), "-C", self.etc, "-f", sender,
                              "-i", "--", *recipients], input=message, capture_output=True,
                             timeout=30)
        if out.returncode != 0:
            raise AssertionError("sendmail: " + out.stderr.decode())

    def flush(self):
        """Tries every deferred message now (postqueue -f)."""
        self.run("postqueue", "-f")

    def read_log(self):
        try:
            with open(self.log_path) as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def statuses(self, recipient):
        """Postfix's (status, text) for each delivery attempt to `recipient`, in order."""
        found = []
        for line in self.read_log().splitlines():
            m = STATUS.search(line)
            if m and m.group("rcpt") == recipient:
                found.append((m.group("status"), m.group("text")))
        return found

    def wait_status(self, recipient, status, timeout=20.0):
        """The text of the first attempt to `recipient` that ended in `status`."""
        found = wait_for(lambda: [t for s, t in self.statuses(recipient) if s == status],
                         timeout)
        if not found:
            raise AssertionError(f"no {status} for {recipient}:\n" + self.read_log())
        return found[0]

    def queue_is_empty(self):
        return "Mail queue is empty" in self.run("postqueue", "-p")

    def stop(self):
        try:
            with open(os.path.join(self.dir, "spool", "pid", "master.pid")) as f:
                master = int(f.read())
        except (OSError, ValueError):
            master = None
        subprocess.run([os.path.join(SBIN, "postfix"), "-c", self.etc, "stop"],
                       capture_output=True, timeout=30)
        if master and not wait_for(lambda: not pid_alive(master), 10):
            os.kill(master, signal.SIGKILL)
        shutil.rmtree(self.dir, ignore_errors=True)


def customer_message(subject, body, to="support@acme.test", extra=""):
    """A message as a mail client hands it to its MTA: 8-bit UTF-8, LF line ends."""
    return (f"From: Zoë Customer <zoe@customer.test>\nTo: {to}\nSubject: {subject}\n"
            f"Message-ID: <{subject.replace(' ', '.')}@customer.test>\nMIME-Version: 1.0\n"
            f"Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n{extra}\n"
            f"{body}\n").encode()


@unittest.skipUnless(os.geteuid() == 0 and os.path.exists(os.path.join(SBIN, "postfix")),
                     "Postfix's master starts as root only (and needs the postfix package)")
class PostfixRelayTest(unittest.TestCase):
    def start(self, gateway):
        self.gw = gateway
        self.addCleanup(self.gw.stop)
        self.postfix = PostfixSender(self.gw.port)
        self.addCleanup(self.postfix.stop)

    def ticket_id(self, reply_text):
        m = re.search(r"250 2\.0\.0 Ok: ticket (\d+)", reply_text)
        self.assertIsNotNone(m, reply_text)
        return int(m.group(1))

    def test_mail_relayed_by_postfix_becomes_a_ticket_with_both_trace_headers(self):
        self.start(Gateway())
        self.postfix.submit(customer_message("Printer on fire", "Hello, my printer is on fire: été."),
                            "zoe@customer.test", ["support@acme.test"])
        text = self.postfix.wait_status("support@acme.test", "sent")
        ticket = self.gw.ticket(self.ticket_id(text))
        self.assertEqual(ticket["subject"], "Printer on fire")
        self.assertEqual(ticket["requester"], {"email": "zoe@customer.test", "name": "Zoë Customer"})
        self.assertIn("my printer is on fire: été.", ticket["description"])
        raw = email.message_from_bytes(self.gw.raw_message(ticket["id"]),
                                       policy=email.policy.default)
        received = raw.get_all("Received")
        # Ours first (the newest), naming the Postfix that handed it over; then Postfix's own.
        self.assertIn("mta.sender.test", received[0])
        self.assertIn("mx.postdesk.test", received[0])
        self.assertTrue(any("by mta.sender.test (Postfix" in r for r in received[1:]), received)
        self.assertTrue(wait_for(self.postfix.queue_is_empty), self.postfix.read_log())

    def test_redis_down_postfix_keeps_the_mail_on_451_and_delivers_it_once_when_redis_is_back(self):
        redis_dir = tempfile.mkdtemp(prefix="pd-redis-")
        self.addCleanup(shutil.rmtree, redis_dir, True)
        redis_port = free_port()

        def start_redis():
            proc = subprocess.Popen(
                ["redis-server", "--port", str(redis_port), "--bind", "127.0.0.1", "--dir",
                 redis_dir, "--save", "", "--appendonly", "yes", "--appendfsync", "always"],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_port(redis_port)
            return proc

        redis = start_redis()
        self.addCleanup(lambda: (redis.poll() is None and redis.terminate(), redis.wait()))
        self.start(Gateway(redis_url=f"redis://127.0.0.1:{redis_port}"))
        redis.terminate()
        redis.wait(timeout=10)

        self.postfix.submit(customer_message("Redis is down", "Please keep this one."),
                            "zoe@customer.test", ["support@acme.test"])
        deferred = self.postfix.wait_status("support@acme.test", "deferred")
        self.assertIn("451 4.3.0", deferred)
        self.assertFalse(self.postfix.queue_is_empty(), "Postfix must still hold the message")

        redis = start_redis()
        self.postfix.flush()
        text = self.postfix.wait_status("support@acme.test", "sent", timeout=30)
        ticket = self.gw.ticket(self.ticket_id(text))
        self.assertEqual(ticket["subject"], "Redis is down")
        self.assertTrue(wait_for(self.postfix.queue_is_empty), self.postfix.read_log())
        # Exactly once: Postfix delivered it one time, and Redis holds one ticket.
        self.assertEqual([s for s, _ in self.postfix.statuses("support@acme.test")].count("sent"), 1)
        with self.assertRaises(AssertionError):
            self.gw.ticket(ticket["id"] + 1)

    def test_unknown_recipient_is_refused_at_rcpt_and_postfix_bounces_it_not_postdesk(self):
        self.start(Gateway())
        self.postfix.submit(customer_message("Two recipients", "One of them does not exist."),
                            "zoe@customer.test", ["support@acme.test", "nobody@acme.test"])
        bounced = self.postfix.wait_status("nobody@acme.test", "bounced")
        self.assertIn("550 5.1.1", bounced)
        self.assertIn("in reply to RCPT TO command", bounced)
        text = self.postfix.wait_status("support@acme.test", "sent")
        self.assertEqual(self.gw.ticket(self.ticket_id(text))["subject"], "Two recipients")

    def test_message_over_the_gateways_size_is_never_sent(self):
        self.start(Gateway(max_size="1MiB"))
        self.postfix.submit(customer_message("Too big", ("y" * 76 + "\n") * 20000),
                            "zoe@customer.test", ["support@acme.test"])
        bounced = self.postfix.wait_status("support@acme.test", "bounced")
        # Postfix read SIZE from our EHLO and gave up before MAIL: no transaction, no ticket.
        self.assertIn("exceeds size limit 1048576", bounced)
        self.assertNotIn(" from=<zoe@customer.test>", self.gw.read_log())
        with self.assertRaises(AssertionError):
            self.gw.ticket(1)


if __name__ == "__main__":
    unittest.main()
