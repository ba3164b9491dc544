#!/usr/bin/python3
"""Small SMTP / SMTPS / LMTP test server built on aiosmtpd (Debian's python3-aiosmtpd).

Run it with Debian's /usr/bin/python3 (the package is not visible to other Pythons).
Normally started through aiosmtpd.sh; it can also be run directly:

  /usr/bin/python3 aiosmtpd_server.py --dir /tmp/mta-testbed/aiosmtpd \
      --cert cert.pem --key key.pem

Listeners (all optional, default loopback ports):
  --smtp-port   2528  SMTP with STARTTLS; AUTH PLAIN/LOGIN offered only after STARTTLS
  --smtps-port  4658  implicit TLS; AUTH PLAIN/LOGIN offered
  --lmtp-port   2429  LMTP over TCP
  --lmtp-socket DIR/lmtp.sock  LMTP on a Unix socket

Every accepted message is stored in the Maildir DIR/mail/ with two extra headers,
X-Testbed-Envelope-From and X-Testbed-Envelope-To. Nothing is relayed.

Scripted replies, by recipient local part (case-insensitive):
  reject*    -> 550 5.1.1 at RCPT
  tempfail*  -> 451 4.3.0 at RCPT
  faildata*  -> accepted at RCPT, refused after the data: LMTP answers 550 5.7.1 for
                that recipient alone (the others are delivered); SMTP refuses the
                whole message with 554 5.7.1
  anything else is accepted.
The stored copy also carries X-Testbed-Rcpt-Options (the RCPT parameters, per recipient).
Credentials: alice / alicepw, bob / bobpw (the forms alice@example.test etc. also work).
"""
import argparse
import logging
import mailbox
import os
import signal
import ssl
import sys
import threading

from aiosmtpd.controller import Controller, UnixSocketController
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

HOSTNAME = "mx.example.test"
USERS = {
    "alice": "alicepw", "alice@example.test": "alicepw",
    "bob": "bobpw", "bob@example.test": "bobpw",
}
log = logging.getLogger("testbed")


def authenticator(server, session, envelope, mechanism, auth_data):
    if not isinstance(auth_data, LoginPassword):
        return AuthResult(success=False, handled=False)
    user = auth_data.login.decode("utf-8", "replace")
    pw = auth_data.password.decode("utf-8", "replace")
    ok = USERS.get(user) == pw
    log.info("AUTH %s user=%r result=%s", mechanism, user, "ok" if ok else "fail")
    return AuthResult(success=ok, handled=False, auth_data=user if ok else None)


class Handler:
    def __init__(self, maildir, lmtp=False):
        self.box = maildir
        self.lmtp = lmtp
        self.lock = threading.Lock()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        local = address.split("@", 1)[0].lower()
        if local.startswith("reject"):
            return f"550 5.1.1 <{address}>: recipient rejected (test bed rule)"
        if local.startswith("tempfail"):
            return f"451 4.3.0 <{address}>: temporary failure (test bed rule)"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.append(rcpt_options)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server, session, envelope):
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8", "surrogateescape")
        failing = [r for r in envelope.rcpt_tos if r.split("@", 1)[0].lower().startswith("faildata")]
        good = [r for r in envelope.rcpt_tos if r not in failing]
        if failing and not self.lmtp:
            return "554 5.7.1 message refused after the data (test bed rule: faildata recipient)"
        key = None
        if good:
            rcpt_opts = "; ".join(f"<{r}> {' '.join(o)}".rstrip()
                                  for r, o in zip(envelope.rcpt_tos, envelope.rcpt_options) if r in good)
            hdr = (f"X-Testbed-Envelope-From: <{envelope.mail_from}>\r\n"
                   f"X-Testbed-Envelope-To: {', '.join('<%s>' % r for r in good)}\r\n"
                   f"X-Testbed-Options: mail={' '.join(envelope.mail_options)}"
                   f" auth={session.auth_data or '-'} tls={'yes' if session.ssl else 'no'}\r\n"
                   f"X-Testbed-Rcpt-Options: {rcpt_opts}\r\n")
            with self.lock:
                key = self.box.add(hdr.encode("utf-8", "replace") + data)
            log.info("stored %s from=<%s> to=%s size=%d", key, envelope.mail_from, good, len(data))
        if self.lmtp:
            # LMTP wants one reply per accepted recipient, in RCPT order; aiosmtpd sends a
            # single status line, so hand it all of them joined with CRLF.
            return "\r\n".join(
                f"550 5.7.1 <{r}> refused after the data (test bed rule)" if r in failing
                else f"250 2.0.0 <{r}> delivered ({key})" for r in envelope.rcpt_tos)
        return f"250 2.0.0 OK: queued as {key}"


