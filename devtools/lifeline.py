"""Children that die with their parent, whatever kills it (issue 9, section 3).

``dropship dev`` and ``dropship broker`` start child processes. A parent stopped by SIGINT,
SIGTERM or SIGHUP stops its children itself; one killed by SIGKILL (or crashing) cannot, so each
child asks the kernel to signal it when its parent dies (Linux ``PR_SET_PDEATHSIG``), armed in
the child between fork and exec (``preexec_die_with_parent``): the supervisor's children (the
workers, the sandbox, the console, ``php -S``) get SIGTERM and stop cleanly, the Tansu binary
gets SIGKILL.

Right after arming, the child checks that its parent is still the one that started it: a
parent that died before the signal was armed would otherwise leave it running. The kernel sends
the signal when the *thread* that started the child ends, so children are started from a thread
that lives as long as the parent (the main thread in ``dropship dev|broker``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable

_PR_SET_PDEATHSIG = 1


def _load_prctl() -> Callable[..., int] | None:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        prctl: Callable[..., int] = libc.prctl
    except (OSError, AttributeError):  # not Linux: parents stop their children themselves
        return None
    return prctl


_prctl = _load_prctl()  # looked up before any fork: the child only calls it


def arm(sig: int) -> bool:
    """Ask for ``sig`` when the parent dies; False where the kernel cannot do it."""
    return _prctl is not None and _prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0) == 0


def preexec_die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn``: the child gets ``sig`` when the parent dies. Between fork and exec it
    only calls prctl (looked up before the fork), getppid and _exit."""
    parent = os.getpid()

    def preexec() -> None:
        arm(sig)
        if os.getppid() != parent:
            os._exit(1)

    return preexec
