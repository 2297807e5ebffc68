"""Progress of long work: a tqdm bar when tqdm is installed, a few plain lines on stderr otherwise."""

from __future__ import annotations

import sys
from collections.abc import Iterable, Iterator

# Without tqdm, at most this many lines report one loop.
_FALLBACK_LINES = 10


def _lines(iterable: Iterable, total: int | None, desc: str) -> Iterator:
    every = 1 if not total else max(1, -(-total // _FALLBACK_LINES))
    count = 0
    for count, item in enumerate(iterable, start=1):
        yield item
        if count % every == 0 or count == total:
            of = f"/{total}" if total else ""
            print(f"{desc}: {count}{of}", file=sys.stderr, flush=True)


def progress(
    iterable: Iterable, *, total: int | None = None, desc: str = "", leave: bool = True
) -> Iterable:
    """``iterable``, reporting its progress: through tqdm if installed, else in a few lines on stderr.

    ``leave=False`` erases a finished tqdm bar (one per epoch of a long fit
    would otherwise pile up).
    """
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return _lines(iterable, total, desc)
    return tqdm(iterable, total=total, desc=desc, leave=leave)
