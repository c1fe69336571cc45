#!/usr/bin/env python3
"""A scriptable SMTP relay for tests/gateway/smtp_client*_test.cc: real sockets and TLS,
scripted replies.

Listens on 127.0.0.1 on a free port and prints the port on stdout. Every connection gets a
thread. What it sees goes to --log as JSON lines (written before the reply that follows them,
so a client that got the reply can read the event):

  {"conn": 1, "event": "connect"}
  {"conn": 1, "event": "command", "line": "MAIL FROM:<a@b.test>", "tls": false, "batched": true}
  {"conn": 1, "event": "tls", "version": "TLSv1.3"}
  {"conn": 1, "event": "message", "tls": true, "mail_from": "...", "rcpt": [...],
   "size": 1234, "raw": "<the data as sent, dot-stuffed, up to and with the final dot>",
   "data": "<un-stuffed, without the final dot>"}  (raw and data up to 1 MiB only)

"batched" says more bytes had already arrived behind the command: under PIPELINING (RFC 2920)
MAIL comes with the RCPTs and DATA in one write. Bytes are decoded as Latin-1.

--slow-data BYTES reads message data BYTES at a time every 50 ms: a slow but steady relay.

--reply KEY[:MATCH]=REPLY overrides the reply to a command (GREETING, EHLO, HELO, STARTTLS,
MAIL, RCPT, DATA, DOT, RSET, QUIT) whose argument (for DOT: the message data) contains MATCH.
"\\n" in REPLY separates lines of a multi-line reply. Special replies: HANG (never answer
again), CLOSE (close the connection without answering), HUGE (a reply of over 64 KiB).
"""

import argparse
import json
import socket
import ssl
import sys
import threading
import time

HOST = "relay.test"


