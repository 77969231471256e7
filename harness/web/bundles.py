"""Each invite's bundle: what `shiftwork package` makes, built once per invite under data/bundles/<invite id>/.

Building takes seconds to a minute (data generation, calibration, a wheel), so the page
starts it in the background on first open and a download waits for it. A lock file per
invite (flock: it holds across threads and processes) makes concurrent first requests
build once; whoever waits behind the lock finds the finished folder and uses it.
"""
from __future__ import annotations

import fcntl
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from grader.errors import ShiftworkError
from harness.bundle import package_bundle
from harness.store.models import Invite
from harness.store.settings import WebSettings

log = logging.getLogger(__name__)
_building: set[int] = set()  # invite ids with a background build running in this process
_building_lock = threading.Lock()


@dataclass(frozen=True)
class Bundle:
    folder: Path  # the one-commit git repository
    zip_path: Path

    @property
    def ready(self) -> bool:
        return (self.folder / ".exercise.json").is_file() and (self.folder / ".git").is_dir() \
            and self.zip_path.is_file()


def _out(settings: WebSettings, invite: Invite) -> Path:
    return settings.folder("bundles") / str(invite.id)


def expected(settings: WebSettings, invite: Invite) -> Bundle:
    """Where the invite's bundle is (or will be); built from ids the app chose, never from a request."""
    if invite.bundle_dir:
        folder = settings.data_dir / invite.bundle_dir
    else:
        folder = _out(settings, invite) / f"{invite.exercise}-{invite.candidate_id}"
    return Bundle(folder, folder.parent / f"{folder.name}.zip")


def ensure(settings: WebSettings, sessions: sessionmaker[Session], invite: Invite) -> Bundle:
    """The invite's bundle, building it first if nobody has (blocks while another request builds it)."""
    bundle = expected(settings, invite)
    if bundle.ready:
        return bundle
    out = _out(settings, invite)
    lock_path = settings.folder("bundles") / f"{invite.id}.lock"
    with lock_path.open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            bundle = expected(settings, invite)
            if not bundle.ready:
                bundle = _build(invite, out)
            rel = bundle.folder.relative_to(settings.data_dir).as_posix()
            if invite.bundle_dir != rel:
                with sessions() as session, session.begin():
                    session.execute(update(Invite).where(Invite.id == invite.id).values(bundle_dir=rel))
                invite.bundle_dir = rel
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return bundle


# A cohort's links are often opened at once: each first open builds a bundle (seconds of CPU). Two at a
# time keep the pages answering; the others wait their turn (their pages say the bundle is being prepared).
PARALLEL_BUILDS = 2
_build_slots = threading.BoundedSemaphore(PARALLEL_BUILDS)


def _build(invite: Invite, out: Path) -> Bundle:
    with _build_slots:
        return _package(invite, out)


def _package(invite: Invite, out: Path) -> Bundle:
    log.info("building the bundle of invite %s (%s for %s)", invite.id, invite.exercise, invite.candidate_id)
    try:
        folder, zip_path = package_bundle(invite.exercise, candidate=invite.candidate_id, out=out,
                                          console=Console(quiet=True))
    except ShiftworkError as exc:
        log.error("the bundle of invite %s could not be built: %s", invite.id, exc)
        raise
    log.info("built the bundle of invite %s: %s", invite.id, zip_path)
    return Bundle(folder, zip_path)


def start_in_background(settings: WebSettings, sessions: sessionmaker[Session], invite: Invite) -> bool:
    """Build the bundle on a thread so the page answers at once; False if ready or already building."""
    if expected(settings, invite).ready:
        return False
    with _building_lock:
        if invite.id in _building:
            return False
        _building.add(invite.id)

    def run() -> None:
        try:
            ensure(settings, sessions, invite)
        except Exception:  # the download retries and reports the reason; a thread has nobody to tell
            log.exception("background bundle build of invite %s failed", invite.id)
        finally:
            with _building_lock:
                _building.discard(invite.id)

    threading.Thread(target=run, name=f"bundle-{invite.id}", daemon=True).start()
    return True


def building(invite_id: int) -> bool:
    with _building_lock:
        return invite_id in _building
