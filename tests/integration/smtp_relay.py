"""A small SMTP relay for integration tests: records what Postdesk's outbox sends to it.

Speaks ESMTP with PIPELINING and (given a certificate) STARTTLS, so the client's pipelining,
connection reuse and TLS are exercised; can be told to answer end-of-data with temporary
failures. Runs in a thread of the test process.
"""
import socket
import ssl
import threading


class Relay:
    def __init__(self, cert=None, key=None, port=0):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", port))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.messages = []  # (mail_from, [rcpt], data bytes, used_tls)
        self.connections = 0
        self.temp_failures = 0  # answer this many end-of-data with 451 first
        self.rejected = set()  # recipients refused at RCPT with 550 5.1.1
        self.lock = threading.Lock()
        self.tls = None
        if cert:
            self.tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            self.tls.load_cert_chain(cert, key)
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self.running = False
        self.sock.close()

    def wait_for(self, count, timeout=10.0):
        import time
        deadline = time.time() + timeout
        while time.time() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return True
            time.sleep(0.02)
        return False

    def _accept(self):
        while self.running:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn):
        f = conn.makefile("rb")
        used_tls = False

        def send(text):
            conn.sendall(text.encode())

        try:
            send("220 relay.test ESMTP\r\n")
            mail_from, rcpts = None, []
            while True:
                line = f.readline()
                if not line:
                    return
                cmd = line.decode(errors="replace").rstrip("\r\n")
                verb = cmd[:4].upper()
                if verb == "EHLO":
                    ext = ["PIPELINING", "8BITMIME", "SIZE 10240000"]
                    if self.tls and not used_tls:
                        ext.append("STARTTLS")
                    send("250-relay.test\r\n" + "".join(
                        ("250-" if i < len(ext) - 1 else "250 ") + e + "\r\n"
                        for i, e in enumerate(ext)))
                elif verb == "HELO":
                    send("250 relay.test\r\n")
                elif cmd.upper() == "STARTTLS" and self.tls and not used_tls:
                    send("220 go ahead\r\n")
                    conn = self.tls.wrap_socket(conn, server_side=True)
                    f = conn.makefile("rb")
                    used_tls = True
                elif verb == "MAIL":
                    mail_from, rcpts = cmd[10:].strip().strip("<>").split(">")[0], []
                    send("250 2.1.0 ok\r\n")
                elif verb == "RCPT":
                    rcpt = cmd[8:].strip().strip("<>").split(">")[0]
                    if rcpt in self.rejected:
                        send("550 5.1.1 no such mailbox\r\n")
                        continue
                    rcpts.append(rcpt)
                    send("250 2.1.5 ok\r\n")
                elif verb == "DATA":
                    if not rcpts:
                        send("554 5.5.1 no valid recipients\r\n")
                        continue
                    send("354 go\r\n")
                    data = b""
                    while True:
                        part = f.readline()
                        if not part:
                            return
                        if part == b".\r\n":
                            break
                        if part.startswith(b".."):
                            part = part[1:]
                        data += part
                    with self.lock:
                        if self.temp_failures > 0:
                            self.temp_failures -= 1
                            send("451 4.3.0 try again later\r\n")
                            continue
                        self.messages.append((mail_from, rcpts, data, used_tls))
                    send("250 2.0.0 queued\r\n")
                elif verb == "RSET":
                    mail_from, rcpts = None, []
                    send("250 2.0.0 ok\r\n")
                elif verb == "NOOP":
                    send("250 2.0.0 ok\r\n")
                elif verb == "QUIT":
                    send("221 2.0.0 bye\r\n")
                    return
                else:
                    send("502 5.5.2 unknown\r\n")
        except (OSError, ssl.SSLError):
            return
        finally:
            try:
                conn.close()
            except OSError:
                pass
