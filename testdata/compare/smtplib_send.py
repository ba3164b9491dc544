#!/usr/bin/env python3
"""The smtplib row of `make compare`: one connection, N messages.

    smtplib_send.py HOST PORT N MESSAGE-FILE [FROM [TO]]

What a Python program using the standard library does: SMTP(), ehlo(),
sendmail() N times on the same connection (MAIL, RCPT, DATA, the message,
one command at a time, as smtplib has no pipelining), quit(). Prints one
line with the rate.
"""
import smtplib
import sys
import time


def main() -> int:
    host, port, n, path = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    sender = sys.argv[5] if len(sys.argv) > 5 else "sender@example.com"
    rcpt = sys.argv[6] if len(sys.argv) > 6 else "rcpt@example.com"
    with open(path, "rb") as f:
        msg = f.read()
    start = time.perf_counter()
    s = smtplib.SMTP(host, port, local_hostname="client.example.com", timeout=60)
    s.ehlo()
    for _ in range(n):
        refused = s.sendmail(sender, [rcpt], msg)
        if refused:
            print(f"smtplib: refused {refused}", file=sys.stderr)
            return 1
    s.quit()
    d = time.perf_counter() - start
    print(f"smtplib: {n} messages in {d:.3f} s: {n / d:.1f} messages/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
