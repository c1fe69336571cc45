"""Triggers against the real binary (issue 5): a trigger file in Zendesk's export format, named
by the configuration, changes tickets that arrive over SMTP (the latency is printed); `check-config`
names a broken trigger; SIGHUP swaps sets atomically; `postdesk workers` runs workers alone."""
import json
import os
import signal
import smtplib
import subprocess
import sys
import time
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import POSTDESK, Gateway, wait_for  # noqa: E402

# As Zendesk's API exports them (GET /api/v2/triggers.json), extra keys included.
ZENDESK_EXPORT = {
    "triggers": [
        {
            "url": "https://acme.zendesk.com/api/v2/triggers/360001.json",
            "id": 360001, "title": "Tag and prioritise outages", "active": True,
            "updated_at": "2024-01-01T00:00:00Z", "created_at": "2024-01-01T00:00:00Z",
            "default": False, "position": 2, "raw_title": "Tag and prioritise outages",
            "category_id": "1", "description": None,
            "conditions": {
                "all": [{"field": "update_type", "operator": "is", "value": "Create"},
                        {"field": "received_at", "operator": "is", "value": "support@acme.test"}],
                "any": [{"field": "subject_includes_word", "operator": "includes",
                         "value": "outage down"},
                        {"field": "comment_includes_word", "operator": "includes",
                         "value": "outage"}]},
            "actions": [{"field": "priority", "value": "urgent"},
                        {"field": "current_tags", "value": "outage"},
                        {"field": "group_id", "value": "360000777"}]},
        {
            "id": 360002, "title": "Dated invoices", "active": True, "position": 3,
            "conditions": {"all": [
                {"field": "subject", "operator": "regex",
                 "value": r"(?P<year>(?:19|20)\d\d)(?P<delimiter>[- /.])(?P<month>0[1-9]|1[012])\2(?P<day>0[1-9]|[12][0-9]|3[01])"}],
                "any": []},
            "actions": [{"field": "type", "value": "task"},
                        {"field": "set_tags", "value": "invoice dated"}]},
        {
            "id": 360003, "title": "Inactive", "active": False, "position": 1,
            "conditions": {"all": [], "any": []},
            "actions": [{"field": "status", "value": "closed"}]},
        {
            "id": 360004, "title": "Escalate outages", "active": True, "position": 1,
            "conditions": {"all": [{"field": "current_tags", "operator": "includes",
                                    "value": "outage"},
                                   {"field": "hour_of_day", "operator": "greater_than_or_equal",
                                    "value": "0"}],
                           "any": []},
            "actions": [{"field": "status", "value": "open"},
                        {"field": "notification_user", "value": [
                            "requester_id", "[{{ticket.brand}}] {{ticket.title}}",
                            "We are on it: ticket {{ticket.id}} is {{ticket.priority}} "
                            "({{ticket.tags}}). [{{ticket.encoded_id}}]"]}]},
    ]
}


def send(port, subject, to="support@acme.test", body="Hello",
         sender="Ann Customer <ann@customer.test>"):
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg.set_content(body)
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        _, _, = smtp.ehlo("client.test")
        reply = smtp.send_message(msg)
        assert reply == {}, reply
        code, text = smtp.noop()
    return msg


