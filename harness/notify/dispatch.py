"""The dispatch thread: sends what is due (e-mail, webhooks, Greenhouse callbacks), every few seconds.

`serve` runs it beside the reaper. Each kind claims a row before sending it (its next try moves
past the send's own timeout), so two app processes never send one row twice.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from harness.notify import greenhouse, mail, webhooks
from harness.store.db import make_engine, session_factory
from harness.store.models import utcnow
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)


@dataclass
class Sent:
    mail: int = 0
    webhooks: int = 0
    callbacks: int = 0


def dispatch_due(settings: WebSettings, factory=None) -> Sent:  # type: ignore[no-untyped-def]
    """One pass over everything due now; each kind's failure is logged and never stops the others."""
    own = factory is None
    engine = make_engine(settings.database_url) if own else None
    factory = factory or session_factory(engine)  # type: ignore[arg-type]
    out = Sent()
    try:
        for name, send in (("mail", mail.send_due), ("webhooks", webhooks.deliver_due),
                           ("callbacks", greenhouse.callbacks_due)):
            try:
                setattr(out, name, send(settings, factory, utcnow()))
            except Exception:
                log.exception("dispatch: %s", name)
    finally:
        if engine is not None:
            engine.dispose()
    return out


class DispatchThread(threading.Thread):
    def __init__(self, settings: WebSettings, every_s: float = 2.0) -> None:
        super().__init__(daemon=True, name="dispatch")
        self.settings, self.every_s = settings, every_s
        self.halt = threading.Event()

    def run(self) -> None:
        engine = make_engine(self.settings.database_url)
        factory = session_factory(engine)
        try:
            while not self.halt.is_set():
                dispatch_due(self.settings, factory)
                self.halt.wait(self.every_s)
        finally:
            engine.dispose()

    def stop(self, join_s: float = 30.0) -> None:
        self.halt.set()
        self.join(join_s)
