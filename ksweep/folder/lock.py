"""The sweep's lock: one runner per sweep folder, and who holds it.

The lock is an flock on the sweep's `.lock`: the kernel drops it when the runner dies,
so a lock left by a killed runner never blocks a resume, while a live runner is refused
by pid. The holder writes its pid into the file just after taking the lock; a runner
refused before that write asks the kernel (/proc/locks) who holds it.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from ksweep.contract.pause import pause_point
from ksweep.contract.sweepdir import SweepPaths


class LockError(Exception):
    """Another runner works on this sweep; the message names it."""


class SweepLock:
    """An exclusive flock on the sweep dir; refuses with the holder's pid."""

    def __init__(self, sweep_dir: Path):
        self.path = SweepPaths(sweep_dir).lock
        self.fd: int | None = None

    def __enter__(self) -> SweepLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read_holder(fd)
            os.close(fd)
            raise LockError(
                f"{self.path.parent}: another runner (pid {holder}) is working on this sweep; "
                "wait for it, or stop it first"
            ) from None
        pause_point("lock-taken")
        # One write of a fixed width, never a truncate: a reader sees a whole pid. Who
        # holds the lock is asked of the kernel first (_flock_holder), so a runner refused
        # before this write still names the holder.
        os.pwrite(fd, f"{os.getpid():<19}\n".encode(), 0)
        self.fd = fd
        return self

    def __exit__(self, *exc) -> None:
        if self.fd is not None:
            os.close(self.fd)  # closing drops the flock
            self.fd = None


def lock_holder(sweep_dir: Path) -> int | None:
    """The pid of the live runner holding the sweep's lock, or None."""
    path = SweepPaths(sweep_dir).lock
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _read_holder(fd)
        return int(holder) if holder.isdigit() else -1
    else:
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def _read_holder(fd: int, wait: float = 2.0) -> str:
    """The pid holding the flock on `fd`'s file: the pid the holder wrote when it is alive, else
    the kernel's word (a holder that has not written its pid yet), else what appears in `wait` s."""
    text = os.pread(fd, 64, 0).decode(errors="replace").strip()
    if text.isdigit() and alive(int(text)):
        return text
    holder = _flock_holder(os.fstat(fd).st_ino)  # reads every lock of the machine: the slow path
    if holder:
        return holder
    deadline = time.monotonic() + wait
    while True:
        text = os.pread(fd, 64, 0).decode(errors="replace").strip()
        if text.isdigit() and alive(int(text)):
            return text
        if time.monotonic() > deadline:
            return "unknown"
        time.sleep(0.01)


def _flock_holder(inode: int) -> str | None:
    """The pid of the FLOCK on that inode in /proc/locks (Linux), or None."""
    try:
        with open("/proc/locks") as locks:
            for line in locks:
                fields = line.split()
                if len(fields) > 5 and fields[1] == "FLOCK" and fields[5].rsplit(":", 1)[-1] == str(inode):
                    return fields[4] if fields[4].isdigit() else None
    except OSError:
        return None
    return None


def maker_gone(path: Path, prefix: str) -> bool:
    """Whether the folder `path`, named `<prefix><pid>.<anything>` by the process that made it,
    was made by a process that is gone (False when its name carries no pid)."""
    pid = path.name.removeprefix(prefix).split(".")[0]
    return pid.isdigit() and not alive(int(pid))


def alive(pid: int) -> bool:
    """Whether process `pid` exists (another user's counts as alive)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
