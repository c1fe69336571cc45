"""[[brand]] addresses_file against the real binary: a brand whose support addresses come from a
file takes mail for them and refuses others at RCPT; an edited file takes effect on SIGHUP (the
TOML unchanged); a bad one is refused, named in the log, and the running addresses stay."""
import os
import shutil
import smtplib
import subprocess
import sys
import tempfile
import unittest
from email.message import EmailMessage

sys.path.insert(0, os.path.dirname(__file__))
from postdesk_harness import POSTDESK, TICKET_REPLY, Gateway  # noqa: E402


def send(port, recipient):
    """One message to `recipient`: (code, text) of the RCPT reply when it is not 250, else of the
    reply to the final dot."""
    msg = EmailMessage()
    msg["From"] = "Ann Example <ann@customer.test>"
    msg["To"] = recipient
    msg["Subject"] = "For " + recipient
    msg.set_content("Hello.")
    with smtplib.SMTP("127.0.0.1", port, timeout=10) as smtp:
        smtp.ehlo("client.test")
        smtp.mail("ann@customer.test")
        code, text = smtp.rcpt(recipient)
        if code != 250:
            return code, text.decode()
        code, text = smtp.data(msg.as_bytes())
        return code, text.decode()


class BrandAddressesFileTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pd-addresses-file-")
        self.path = os.path.join(self.dir, "initech.txt")
        self.write_addresses("# initech, from the CRM", "", "sales@initech.test",
                             "  Billing@Initech.test  ", "*@in.initech.test")
        self.gw = Gateway(extra=f'[[brand]]\nname = "initech"\naddresses_file = "{self.path}"')

    def tearDown(self):
        self.gw.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_addresses(self, *lines):
        # Written aside and renamed, as a generator should, so that a reload never reads half.
        with open(self.path + ".tmp", "w") as f:
            f.write("\n".join(lines) + "\n")
        os.replace(self.path + ".tmp", self.path)

    def assert_ticket(self, recipient, received_at):
        code, text = send(self.gw.port, recipient)
        self.assertEqual(code, 250, text)
        ticket = self.gw.ticket(int(TICKET_REPLY.match(text).group(1)))
        self.assertEqual(ticket["brand"], "initech")
        self.assertEqual(ticket["received_at"], received_at)

    def assert_unknown(self, recipient):
        code, text = send(self.gw.port, recipient)
        self.assertEqual(code, 550, text)
        self.assertTrue(text.startswith("5.1.1"), text)

    def test_file_addresses_make_tickets_and_an_unknown_one_is_refused(self):
        self.assert_ticket("sales@initech.test", "sales@initech.test")
        self.assert_ticket("BILLING+late@initech.test", "billing@initech.test")
        self.assert_ticket("anyone@in.initech.test", "anyone@in.initech.test")
        self.assert_unknown("nobody@initech.test")
        # The inline brands are served beside it.
        self.assertEqual(send(self.gw.port, "support@acme.test")[0], 250)

    def test_edited_file_takes_effect_on_sighup_with_the_toml_unchanged(self):
        self.assert_unknown("orders@initech.test")
        self.write_addresses("orders@initech.test", "billing@initech.test")
        self.gw.reload()
        self.assert_ticket("orders@initech.test", "orders@initech.test")
        self.assert_unknown("sales@initech.test")
        self.assert_unknown("anyone@in.initech.test")

    def test_bad_file_at_sighup_is_refused_and_the_old_addresses_stay(self):
        self.write_addresses("orders@initech.test", "broken@")
        self.gw.reload(marker="configuration refused")
        self.assertIn(f'[[brand]] #3.addresses_file {self.path}:2: "broken@" is not a mailbox '
                      "address", self.gw.read_log())
        self.assertEqual(send(self.gw.port, "sales@initech.test")[0], 250)
        self.assert_unknown("orders@initech.test")
        # check-config says the same, and fails.
        check = subprocess.run([POSTDESK, "check-config", "--config", self.gw.config],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(check.returncode, 1, check.stdout)
        self.assertIn(f'{self.path}:2: "broken@" is not a mailbox address', check.stderr)

        os.remove(self.path)
        self.gw.reload(marker="configuration refused")
        self.assertIn(f"addresses_file {self.path}: cannot open: No such file or directory",
                      self.gw.read_log())
        self.assertEqual(send(self.gw.port, "sales@initech.test")[0], 250)
        self.assertIsNone(self.gw.proc.poll())


if __name__ == "__main__":
    unittest.main()
