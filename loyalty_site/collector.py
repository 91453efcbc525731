"""Python's cyclic garbage collector paused around a phase that builds many objects that all
stay alive until it ends (the rows of an import file).

Each 700 new container objects (lists, tuples, rows) start a collection, and every few of them
a full one walks every object the process holds, Django's models, URLs and admin included.
Reading a 60,000-row contract file builds some 300,000 such objects, none of them garbage until
the import ends: the collections were three quarters of ``read_csv``'s CPU in ``import_csv``
(0.28 of 0.37 s, bench/README.md "import_contract.py"). Reference counting still frees
everything that is not in a cycle at once; cycles made meanwhile wait for the next collection
after the phase.

Hand-written: the standard library has ``gc.disable``/``gc.enable`` but no context manager, and
this one must leave a collector that was already off (a caller's own pause) off.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Iterator


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Run the block with the cyclic garbage collector off; restore its state afterwards."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