class LMTPController(Controller):
    def factory(self):
        return LMTP(self.handler, **self.SMTP_kwargs)


class LMTPUnixController(UnixSocketController):
    def factory(self):
        return LMTP(self.handler, **self.SMTP_kwargs)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--dir", required=True)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--smtp-port", type=int, default=2528)
    ap.add_argument("--smtps-port", type=int, default=4658)
    ap.add_argument("--lmtp-port", type=int, default=2429)
    ap.add_argument("--lmtp-socket", default=None)
    ap.add_argument("--cert", required=True)
    ap.add_argument("--key", required=True)
    ap.add_argument("--size", type=int, default=10 * 1024 * 1024)
    ap.add_argument("--auth-without-tls", action="store_true",
                    help="also offer AUTH on the plain listener before STARTTLS")
    args = ap.parse_args()

    logging.basicConfig(level=logging.INFO, stream=sys.stdout,
                        format="%(asctime)s %(name)s %(levelname)s %(message)s")
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(args.dir, "mail", sub), exist_ok=True)
    box = mailbox.Maildir(os.path.join(args.dir, "mail"), create=False)

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(args.cert, args.key)

    common = dict(server_hostname=HOSTNAME, ident="aiosmtpd test bed",
                  data_size_limit=args.size, enable_SMTPUTF8=True,
                  authenticator=authenticator)
    controllers = []
    if args.smtp_port:
        controllers.append(Controller(
            Handler(box), hostname=args.host, port=args.smtp_port, tls_context=ctx,
            require_starttls=False, auth_require_tls=not args.auth_without_tls, **common))
    if args.smtps_port:
        # implicit TLS: aiosmtpd does not count the socket TLS as "TLS" for AUTH,
        # so auth_require_tls must be off here (the connection is encrypted anyway)
        controllers.append(Controller(
            Handler(box), hostname=args.host, port=args.smtps_port, ssl_context=ctx,
            auth_require_tls=False, **common))
    if args.lmtp_port:
        controllers.append(LMTPController(
            Handler(box, lmtp=True), hostname=args.host, port=args.lmtp_port,
            server_hostname=HOSTNAME, ident="aiosmtpd test bed LMTP",
            data_size_limit=args.size, enable_SMTPUTF8=True))
    if args.lmtp_socket:
        if os.path.exists(args.lmtp_socket):
            os.unlink(args.lmtp_socket)
        controllers.append(LMTPUnixController(
            Handler(box, lmtp=True), unix_socket=args.lmtp_socket,
            server_hostname=HOSTNAME, ident="aiosmtpd test bed LMTP",
            data_size_limit=args.size, enable_SMTPUTF8=True))

    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    for c in controllers:
        c.start()
    if args.lmtp_socket:
        os.chmod(args.lmtp_socket, 0o666)
    print("READY", flush=True)
    while not stop.wait(0.5):
        pass
    for c in controllers:
        c.stop()
    if args.lmtp_socket and os.path.exists(args.lmtp_socket):
        os.unlink(args.lmtp_socket)
    print("STOPPED", flush=True)


if __name__ == "__main__":
    main()
