"""Opening an HTML file in a real headless Chromium, driven over the DevTools protocol:
the console errors and exceptions it reported, the images it could not decode, every
request that left the machine, the time to the load event, and a screenshot.

Chromium runs in its own process group with a throw-away profile and dies with tinycnn
(``processes.spawn``); every wait is bounded.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from tinycnn.errors import TinycnnError
from tinycnn.processes import spawn, stop, work_dir

BROWSERS = ("chromium", "chromium-browser", "google-chrome")
START_TIMEOUT_S = 30.0
LOAD_TIMEOUT_S = 60.0
IMAGES_SCRIPT = (
    "JSON.stringify(Array.from(document.images).map("
    "i => [(i.getAttribute('src') || '').slice(0, 60), i.complete, i.naturalWidth]))"
)
LOAD_SCRIPT = "performance.getEntriesByType('navigation')[0].loadEventEnd"


class BrowserError(TinycnnError):
    """No browser, or the browser did not start or load the page in time."""


def find_browser() -> str | None:
    """The path of a Chromium-family browser, or None (install Debian's `chromium`)."""
    for name in BROWSERS:
        path = shutil.which(name)
        if path:
            return path
    return None


@dataclass
class PageCheck:
    url: str
    console_errors: list[str] = field(default_factory=list)  # console.error, exceptions, logs
    broken_images: list[str] = field(default_factory=list)  # src of images with no width
    images: int = 0
    outside_requests: list[str] = field(default_factory=list)  # anything but file: and data:
    load_ms: float = 0.0  # navigation start to the end of the load event
    screenshot: Path | None = None

    @property
    def clean(self) -> bool:
        return not (self.console_errors or self.broken_images or self.outside_requests)

    def describe(self) -> str:
        return (
            f"chromium: loaded in {self.load_ms:.0f} ms, {self.images} images, "
            f"{len(self.broken_images)} broken, {len(self.console_errors)} console errors; "
            f"screenshot {self.screenshot}"
        )

    def check_clean(self) -> None:
        """BrowserError naming what went wrong when the page did not render cleanly."""
        if not self.clean:
            problems = self.console_errors + self.broken_images + self.outside_requests
            raise BrowserError("the page did not render cleanly: " + "; ".join(problems)[:500])


class _DevTools:
    """One page's DevTools websocket: commands with ids, events kept as they arrive."""

    def __init__(self, url: str):
        import websocket

        self.socket = websocket.create_connection(url, timeout=LOAD_TIMEOUT_S, suppress_origin=True)
        self.next_id = 0
        self.events: list[dict] = []

    def call(self, method: str, **params) -> dict:
        self.next_id += 1
        self.socket.send(json.dumps({"id": self.next_id, "method": method, "params": params}))
        deadline = time.monotonic() + LOAD_TIMEOUT_S
        while time.monotonic() < deadline:
            message = json.loads(self.socket.recv())
            if message.get("id") == self.next_id:
                if "error" in message:
                    raise BrowserError(f"{method}: {message['error'].get('message')}")
                return message.get("result", {})
            self.events.append(message)
        raise BrowserError(f"{method}: no answer within {LOAD_TIMEOUT_S:.0f} s")

    def wait_for(self, method: str, timeout_s: float) -> None:
        if any(e.get("method") == method for e in self.events):
            return
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            self.socket.settimeout(max(0.1, deadline - time.monotonic()))
            message = json.loads(self.socket.recv())
            self.events.append(message)
            if message.get("method") == method:
                return
        raise BrowserError(f"the page did not finish loading within {timeout_s:.0f} s")

    def close(self) -> None:
        self.socket.close()


def _page_socket(profile: Path, process) -> str:
    """The websocket URL of the page Chromium opened, once it is listening."""
    port_file = profile / "DevToolsActivePort"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrowserError(f"the browser exited at start (status {process.returncode})")
        if port_file.is_file() and port_file.read_text().count("\n") >= 1:
            port = port_file.read_text().split("\n")[0].strip()
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    pages = [t for t in json.load(r) if t.get("type") == "page"]
            except OSError:
                pages = []
            if pages:
                return pages[0]["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise BrowserError(f"the browser did not open its DevTools port within {START_TIMEOUT_S:.0f} s")


def _event_errors(events: list[dict]) -> tuple[list[str], list[str]]:
    errors, outside = [], []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append(
                " ".join(
                    str(a.get("value", a.get("description", ""))) for a in params.get("args", [])
                )
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            errors.append(
                details.get("exception", {}).get("description") or details.get("text", "")
            )
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            errors.append(params["entry"].get("text", ""))
        elif method == "Network.requestWillBeSent":
            url = params.get("request", {}).get("url", "")
            if not url.startswith(("file:", "data:")):
                outside.append(url)
    return errors, outside


def check_page(
    html_path: str | Path,
    screenshot: str | Path | None = None,
    *,
    width: int = 1200,
    height: int = 900,
    full_page: bool = False,
) -> PageCheck:
    """Load ``html_path`` in headless Chromium and report what the browser saw; with
    ``screenshot``, save a PNG of the first ``width`` x ``height`` pixels (the whole page
    with ``full_page``)."""
    browser = find_browser()
    if browser is None:
        raise BrowserError("no Chromium found; install Debian's `chromium` (scripts/setup.sh does)")
    url = Path(html_path).resolve().as_uri()
    with work_dir() as profile:  # tinycnn-PID-*: swept if this process is killed
        command = [
            browser,
            "--headless=new",
            "--disable-gpu",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-extensions",
            "--remote-debugging-port=0",
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            "about:blank",
        ]
        if os.geteuid() == 0:
            command.insert(1, "--no-sandbox")  # Chromium refuses to run as root otherwise
        process = spawn(command, stdout=open(os.devnull, "wb"), stderr=open(os.devnull, "wb"))
        try:
            page = _DevTools(_page_socket(Path(profile), process))
            try:
                return _load(page, url, screenshot, width, height, full_page)
            finally:
                page.close()
        finally:
            stop(process)


def _load(page: _DevTools, url: str, screenshot, width: int, height: int, full_page: bool):
    for domain in ("Runtime", "Log", "Page", "Network"):
        page.call(f"{domain}.enable")
    page.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=False,
    )
    page.call("Page.navigate", url=url)
    page.wait_for("Page.loadEventFired", LOAD_TIMEOUT_S)
    images = json.loads(
        page.call("Runtime.evaluate", expression=IMAGES_SCRIPT, returnByValue=True)["result"][
            "value"
        ]
    )
    load_ms = page.call("Runtime.evaluate", expression=LOAD_SCRIPT, returnByValue=True)
    errors, outside = _event_errors(page.events)
    check = PageCheck(
        url=url,
        console_errors=errors,
        broken_images=[src for src, complete, natural in images if not complete or natural <= 0],
        images=len(images),
        outside_requests=outside,
        load_ms=float(load_ms["result"].get("value") or 0.0),
    )
    if screenshot is not None:
        clip = {"x": 0, "y": 0, "width": width, "height": height, "scale": 1}
        if full_page:
            size = page.call("Page.getLayoutMetrics")["cssContentSize"]
            clip.update(height=size["height"])
        data = page.call(
            "Page.captureScreenshot", format="png", clip=clip, captureBeyondViewport=full_page
        )["data"]
        from tinycnn.outputs import write_atomically

        write_atomically(screenshot, base64.b64decode(data))
        check.screenshot = Path(screenshot)
    return check
