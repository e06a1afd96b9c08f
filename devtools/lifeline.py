"""Children that die with their parent, whatever kills it (issue 9, section 3).

``dropship dev`` and ``dropship broker`` start child processes. A parent stopped by SIGINT,
SIGTERM or SIGHUP stops its children itself; one killed by SIGKILL (or crashing) cannot, so each
child asks the kernel to signal it when its parent dies (Linux ``PR_SET_PDEATHSIG``):

- our own Python children (workers, the sandbox) get SIGTERM and stop cleanly: the supervisor
  sets ``DROPSHIP_PARENT_PID`` and ``dropship`` calls ``follow_parent()`` first thing;
- the Tansu binary gets SIGKILL, set between fork and exec (``preexec_die_with_parent``).

Both check right after arming that the parent is still the one they were started by: a parent
that died before the child armed the signal would otherwise leave it running. The kernel sends
the signal when the *thread* that started the child ends, so children are started from a
thread that lives as long as the parent (the main thread in ``dropship dev|broker``).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
from collections.abc import Callable, Mapping

PARENT_PID_ENV = "DROPSHIP_PARENT_PID"
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


def follow_parent(environ: Mapping[str, str] = os.environ) -> None:
    """In a child started by our supervisor: stop (SIGTERM) when the parent is gone."""
    expected = environ.get(PARENT_PID_ENV, "")
    if not expected.isdigit():
        return
    arm(signal.SIGTERM)
    if os.getppid() != int(expected):  # the parent died before we armed the signal
        os.kill(os.getpid(), signal.SIGTERM)


def preexec_die_with_parent(sig: int = signal.SIGKILL) -> Callable[[], None]:
    """A ``preexec_fn`` for a child that is not ours (the Tansu binary): killed with the parent.
    It only calls prctl, getppid and _exit between fork and exec."""
    parent = os.getpid()

    def preexec() -> None:
        arm(sig)
        if os.getppid() != parent:
            os._exit(1)

    return preexec


def child_environment(env: Mapping[str, str]) -> dict[str, str]:
    """``env`` plus what ``follow_parent`` needs to know who the parent is."""
    return {**env, PARENT_PID_ENV: str(os.getpid())}
