"""Frame sources for the runtime: a background reader that decodes ahead (no torch).

OpenCV releases the GIL while it decodes and converts, so a reader thread overlaps decoding with
face detection and the model on the other core. The queue is bounded (``depth`` frames), and an
error raised by the source is re-raised in the consumer at the position where it happened, so
frames decoded before a truncation are still processed.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable, Iterator

_END = object()


class _Raised:
    def __init__(self, err: BaseException):
        self.err = err


def prefetch(source: Iterable, depth: int = 8) -> Iterator:
    """Iterate ``source`` in a daemon thread, ``depth`` items ahead. ``depth <= 0``: no thread."""
    if depth <= 0:
        yield from source
        return
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work():
        try:
            for item in source:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
        except BaseException as err:  # handed to the consumer, raised there
            q.put(_Raised(err))
            return
        q.put(_END)

    th = threading.Thread(target=work, name="rppg-prefetch", daemon=True)
    th.start()
    try:
        while True:
            item = q.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.err
            yield item
    finally:
        stop.set()
        th.join(timeout=1.0)
