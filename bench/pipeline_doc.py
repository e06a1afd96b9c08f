"""Where ``bench/pipeline.py`` writes: its section of ``docs/BENCHMARKS.md``, and the machine
line that heads it.

``write_section`` replaces only ``## Pipeline (issue 3)`` (other sections, such as another
benchmark's, are kept) and carries over a hand-written ``### What bounds it`` subsection from
the previous version of the section. A missing file starts with a short intro.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import psutil

HEADING = "## Pipeline (issue 3)"
ANALYSIS = "### What bounds it"
INTRO = """# Benchmarks

Measurements of the services on the development stack (embedded Tansu broker, PostgreSQL, the
SUNSKY sandbox). Each section names the command that produced it; rerun it from the repository
root with the virtualenv active (`. .venv/bin/activate`). The machines are shared: compare
numbers within one section (one run), not across sections or runs.
"""


def machine_line() -> str:
    import aiokafka
    import faust

    cores = len(os.sched_getaffinity(0))
    ram = psutil.virtual_memory().total / 1024**3
    return (f"{cores} cores (nproc), {cpu_model()}, {ram:.1f} GiB RAM, "
            f"Python {platform.python_version()}, Linux {platform.release()}, "
            f"faust-streaming {faust.__version__}, aiokafka {aiokafka.__version__}")


def cpu_model() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or "unknown CPU"


# --- the file ----------------------------------------------------------------------------
def write_section(path: Path, section: str) -> None:
    """Replace (or append) ``HEADING`` in ``path``; keep other sections and our analysis."""
    replace_section(path, HEADING, section, keep=ANALYSIS)


def replace_section(path: Path, heading: str, section: str, *, keep: str | None = None) -> None:
    """Put ``section`` (starting with ``heading``) where ``heading``'s section stands in
    ``path``, or at the end; other sections stay as they are. ``keep``: a hand-written
    subsection of the old section that the new one carries on (the script does not write it).
    Every benchmark writes docs/BENCHMARKS.md through this."""
    text = path.read_text() if path.exists() else INTRO
    before, old, after = _split(text, heading)
    kept = _subsection(old, keep) if keep else ""
    new = section.rstrip() + "\n" + (f"\n{kept.rstrip()}\n" if kept else "")
    joined = before.rstrip() + "\n\n" + new + ("\n" + after.lstrip() if after.strip() else "")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(joined)


def _split(text: str, heading: str) -> tuple[str, str, str]:
    """(text before ``heading``, its section, text from the next ``## `` heading on)."""
    start = text.find(f"\n{heading}\n")
    if start < 0:
        return text, "", ""
    end = text.find("\n## ", start + 1)
    end = len(text) if end < 0 else end + 1
    return text[:start + 1], text[start + 1:end], text[end:]


def _subsection(section: str, heading: str) -> str:
    start = section.find(f"\n{heading}")
    if start < 0:
        return ""
    end = section.find("\n### ", start + 1)
    return section[start + 1:] if end < 0 else section[start + 1:end + 1]
