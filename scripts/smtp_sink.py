"""A local SMTP server that keeps every message: one .eml file per mail under a folder, one log line per mail.

The local run's notify service delivers here (NOTIFY_SMTP_HOST/PORT), so reminders can be read without a
real mail server. The log line names the file and the message id, never the recipient (personal data).
    python scripts/smtp_sink.py [--host 127.0.0.1] [--port 8025] [--dir data/mail]
"""
from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
import uuid
from datetime import UTC, datetime
from email.parser import BytesHeaderParser
from pathlib import Path

from aiosmtpd.controller import Controller


class MailFolder:
    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    async def handle_DATA(self, server, session, envelope):
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
        name = f"{stamp}-{uuid.uuid4().hex[:8]}.eml"
        tmp = self.folder / (name + ".tmp")
        data = envelope.original_content or envelope.content
        if isinstance(data, str):
            data = data.encode("utf-8")
        tmp.write_bytes(data)
        os.replace(tmp, self.folder / name)  # readers never see half a message
        headers = BytesHeaderParser().parsebytes(data)
        print(json.dumps({"ts": datetime.now(UTC).isoformat(), "service": "smtp-sink", "msg": "mail stored",
                          "file": name, "message_id": headers.get("Message-ID"),
                          "recipients": len(envelope.rcpt_tos), "bytes": len(data)}), flush=True)
        return "250 Message accepted for delivery"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8025)
    parser.add_argument("--dir", default="data/mail")
    args = parser.parse_args(argv)
    controller = Controller(MailFolder(Path(args.dir)), hostname=args.host, port=args.port)
    controller.start()
    print(json.dumps({"service": "smtp-sink", "msg": "listening", "host": args.host, "port": args.port,
                      "dir": str(Path(args.dir).resolve())}), flush=True)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    while not stop.is_set():
        time.sleep(0.2)
    controller.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
