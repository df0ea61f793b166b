"""Named points in a write where a test (or a fault battery) makes semsearch fail.

``SEMSEARCH_FAULT=POINT`` raises KeyboardInterrupt when a write reaches POINT,
as a Ctrl-C there would; ``SEMSEARCH_FAULT=POINT:kill`` kills the process
outright, as a power cut or ``kill -9`` would; ``SEMSEARCH_FAULT=POINT:wait``
says so on stderr and waits there, for a test to send a real signal at a known
moment; ``SEMSEARCH_FAULT=POINT:full`` fails there as a full disk would
(``OSError`` ENOSPC), where a file size limit cannot single out one file. The points, in the order a
write reaches them:

- ``embed``: after the first batch of passages is embedded and stored;
- ``commit``: the finder is staged, the database not yet committed;
- ``manifest``: the database is committed, ``manifest.json`` not yet rewritten.

Unset (always, outside tests), a point costs one dictionary lookup. Tests
arm these points instead of patching private functions, so that moving code
cannot silently disarm them.
"""

from __future__ import annotations

import errno
import os
import signal
import sys
import time


def point(name: str) -> None:
    """Fail here if ``SEMSEARCH_FAULT`` names this point."""
    armed = os.environ.get("SEMSEARCH_FAULT")
    if not armed:
        return
    where, _, how = armed.partition(":")
    if where != name:
        return
    if how == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if how == "wait":
        print(f"fault point {name}: waiting", file=sys.stderr, flush=True)
        time.sleep(600)
        return
    if how == "full":
        raise OSError(errno.ENOSPC, f"fault injected at {name}", name)
    raise KeyboardInterrupt(f"fault injected at {name}")
