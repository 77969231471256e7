"""kombu's filesystem transport, made safe for several processes sharing one folder.

The embedded broker is a folder under the data dir: `serve` writes a message file, a
worker process picks it up. kombu's own channel creates the message file under its final
name and only then writes into it, and readers take files without a lock, so a reader
can take an empty file; it also moves a taken file to the system temp folder, which is
a copy (not an atomic rename) when that is another filesystem, so two workers can both
take one message. Here a message is written under a temporary name and renamed into
place, and a reader claims a file by renaming it inside the same folder tree.
"""
from __future__ import annotations

import logging
import os
import time
import uuid
from queue import Empty

from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)


class Channel(filesystem.Channel):
    def _put(self, queue: str, payload: dict, **kwargs: object) -> None:
        # time-ordered names keep the queue first-in first-out, as kombu's do
        name = f"{time.time_ns() // 1_000_000:015d}_{uuid.uuid4()}.{queue}.msg"
        tmp = os.path.join(self.data_folder_out, f"part-{uuid.uuid4().hex}")  # never matches a queue
        with open(tmp, "wb") as fh:
            fh.write(str_to_bytes(dumps(payload)))
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, os.path.join(self.data_folder_out, name))

    def _get(self, queue: str) -> dict:
        suffix = f".{queue}.msg"
        for filename in sorted(os.listdir(self.data_folder_in)):
            if not filename.endswith(suffix):
                continue
            taken = os.path.join(self.processed_folder, f"{os.getpid()}-{filename}")
            try:
                os.rename(os.path.join(self.data_folder_in, filename), taken)
            except OSError:  # another consumer took it first
                continue
            try:
                with open(taken, "rb") as fh:
                    payload = fh.read()
            finally:
                if not self.store_processed:
                    os.unlink(taken)
            try:
                return loads(bytes_to_str(payload))
            except ValueError:
                log.warning("dropped an unreadable message file %s", filename)
                continue
        raise Empty()

    def _size(self, queue: str) -> int:
        suffix = f".{queue}.msg"
        return sum(1 for f in os.listdir(self.data_folder_in) if f.endswith(suffix))


class Transport(filesystem.Transport):
    Channel = Channel
