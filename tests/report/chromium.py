"""Headless Chromium for the report tests, driven over the DevTools protocol on a pipe (`--remote-debugging-pipe`:
JSON messages ended by a NUL byte, commands on the browser's file descriptor 3, replies and events on 4), so no
websocket or browser-automation package is needed.

`load(path)` opens a page and returns what a reader's browser would have done with it: every request it made
other than for the page itself and `data:` URIs, every JavaScript error (uncaught exceptions, console errors,
browser log errors), and every image that did not decode; optionally a full-page screenshot."""

import base64
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

CHROMIUM = next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--no-first-run",
    "--remote-debugging-pipe",
)
BROKEN_IMAGES = (
    "Array.from(document.images).filter(i => !i.complete || i.naturalWidth === 0).map(i => i.alt || i.src)"
)


@dataclass
class PageLoad:
    requests: list[str] = field(default_factory=list)  # URLs other than the page and data: URIs
    errors: list[str] = field(default_factory=list)  # JavaScript exceptions, console and log errors
    broken_images: list[str] = field(default_factory=list)
    images: int = 0
    title: str = ""


class Browser:
    def __init__(self, timeout: float = 60.0):
        if CHROMIUM is None:
            raise RuntimeError("chromium is not installed")
        self.timeout, self._next_id, self._buffer, self.events = timeout, 0, b"", []
        self._profile = tempfile.mkdtemp(prefix="retlab-chromium-")
        commands_r, self._commands = os.pipe()
        self._replies, replies_w = os.pipe()

        def on_fds_3_and_4():  # in the child, before exec: the pipe ends where Chromium expects them
            os.dup2(commands_r, 3)
            os.dup2(replies_w, 4)

        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self._profile}", "about:blank"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            preexec_fn=on_fds_3_and_4,
            pass_fds=(3, 4),
        )
        os.close(commands_r)
        os.close(replies_w)

    def close(self) -> None:
        try:
            self.send("Browser.close")
        except (OSError, RuntimeError, TimeoutError):
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for fd in (self._commands, self._replies):
            os.close(fd)
        shutil.rmtree(self._profile, ignore_errors=True)

    def __enter__(self) -> "Browser":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------------------------------------ protocol

    def send(self, method: str, session: str | None = None, **params) -> dict:
        """Send a command and wait for its reply (events that arrive meanwhile are kept in `events`)."""
        self._next_id += 1
        message = {"id": self._next_id, "method": method, "params": params}
        if session:
            message["sessionId"] = session
        os.write(self._commands, json.dumps(message).encode() + b"\0")
        reply = self._wait(lambda m: m.get("id") == self._next_id)
        if "error" in reply:
            raise RuntimeError(f"{method}: {reply['error']}")
        return reply.get("result", {})

    def wait_event(self, method: str) -> dict:
        seen = next((e for e in self.events if e.get("method") == method), None)
        return seen or self._wait(lambda m: m.get("method") == method)

    def _wait(self, done) -> dict:
        deadline = time.monotonic() + self.timeout
        while True:
            while b"\0" in self._buffer:
                raw, self._buffer = self._buffer.split(b"\0", 1)
                message = json.loads(raw)
                if "method" in message:
                    self.events.append(message)
                if done(message):
                    return message
            left = deadline - time.monotonic()
            if left <= 0 or self.proc.poll() is not None:
                raise TimeoutError("chromium did not answer")
            if select.select([self._replies], [], [], left)[0]:
                chunk = os.read(self._replies, 1 << 20)
                if not chunk:
                    raise RuntimeError("chromium closed its pipe")
                self._buffer += chunk

    # ------------------------------------------------------------------------------------------------ pages

    def load(self, path: Path, screenshot: Path | None = None, width: int = 1200) -> PageLoad:
        url = Path(path).resolve().as_uri()
        target = self.send("Target.createTarget", url="about:blank")["targetId"]
        session = self.send("Target.attachToTarget", targetId=target, flatten=True)["sessionId"]
        for domain in ("Page", "Network", "Runtime", "Log"):
            self.send(f"{domain}.enable", session)
        # Recorded before they are blocked: nothing the page asks for leaves this machine.
        self.send(
            "Network.setBlockedURLs", session, urls=["http://*", "https://*", "ws://*", "wss://*", "ftp://*"]
        )
        self.events.clear()
        self.send("Page.navigate", session, url=url)
        self.wait_event("Page.loadEventFired")
        result = PageLoad()
        broken = self.send("Runtime.evaluate", session, expression=BROKEN_IMAGES, returnByValue=True)
        result.broken_images = broken["result"]["value"]
        count = self.send(
            "Runtime.evaluate", session, expression="document.images.length", returnByValue=True
        )
        result.images = count["result"]["value"]
        result.title = self.send(
            "Runtime.evaluate", session, expression="document.title", returnByValue=True
        )["result"]["value"]
        if screenshot is not None:
            size = self.send("Page.getLayoutMetrics", session)["cssContentSize"]
            self.send(
                "Emulation.setDeviceMetricsOverride",
                session,
                width=width,
                height=int(size["height"]),
                deviceScaleFactor=1,
                mobile=False,
            )
            data = self.send("Page.captureScreenshot", session, format="png", captureBeyondViewport=True)[
                "data"
            ]
            Path(screenshot).write_bytes(base64.b64decode(data))
        for event in self.events:
            method, params = event["method"], event.get("params", {})
            if method == "Network.requestWillBeSent":
                requested = params["request"]["url"]
                if requested != url and not requested.startswith("data:"):
                    result.requests.append(requested)
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                result.errors.append(
                    details.get("exception", {}).get("description") or details.get("text", "")
                )
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                result.errors.append(
                    " ".join(str(a.get("value", a.get("description"))) for a in params["args"])
                )
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                result.errors.append(params["entry"].get("text", ""))
        self.send("Target.closeTarget", targetId=target)
        return result
