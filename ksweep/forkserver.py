"""The warm fork server behind ksweep.launch.ForkServerLauncher (run as `python -m ksweep.forkserver`).

It imports the built-in trainer (and so torch) once, trains a tiny step on the CPU
with one thread so every lazy import is done and no OpenMP pool exists yet, then
answers JSON lines on stdin:

    {"op": "run", "config": .., "output_dir": .., "log": .., "env": {..}, "append_log": .., "cwd": ..}

by forking a child that starts its own session, sends its output to the log and calls
the trainer's CLI; replies on stdout are {"op": "ready"}, {"op": "started", "pid": ..}
and {"op": "exited", "pid": .., "code": ..} (negative: killed by that signal). When
stdin closes (the runner is gone) it kills the runs it still has and exits.

This is the only place in ksweep/ that imports the trainer; nothing in the runner
process imports torch.
"""

from __future__ import annotations

import gc
import io
import json
import os
import select
import signal
import sys
import traceback

from ksweep.launch import die_with_parent, kill_group


def main() -> None:
    # Ctrl-C and a TERM sent to the whole process group are the runner's to handle: it
    # stops the runs, settles their status, then closes our stdin.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    requests, replies = os.dup(0), os.dup(1)
    os.dup2(2, 1)  # stray prints of the trainer's imports must not corrupt the reply channel
    # One thread while warming up: an OpenMP pool started before fork() hangs the children
    # that use it. Each child sets its own thread count (KSWEEP_THREADS).
    inherited_omp = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    from models import train

    _restore_env("OMP_NUM_THREADS", inherited_omp)

    train.warmup()
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)
    gc.freeze()  # children must not copy-on-write the server's heap by collecting it
    server = Server(train, requests, replies, (wake_r, wake_w))
    server.reply({"op": "ready"})
    server.serve()


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
            pid, code = map(int, line.split())
            if pid in self.children and pid not in self.reported:
                self.reported.add(pid)
                self.reply({"op": "exited", "pid": pid, "code": code})

    def reap(self) -> None:
        while self.children or self.spare:
            pid, status = os.waitpid(-1, os.WNOHANG)
            if pid == 0:
                return
            if self.spare and pid == self.spare[0]:
                os.close(self.spare[1])
                self.spare = None  # died idle; the next request forks a new one
                continue
            self.children.discard(pid)
            if pid in self.reported:
                self.reported.discard(pid)
            else:
                self.reply({"op": "exited", "pid": pid, "code": exit_code(status)})

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
            code = self.train.main(["--config", request["config"], "--output-dir", request["output_dir"]])
        except SystemExit as exit:
            code = exit.code if isinstance(exit.code, int) else 1
        except BaseException:
            traceback.print_exc()
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
        code = code or 0
        os.write(self.done[1], f"{os.getpid()} {code}\n".encode())
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
        if self.spare:
            os.close(self.spare[1])


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
