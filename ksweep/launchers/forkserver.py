"""The server behind ksweep.launchers.base.LocalLauncher
(run as `python -m ksweep.launchers.forkserver [--exec]`).

Without --exec it imports the built-in trainer (and so torch) once, trains a tiny step
on the CPU with one thread so every lazy import is done and no OpenMP pool exists yet;
with --exec (a TRAIN_COMMAND sweep) it imports nothing and each child execs the command.
It then answers JSON lines on stdin:

    {"op": "run", "config": .., "output_dir": .., "log": .., "env": {..}, "append_log": .., "cwd": ..,
     "argv": [..] (with --exec)}

by handing the request to a spare child, forked ahead, that starts its own session,
sends its output to the log and calls the trainer's CLI (or execs argv); replies on
stdout are {"op": "ready"}, {"op": "started", "pid": ..} and {"op": "exited", "pid": ..,
"code": .., "peak_rss_kb": ..} (code negative: killed by that signal; the run's peak resident memory).

It guards the runs: when a run's main process ends, its whole process group is killed
(helpers it left behind, DataLoader workers), and when stdin closes (the runner is gone,
`kill -9` included) every run's group is killed and the server exits. Children get
SIGKILL if the server itself dies.

This is the only place in ksweep/ that imports the trainer; nothing in the runner
process imports torch.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import io
import json
import os
import resource
import select
import signal
import sys
import traceback

from ksweep.config import trainer
from ksweep.launchers.command import run_argv

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """In a child: get SIGKILL when the parent dies, so no run outlives its server."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def kill_group(pid: int) -> None:
    """SIGKILL a run's whole process group (it leads its own session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def main() -> None:
    # Ctrl-C and a TERM sent to the whole process group are the runner's to handle: it
    # stops the runs, settles their status, then closes our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # stray prints of the trainer's imports must not corrupt the reply channel
    train = None if "--exec" in sys.argv[1:] else warm_trainer()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    gc.freeze()  # children must not copy-on-write the server's heap by collecting it
    server = Server(train, requests, replies, (wake_r, wake_w))
    server.reply({"op": "ready"})
    server.serve()


def warm_trainer():
    # One thread while warming up: an OpenMP pool started before fork() hangs the children
    # that use it. Each child sets its own thread count (KSWEEP_THREADS).
    inherited_omp = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    train = trainer.entry_point()

    _restore_env("OMP_NUM_THREADS", inherited_omp)
    train.warmup()
    return train


def _restore_env(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


def exit_code(status: int) -> int:
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


class Server:
    """Keeps one spare child forked ahead, so a run starts without waiting for fork()."""

    def __init__(self, train, requests: int, replies: int, wake: tuple[int, int]):
        self.train, self.requests, self.replies, self.wake = train, requests, replies, wake
        self.done = os.pipe()  # children report "pid code" here just before they exit
        self.children: set[int] = set()
        self.reported: set[int] = set()  # exits already replied (from the done pipe)
        self.spare: tuple[int, int] | None = None  # (pid, fd to send it its job)
        self.buffer = self.done_buffer = b""

    def reply(self, message: dict) -> None:
        os.write(self.replies, json.dumps(message).encode() + b"\n")

    def serve(self) -> None:
        self.spare = self.fork_spare()
        while True:
            readable = select.select([self.requests, self.wake[0], self.done[0]], [], [])[0]
            if self.wake[0] in readable:
                os.read(self.wake[0], 4096)
            if self.done[0] in readable:
                self.read_done()
            self.reap()
            if self.requests in readable and not self.read_requests():
                break
        for pid in self.children | ({self.spare[0]} if self.spare else set()):
            kill_group(pid)

    def read_requests(self) -> bool:
        data = os.read(self.requests, 65536)
        if not data:
            return False
        self.buffer += data
        *lines, self.buffer = self.buffer.split(b"\n")
        for line in filter(None, lines):
            pid, job = self.spare or self.fork_spare()
            self.spare = None
            os.write(job, line + b"\n")
            os.close(job)
            self.children.add(pid)
            self.reply({"op": "started", "pid": pid})
            self.spare = self.fork_spare()  # while the run trains
        return True

    def read_done(self) -> None:
        # A run reports its exit code before the kernel tears down its (large, shared)
        # address space, which takes as long as a tiny run's training.
        self.done_buffer += os.read(self.done[0], 65536)
        *lines, self.done_buffer = self.done_buffer.split(b"\n")
        for line in filter(None, lines):
            pid, code, rss_kb = map(int, line.split())
            if pid in self.children and pid not in self.reported:
                self.reported.add(pid)
                kill_group(pid)  # its result is written; what it left running goes with it
                self.reply({"op": "exited", "pid": pid, "code": code, "peak_rss_kb": rss_kb})

    def reap(self) -> None:
        while self.children or self.spare:
            # Look before reaping: while the child is a zombie its pid (and so its process
            # group's id) cannot be reused, so killing the group hits only its own leftovers.
            info = os.waitid(os.P_ALL, 0, os.WEXITED | os.WNOHANG | os.WNOWAIT)
            if info is None:
                return
            pid = info.si_pid
            if not (self.spare and pid == self.spare[0]):
                kill_group(pid)
            _, status, usage = os.wait4(pid, 0)
            if self.spare and pid == self.spare[0]:
                os.close(self.spare[1])
                self.spare = None  # died idle; the next request forks a new one
                continue
            self.children.discard(pid)
            if pid in self.reported:
                self.reported.discard(pid)
            else:  # a TRAIN_COMMAND (exec'd), or a run that died before reporting
                self.reply(
                    {"op": "exited", "pid": pid, "code": exit_code(status), "peak_rss_kb": usage.ru_maxrss}
                )

    def fork_spare(self) -> tuple[int, int]:
        job_r, job_w = os.pipe()
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            os.close(job_w)
            os._exit(self.child(job_r))
        os.close(job_r)
        return pid, job_w

    def child(self, job_r: int) -> int:
        code = 1
        try:
            self.detach()
            with os.fdopen(job_r, "rb") as job:
                line = job.readline()
            if not line:
                return 0  # the server closed without a job for us
            request = json.loads(line)
            os.chdir(request["cwd"])
            _redirect_output(request["log"], request["append_log"])
            os.environ.update(request["env"])
            if "argv" in request:
                exec_command(request["argv"])
            code = self.train.main(run_argv([], request["config"], request["output_dir"]))
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        code = code or 0
        os.write(self.done[1], f"{os.getpid()} {code} {peak_rss_kb()}\n".encode())
        return code

    def detach(self) -> None:
        """In a fresh child: its own session, default signals, none of the server's pipes."""
        os.setsid()
        die_with_parent()
        signal.set_wakeup_fd(-1)
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
            signal.signal(sig, signal.SIG_DFL)
        for fd in (self.requests, self.replies, *self.wake, self.done[0]):
            os.close(fd)
        devnull = os.open(os.devnull, os.O_RDONLY)
        os.dup2(devnull, 0)  # fd 0 is still the runner's request pipe: no run may read it
        os.close(devnull)
        if self.spare:
            os.close(self.spare[1])


def peak_rss_kb() -> int:
    """This run's peak resident memory so far, its reaped children's (DataLoader workers) included."""
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return max(own, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)


def exec_command(argv: list[str]) -> None:
    """Become the TRAIN_COMMAND (its own session and log are already in place)."""
    signal.pthread_sigmask(signal.SIG_SETMASK, [])
    try:
        os.execvp(argv[0], argv)
    except OSError as err:
        print(f"ksweep: cannot start {argv[0]}: {err.strerror}", file=sys.stderr, flush=True)
        os._exit(127)


def _redirect_output(log: str, append: bool) -> None:
    flags = os.O_WRONLY | os.O_CREAT | (os.O_APPEND if append else os.O_TRUNC)
    fd = os.open(log, flags, 0o644)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)
    sys.stdout = io.TextIOWrapper(io.FileIO(1, "w", closefd=False), line_buffering=True)
    sys.stderr = io.TextIOWrapper(io.FileIO(2, "w", closefd=False), line_buffering=True)


if __name__ == "__main__":
    main()
