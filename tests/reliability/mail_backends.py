"""An e-mail backend for worker-fault tests: it logs each message's Message-ID to a file (the
worker is another process, so Django's locmem outbox cannot be read from the test), and hangs
right after handing over message number ``MAIL_HANG_AFTER`` so the test can kill the worker in
the worst place: the message is out, its ``sent`` mark is not committed."""

from __future__ import annotations

import os
import time

from django.core.mail.backends.base import BaseEmailBackend


class HangingLogBackend(BaseEmailBackend):
    def send_messages(self, email_messages):
        path = os.environ["MAIL_LOG"]
        hang_after = int(os.environ.get("MAIL_HANG_AFTER", "0"))
        for message in email_messages:
            with open(path, "a", encoding="utf-8") as log:
                log.write(message.extra_headers["Message-ID"] + "\n")
                log.flush()
                os.fsync(log.fileno())
                with open(path, encoding="utf-8") as done:
                    count = sum(1 for _ in done)
            if count == hang_after:
                time.sleep(600)  # killed here by the test
        return len(email_messages)
