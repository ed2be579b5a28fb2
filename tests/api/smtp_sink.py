#!/usr/bin/python3
"""SMTP sink for the black-box tests (tests/api/test_account.c), on Debian's aiosmtpd.

usage: smtp_sink.py PORT DIR [USER PASSWORD]

Listens on 127.0.0.1:PORT.  Every message accepted is decoded and written to DIR as
<n>.json (n = 1, 2, ...; written to a temporary name, then renamed, so a reader never sees
half a file): {"mailFrom", "rcptTos", "from", "to", "subject", "body", "login"}.
With USER and PASSWORD, AUTH (PLAIN/LOGIN, without TLS) is required and checked.
With SMTP_SINK_TLS_CERT and SMTP_SINK_TLS_KEY in the environment (PEM files), the sink
offers STARTTLS and refuses mail before it; each record then says "tls": true.
DIR/ready appears once the server accepts connections.  SIGTERM stops it.
"""
import email
import warnings
import json
import os
import signal
import ssl
import sys
from email import policy

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult


class Sink:
    def __init__(self, directory):
        self.directory = directory
        self.count = 0

    async def handle_DATA(self, server, session, envelope):
        msg = email.message_from_bytes(envelope.original_content, policy=policy.default)
        part = msg.get_body(preferencelist=("plain",))
        login = getattr(session, "auth_data", None)
        record = {
            "mailFrom": envelope.mail_from,
            "rcptTos": envelope.rcpt_tos,
            "from": str(msg["from"]),
            "to": str(msg["to"]),
            "subject": str(msg["subject"]),
            "body": part.get_content() if part is not None else "",
            "login": login.decode() if isinstance(login, bytes) else login,
            "tls": session.ssl is not None,
        }
        self.count += 1
        path = os.path.join(self.directory, "%d.json" % self.count)
        with open(path + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(path + ".tmp", path)
        return "250 OK"


def main():
    warnings.simplefilter("ignore")
    port, directory = int(sys.argv[1]), sys.argv[2]
    kwargs = {}
    if len(sys.argv) >= 5:
        user, password = sys.argv[3].encode(), sys.argv[4].encode()

        def authenticator(server, session, envelope, mechanism, data):
            ok = data.login == user and data.password == password
            return AuthResult(success=ok, handled=False, auth_data=data.login if ok else None)

        kwargs = dict(authenticator=authenticator, auth_required=True,
                      auth_require_tls=False)
    cert, key = os.environ.get("SMTP_SINK_TLS_CERT"), os.environ.get("SMTP_SINK_TLS_KEY")
    if cert and key:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(cert, key)
        kwargs.update(tls_context=context, require_starttls=True)
    controller = Controller(Sink(directory), hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    open(os.path.join(directory, "ready"), "w").close()
    signal.sigwait({signal.SIGTERM, signal.SIGINT})
    controller.stop()


if __name__ == "__main__":
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
    main()