class Session:
    def __init__(self, server, sock, conn_id):
        self.server = server
        self.sock = sock
        self.conn = conn_id
        self.buf = bytearray()  # received, read up to self.pos
        self.pos = 0
        self.tls = False
        self.hello = False
        self.mail_from = None
        self.rcpts = []

    # --- I/O -------------------------------------------------------------------------------

    def log(self, **event):
        event["conn"] = self.conn
        self.server.log(event)

    def send(self, text):
        self.sock.sendall(text.encode("latin-1"))

    def reply(self, text):
        lines = text.split("\\n")
        self.send("".join(line + "\r\n" for line in lines))

    def readline(self):
        while True:
            end = self.buf.find(b"\n", self.pos)
            if end >= 0:
                line = bytes(self.buf[self.pos:end + 1])
                self.pos = end + 1
                if self.pos > 65536:
                    del self.buf[:self.pos]
                    self.pos = 0
                return line
            chunk = self.sock.recv(65536)
            if not chunk:
                return None
            self.buf += chunk

    def read_data(self):
        """The message data as sent, up to and with the final dot; None if the client left."""
        if self.server.args.slow_data:
            raw = self.buf[self.pos:]
            self.buf = bytearray()
            self.pos = 0
            while not (raw.endswith(b"\r\n.\r\n") or raw == b".\r\n"):
                time.sleep(0.05)
                chunk = self.sock.recv(self.server.args.slow_data)
                if not chunk:
                    return None
                raw += chunk
            return bytes(raw)
        lines = []
        while True:
            line = self.readline()
            if line is None:
                return None
            lines.append(line)
            if line == b".\r\n":
                return b"".join(lines)

    def pending(self):
        return len(self.buf) > self.pos

    # --- scripted replies -------------------------------------------------------------------

    def answer(self, key, argument, default):
        """Sends the reply for `key`; False when the session must end."""
        text = default
        for rule_key, match, rule_reply in self.server.rules:
            if rule_key == key and match in argument:
                text = rule_reply
                break
        if text == "HANG":
            while self.sock.recv(65536):
                pass
            return False
        if text == "CLOSE":
            return False
        if text == "HUGE":
            self.send("".join("%s-%s\r\n" % (default[:3], "x" * 1000) for _ in range(100)))
            self.send(default + "\r\n")
            return True
        self.reply(text)
        return True

    def code_of(self, key, argument, default):
        for rule_key, match, rule_reply in self.server.rules:
            if rule_key == key and match in argument and rule_reply[:1].isdigit():
                return rule_reply[:3]
        return default[:3]

    # --- the session ------------------------------------------------------------------------

    def ehlo_reply(self):
        lines = [HOST]
        if not self.server.args.no_pipelining:
            lines.append("PIPELINING")
        lines.append("SIZE %d" % self.server.args.size if self.server.args.size else "SIZE")
        lines += ["8BITMIME", "SMTPUTF8"]
        if self.server.tls_context and not self.tls:
            lines.append("STARTTLS")
        lines.append("ENHANCEDSTATUSCODES")
        return "\\n".join(
            ("250-" if i < len(lines) - 1 else "250 ") + line for i, line in enumerate(lines))

    def run(self):
        self.log(event="connect")
        try:
            if not self.answer("GREETING", "", "220 %s ESMTP test relay" % HOST):
                return
            while True:
                raw = self.readline()
                if raw is None:
                    return
                line = raw.decode("latin-1").rstrip("\r\n")
                self.log(event="command", line=line, tls=self.tls, batched=self.pending())
                verb, _, argument = line.partition(" ")
                verb = verb.upper()
                if not self.command(verb, argument):
                    return
        except (OSError, ssl.SSLError) as e:
            self.log(event="error", error=str(e))
        finally:
            self.log(event="close")
            try:
                self.sock.close()
            except OSError:
                pass

    def command(self, verb, argument):
        if verb == "EHLO":
            ok = self.code_of("EHLO", argument, "250")[0] == "2"
            self.hello = ok
            self.reset()
            return self.answer("EHLO", argument, self.ehlo_reply())
        if verb == "HELO":
            self.hello = True
            self.reset()
            return self.answer("HELO", argument, "250 " + HOST)
        if verb == "STARTTLS":
            if not self.server.tls_context or self.tls:
                return self.answer("STARTTLS", argument, "502 5.5.1 Error: command not implemented")
            if self.code_of("STARTTLS", argument, "220") != "220":
                return self.answer("STARTTLS", argument, "220")
            if not self.answer("STARTTLS", argument, "220 2.0.0 Ready to start TLS"):
                return False
            # RFC 3207 4.2: whatever came in clear after STARTTLS is discarded.
            self.buf = bytearray()
            self.pos = 0
            self.sock = self.server.tls_context.wrap_socket(self.sock, server_side=True)
            self.tls = True
            self.hello = False
            self.reset()
            self.log(event="tls", version=self.sock.version())
            return True
        if verb == "MAIL":
            if not self.hello or self.mail_from is not None:
                return self.answer("MAIL", argument, "503 5.5.1 Error: send HELO/EHLO first"
                                   if not self.hello else "503 5.5.1 Error: nested MAIL command")
            if self.code_of("MAIL", argument, "250")[0] == "2":
                self.mail_from = argument
            return self.answer("MAIL", argument, "250 2.1.0 Ok")
        if verb == "RCPT":
            if self.mail_from is None:
                return self.answer("RCPT", argument, "503 5.5.1 Error: need MAIL command")
            if self.code_of("RCPT", argument, "250")[0] == "2":
                self.rcpts.append(argument)
            return self.answer("RCPT", argument, "250 2.1.5 Ok")
        if verb == "DATA":
            if self.mail_from is None:
                return self.answer("DATA", argument, "503 5.5.1 Error: need MAIL command")
            if not self.rcpts:
                return self.answer("DATA", argument, "554 5.5.1 Error: no valid recipients")
            if self.code_of("DATA", argument, "354") != "354":
                return self.answer("DATA", argument, "354")
            if not self.answer("DATA", argument, "354 End data with <CR><LF>.<CR><LF>"):
                return False
            return self.receive_data()
        if verb == "RSET":
            self.reset()
            return self.answer("RSET", argument, "250 2.0.0 Ok")
        if verb == "NOOP":
            return self.answer("NOOP", argument, "250 2.0.0 Ok")
        if verb == "QUIT":
            self.answer("QUIT", argument, "221 2.0.0 Bye")
            return False
        return self.answer(verb, argument, "502 5.5.2 Error: command not recognized")

    def receive_data(self):
        raw = self.read_data()
        if raw is None:
            return False
        body = raw[:-3]  # without the final ".\r\n"
        stuffed = body.count(b"\n.") + (1 if body.startswith(b".") else 0)
        event = {"event": "message", "tls": self.tls, "mail_from": self.mail_from,
                 "rcpt": self.rcpts, "size": len(body) - stuffed}
        if len(raw) <= 1 << 20:  # larger ones: the size only
            data = b"".join(line[1:] if line.startswith(b".") else line
                            for line in body.splitlines(keepends=True))
            event.update(raw=raw.decode("latin-1"), data=data.decode("latin-1"))
        self.log(**event)
        ok = self.answer("DOT", event.get("data", ""), "250 2.0.0 Ok: queued")
        self.reset()
        return ok

    def reset(self):
        self.mail_from = None
        self.rcpts = []


class Server:
    def __init__(self, args):
        self.args = args
        self.rules = []
        for rule in args.reply:
            key, _, reply = rule.partition("=")
            key, _, match = key.partition(":")
            self.rules.append((key.upper(), match, reply))
        self.tls_context = None
        if args.cert:
            self.tls_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls_context.load_cert_chain(args.cert, args.key)
        self.log_lock = threading.Lock()
        self.log_file = open(args.log, "a", encoding="utf-8")

    def log(self, event):
        with self.log_lock:
            self.log_file.write(json.dumps(event) + "\n")
            self.log_file.flush()

    def serve(self):
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if self.args.slow_data:
            # A receive buffer (inherited by accepted sockets) of about two reads, so the data
            # backs up at the client instead of in our buffers, and each read is a full one.
            listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2 * self.args.slow_data)
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        print(listener.getsockname()[1], flush=True)
        conn_id = 0
        while True:
            sock, _ = listener.accept()
            conn_id += 1
            session = Session(self, sock, conn_id)
            threading.Thread(target=session.run, daemon=True).start()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    parser.add_argument("--no-pipelining", action="store_true")
    parser.add_argument("--size", type=int, default=0, help="advertise SIZE N (0: no limit)")
    parser.add_argument("--slow-data", type=int, default=0, metavar="BYTES",
                        help="read message data BYTES at a time, every 50 ms")
    parser.add_argument("--reply", action="append", default=[], metavar="KEY[:MATCH]=REPLY")
    Server(parser.parse_args()).serve()


if __name__ == "__main__":
    sys.exit(main())
