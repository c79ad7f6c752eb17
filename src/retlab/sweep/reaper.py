"""The local Ray a sweep starts dies with the sweep's driver, however the driver ends (even `kill -9`).

Ray's head processes share the driver's fate, but its agents and trial workers can outlive it and keep training
for nobody. So before starting Ray the driver starts this reaper: a small separate process (in its own session, so
a Ctrl-C or a kill aimed at the driver's process group does not reach it) that notes the driver's descendants a few
times a second and blocks on a pipe only the driver holds. When the pipe closes, because the driver exited or
died, the reaper kills every noted process that started after it and still runs (and their children), and every
process still carrying the token the driver put in its environment (which catches one started between two looks,
unless it renamed itself). It runs as a plain script (`python reaper.py`): it starts without importing retlab."""

import os
import select
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

TOKEN_VAR = "RETLAB_SWEEP_REAPER_TOKEN"


class Reaper:
    """Start with `start()` before `ray.init`; `stop()` after `ray.shutdown` kills any stragglers."""

    def __init__(self):
        self.token = uuid.uuid4().hex
        self._write_fd: int | None = None
        self._proc: subprocess.Popen | None = None
        self._old_token: str | None = None

    def start(self) -> "Reaper":
        read_fd, self._write_fd = os.pipe()  # both ends close-on-exec: no process Ray starts inherits them
        self._proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), str(os.getpid()), str(read_fd), self.token],
            pass_fds=(read_fd,),
            start_new_session=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        os.close(read_fd)
        self._old_token = os.environ.get(TOKEN_VAR)
        os.environ[TOKEN_VAR] = self.token  # inherited by everything started from now on
        return self

    def stop(self) -> None:
        if self._old_token is None:
            os.environ.pop(TOKEN_VAR, None)
        else:
            os.environ[TOKEN_VAR] = self._old_token
        if self._write_fd is not None:
            os.close(self._write_fd)  # the same signal a dead driver gives
            self._write_fd = None
        if self._proc is not None:
            self._proc.wait(timeout=30)


def marked(token: str) -> set[int]:
    """Processes whose environment carries `token` (Linux /proc)."""
    needle = f"{TOKEN_VAR}={token}".encode()
    found = set()
    for entry in os.listdir("/proc") if os.path.isdir("/proc") else []:
        try:
            with open(f"/proc/{entry}/environ", "rb") as f:
                if entry.isdigit() and needle in f.read().split(b"\0"):
                    found.add(int(entry))
        except OSError:  # gone, or not ours
            continue
    return found


def reap(driver_pid: int, read_fd: int, token: str, every_s: float = 0.25) -> None:
    import psutil

    seen: dict[int, float] = {}  # pid -> create time (a recycled pid is not the process we saw)
    me, started = os.getpid(), time.time() - 1.0  # the driver's children from before the sweep are not its

    try:
        driver = psutil.Process(driver_pid)
    except psutil.NoSuchProcess:
        driver = None
    while True:
        if driver is not None:
            try:
                found = {c.pid: c.create_time() for c in driver.children(recursive=True) if c.pid != me}
                seen |= {pid: t for pid, t in found.items() if t >= started}
            except psutil.Error:
                pass
        ready, _, _ = select.select([read_fd], [], [], every_s)
        if ready and not os.read(read_fd, 1):  # b"": the driver's end closed, by exit or by death
            break
    for _ in range(5):  # processes that were starting while we looked are caught on the next pass
        victims = []
        for pid in set(seen) | marked(token):
            try:
                p = psutil.Process(pid)
                if pid in (me, driver_pid) or (pid in seen and p.create_time() != seen[pid]):
                    continue
                victims += [p, *p.children(recursive=True)]
            except psutil.Error:
                continue
        victims = [p for p in victims if p.pid not in (me, driver_pid) and p.is_running()]
        victims = [p for p in victims if p.status() != psutil.STATUS_ZOMBIE]
        if not victims:
            return
        for p in victims:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.Error:
                pass
        time.sleep(0.2)


if __name__ == "__main__":
    reap(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
