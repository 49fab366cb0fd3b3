"""Stopping the servers a benchmark started: ask first, then kill, so a slow shutdown never ends the whole run."""

from __future__ import annotations

import signal
import subprocess
import sys


def stop_process(proc: subprocess.Popen[bytes], how: signal.Signals = signal.SIGTERM, grace_s: float = 30) -> bool:
    """Send ``how`` to ``proc``, wait ``grace_s`` seconds, kill it (and say so on stderr) if it is still running.

    Returns
    -------
    bool
        Whether it stopped on its own (False: it had to be killed; the figures already taken stand).
    """
    if proc.poll() is not None:
        return True
    proc.send_signal(how)
    try:
        proc.wait(grace_s)
    except subprocess.TimeoutExpired:
        print(f"benchmarks: {proc.args!r} did not stop within {grace_s:g} s of {how.name}; killed", file=sys.stderr)
        proc.kill()
        proc.wait(10)
        return False
    return True