def read(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        return f.read()


def iso_ms(text):
    """Milliseconds since the epoch of a ticket timestamp ("2026-12-01T20:54:34.652Z")."""
    import datetime
    moment = datetime.datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ")
    return round(moment.replace(tzinfo=datetime.timezone.utc).timestamp() * 1000)


class TriggersTest(unittest.TestCase):
    def setUp(self):
        self.trigger_path = None

    def start(self, triggers, extra=""):
        import tempfile
        fd, self.trigger_path = tempfile.mkstemp(prefix="pd-triggers-", suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(triggers, f)
        self.gw = Gateway(extra=f'[triggers]\nfile = "{self.trigger_path}"\n{extra}')
        self.addCleanup(self.gw.stop)
        self.addCleanup(os.unlink, self.trigger_path)

    def ticket_ids(self):
        log = self.gw.read_log()
        import re
        return [int(n) for n in re.findall(r"ticket (\d+)", log)]

    def test_zendesk_export_loaded_by_config_changes_smtp_tickets(self):
        self.start(ZENDESK_EXPORT)
        send(self.gw.port, "Checkout is down")
        ticket = wait_for(lambda: (lambda t: t if t["priority"] == "urgent" else None)(
            self.gw.ticket(1)), 10)
        self.assertIsNotNone(ticket, self.gw.read_log())
        # How long the workers took, by Redis's own clock (created_at to the triggers' write):
        # a measurement for the "within a second", reported, not asserted (timings
        # belong to benchmarks).
        latency = iso_ms(ticket["updated_at"]) - iso_ms(ticket["created_at"])
        self.assertGreaterEqual(latency, 0)
        print(f"\ntrigger latency, ticket stored to triggers applied: {latency} ms",
              file=sys.stderr)
        self.assertEqual(ticket["tags"], ["outage"])
        self.assertEqual(ticket["group"], "360000777")
        self.assertEqual(ticket["status"], "open")  # the tag made position 1 fire on a restart
        # The regex trigger: a full match on the subject only.
        send(self.gw.port, "2014-07-28")
        send(self.gw.port, "on 2014-07-28")
        self.assertTrue(wait_for(lambda: self.gw.ticket(2)["type"] == "task", 5))
        self.assertEqual(self.gw.ticket(2)["tags"], ["dated", "invoice"])
        time.sleep(0.3)
        self.assertIsNone(self.gw.ticket(3)["type"])
        # Inactive triggers never run.
        self.assertNotEqual(self.gw.ticket(3)["status"], "closed")

    def test_broken_trigger_file_is_refused_with_its_place(self):
        broken = json.loads(json.dumps(ZENDESK_EXPORT))
        broken["triggers"][1]["conditions"]["all"][0]["value"] = "(unclosed"
        import tempfile
        fd, path = tempfile.mkstemp(suffix=".json")
        with os.fdopen(fd, "w") as f:
            json.dump(broken, f)
        self.addCleanup(os.unlink, path)
        cfg_dir = tempfile.mkdtemp()
        cfg = os.path.join(cfg_dir, "p.toml")
        with open(cfg, "w") as f:
            f.write(f'data_dir = "{cfg_dir}/var"\n[triggers]\nfile = "{path}"\n'
                    '[[brand]]\nname = "acme"\naddresses = ["support@acme.test"]\n')
        out = subprocess.run([POSTDESK, "check-config", "--config", cfg], capture_output=True,
                             text=True, timeout=30)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn('trigger 2 "Dated invoices" (id 360002)', out.stderr)
        self.assertIn("conditions.all[0]", out.stderr)
        self.assertIn("regex", out.stderr)
        # The gateway refuses to start on it rather than running without the rules.
        serve = subprocess.run([POSTDESK, "serve", "--config", cfg], capture_output=True,
                               text=True, timeout=30)
        self.assertEqual(serve.returncode, 1)
        self.assertIn("conditions.all[0]", serve.stderr)

    def test_sighup_swaps_trigger_sets_and_keeps_the_old_one_when_broken(self):
        first = [{"title": "A", "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Create"}]},
            "actions": [{"field": "current_tags", "value": "first"}]}]
        second = [{"title": "B", "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Create"}]},
            "actions": [{"field": "current_tags", "value": "second"}]}]
        self.start(first)
        send(self.gw.port, "one")
        self.assertTrue(wait_for(lambda: self.gw.ticket(1)["tags"] == ["first"], 5))
        with open(self.trigger_path, "w") as f:
            json.dump(second, f)
        self.gw.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "1 triggers" in self.gw.read_log(), 5))
        send(self.gw.port, "two")
        self.assertTrue(wait_for(lambda: self.gw.ticket(2)["tags"] == ["second"], 5))
        with open(self.trigger_path, "w") as f:
            f.write('[{"title": "C", "conditions": {"all": [{"field": "nope", '
                    '"operator": "is", "value": 1}]}, "actions": []}]')
        self.gw.proc.send_signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: 'unknown field "nope"' in self.gw.read_log(), 5))
        send(self.gw.port, "three")
        self.assertTrue(wait_for(lambda: self.gw.ticket(3)["tags"] == ["second"], 5))

    def test_postdesk_workers_runs_workers_alone_and_finishes_a_dead_gateways_events(self):
        tag = [{"title": "Tag", "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Create"}]},
            "actions": [{"field": "current_tags", "value": "seen"}]}]
        self.start(tag, extra="workers = 0")
        send(self.gw.port, "nobody runs triggers here")
        time.sleep(0.5)
        self.assertEqual(self.gw.ticket(1)["tags"], [])
        workers = subprocess.Popen([POSTDESK, "workers", "--config", self.gw.config,
                                    "--threads", "2"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            self.assertTrue(wait_for(lambda: self.gw.ticket(1)["tags"] == ["seen"], 5))
            send(self.gw.port, "and now")
            self.assertTrue(wait_for(lambda: self.gw.ticket(2)["tags"] == ["seen"], 5))
        finally:
            workers.send_signal(signal.SIGTERM)
            self.assertEqual(workers.wait(timeout=10), 0)

    def test_a_comment_from_an_agents_address_is_written_by_an_agent(self):
        # Zendesk's "current user is agent": [notify] agents and group members answering by
        # email; anyone else who is not the requester is an end user.
        def tag_when(sender_type, tag):
            return {"title": tag, "conditions": {"all": [
                {"field": "update_type", "operator": "is", "value": "Change"},
                {"field": "sender_type", "operator": "is", "value": sender_type}]},
                "actions": [{"field": "current_tags", "value": tag}]}
        token = {"title": "Token", "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Create"}]},
            "actions": [{"field": "notification_user",
                         "value": ["requester_id", "Re: {{ticket.title}}",
                                   "Reference [{{ticket.encoded_id}}]"]}]}
        self.start([token, tag_when("agent", "by_agent"), tag_when("end_user", "by_end_user"),
                    tag_when("requester", "by_requester")],
                   extra='[notify]\nagents = ["bob@acme.test"]\n[[group]]\nid = "2"\n'
                         'name = "Billing"\nmembers = ["carol@acme.test"]\n')
        outbox = os.path.join(self.gw.dir, "var", "outbox")

        def reference():
            import glob
            import re
            for path in glob.glob(os.path.join(outbox, "*.eml")):
                found = re.search(r"Reference \[([0-9A-Z]+-[0-9A-Z]+)\]", read(path))
                if found:
                    return found.group(1)
            return None

        send(self.gw.port, "Printer on fire")
        self.assertTrue(wait_for(reference, 10), self.gw.read_log())
        for sender, tag in [("Bob Agent <Bob@acme.test>", "by_agent"),
                            ("carol@acme.test", "by_agent"),
                            ("Dave <dave@customer.test>", "by_end_user"),
                            ("ann@customer.test", "by_requester")]:
            comments = len(self.gw.ticket(1)["comments"])
            send(self.gw.port, "Re: Printer on fire", body=f"On it. [{reference()}]",
                 sender=sender)
            self.assertTrue(wait_for(lambda: len(self.gw.ticket(1)["comments"]) == comments + 1
                                     and tag in self.gw.ticket(1)["tags"], 10),
                            (sender, self.gw.ticket(1), self.gw.read_log()))
        self.assertEqual(sorted(self.gw.ticket(1)["tags"]),
                         ["by_agent", "by_end_user", "by_requester"])

    def test_a_suspended_sender_is_listed_and_lifted_by_command(self):
        # suspend_sender keeps the sender's next messages out of the tickets; `postdesk senders`
        # lists them, lifts the suspension, and suspends by hand, each from the next message.
        self.start([{"title": "Block", "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Create"},
            {"field": "subject", "operator": "contains", "value": "casino"}]},
            "actions": [{"field": "suspend_sender", "value": True}]}])

        def stored():
            import re
            return re.findall(r'stored="([^"]+)"', self.gw.read_log())
        send(self.gw.port, "Best casino offers")
        self.assertTrue(wait_for(lambda: self.gw.postdesk("senders", "list") ==
                                 [{"brand": "acme", "sender": "ann@customer.test"}], 10),
                        self.gw.read_log())
        send(self.gw.port, "A real question")
        self.assertEqual(stored(), ["ticket 1", "suspended 1 (blocklisted)"])
        self.assertEqual([m["subject"] for m in self.gw.postdesk("suspended", "list")],
                         ["A real question"])
        self.assertEqual(self.gw.postdesk("senders", "unsuspend", "acme", "Ann@Customer.test"),
                         {"brand": "acme", "sender": "ann@customer.test", "suspended": False})
        self.assertEqual(self.gw.postdesk("senders", "list"), [])
        send(self.gw.port, "Asking again")
        self.assertEqual(stored()[-1], "ticket 2")
        self.gw.postdesk("senders", "suspend", "globex", "ann@customer.test")
        send(self.gw.port, "To globex", to="help@globex.test")
        send(self.gw.port, "To acme")
        # Suspended for globex only: acme still takes ann's mail.
        self.assertEqual(stored()[-2:], ["suspended 2 (blocklisted)", "ticket 3"])
        refused = subprocess.run([POSTDESK, "senders", "unsuspend", "acme", "ann@customer.test",
                                  "--config", self.gw.config], capture_output=True, text=True,
                                 timeout=30)
        self.assertEqual((refused.returncode, refused.stderr),
                         (1, "postdesk: ann@customer.test is not suspended for acme\n"))
        refused = subprocess.run([POSTDESK, "senders", "suspend", "nope", "x@y.test",
                                  "--config", self.gw.config], capture_output=True, text=True,
                                 timeout=30)
        self.assertEqual((refused.returncode, refused.stderr),
                         (1, 'postdesk: no [[brand]] named "nope"\n'))

    def test_postdesk_workers_take_a_reloaded_token_secret(self):
        # The body token of a notification is rendered by `postdesk workers` and checked by the
        # gateway: after both reload a new key, a reply carrying only that token threads.
        notify = [{"title": "Token", "conditions": {"all": [
            {"field": "update_type", "operator": "is", "value": "Create"}]},
            "actions": [{"field": "notification_user",
                         "value": ["requester_id", "Re: {{ticket.title}}",
                                   "Reference [{{ticket.encoded_id}}]"]}]}]
        self.start(notify, extra='workers = 0\n[classification]\n'
                                 'token_secret = "first key, sixteen bytes or more"')
        log_path = os.path.join(self.gw.dir, "workers.log")
        with open(log_path, "w") as log:
            workers = subprocess.Popen([POSTDESK, "workers", "--config", self.gw.config,
                                        "--threads", "1"], stdout=log, stderr=subprocess.STDOUT)
        outbox = os.path.join(self.gw.dir, "var", "outbox")

        def tokens():
            import glob
            import re
            found = []
            for path in sorted(glob.glob(os.path.join(outbox, "*.eml")), key=os.path.getmtime):
                found += re.findall(r"Reference \[([0-9A-Z]+-[0-9A-Z]+)\]", read(path))
            return found

        try:
            send(self.gw.port, "before the new key")
            self.assertTrue(wait_for(lambda: len(tokens()) == 1, 10), read(log_path))
            with open(self.gw.config) as f:
                text = f.read()
            with open(self.gw.config, "w") as f:
                f.write(text.replace("first key", "second key"))
            self.gw.proc.send_signal(signal.SIGHUP)
            workers.send_signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "SIGHUP: 1 triggers loaded" in read(log_path)
                                     and "configuration reloaded" in self.gw.read_log(), 10),
                            read(log_path))
            send(self.gw.port, "after the new key")
            self.assertTrue(wait_for(lambda: len(tokens()) == 2, 10), read(log_path))
            send(self.gw.port, "Any news?", body=f"Still waiting. [{tokens()[1]}]")
            self.assertTrue(wait_for(lambda: len(self.gw.ticket(2)["comments"]) == 2, 10),
                            self.gw.read_log())
        finally:
            workers.send_signal(signal.SIGTERM)
            self.assertEqual(workers.wait(timeout=10), 0)


if __name__ == "__main__":
    unittest.main()
