"""Open an hmrflow HTML viewer in headless Chromium: no console errors, a canvas that is not blank.

Drives Debian's `chromium` (`apt-get update && apt-get install -y chromium`) through the
DevTools protocol over a pipe (`--remote-debugging-pipe`: standard library only, no
network, a fresh --user-data-dir), loads the page, lets it draw for a moment, then:

* fails on any console error, uncaught exception or failed resource load;
* fails if the page says WebGL is missing;
* takes a screenshot and fails if the canvas is blank (pixel standard deviation under
  --min-std grey levels, or fewer than 2 % of its pixels differing from the background).

    .venv/bin/python scripts/check_viewer.py outputs/demo/cam02_f089/person0/viewer.html \
        --screenshot viewer.png

Exit status 0 when every check passes; the figures are printed either way.
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    # WebGL without a GPU: SwiftShader through ANGLE (Chromium asks for this opt-in).
    "--use-angle=swiftshader",
    "--enable-unsafe-swiftshader",
    "--remote-debugging-pipe",
]


class DevTools:
    """The DevTools protocol over Chromium's pipe (fd 3: commands in, fd 4: messages out)."""

    def __init__(self, chromium: str, profile: str, size: tuple[int, int]):
        to_child_r, self._write = os.pipe()
        self._read, from_child_w = os.pipe()

        def wire() -> None:  # in the child: the pipe ends at fds 3 and 4
            a, b = os.dup(to_child_r), os.dup(from_child_w)
            os.dup2(a, 3)
            os.dup2(b, 4)

        args = [chromium, *FLAGS, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}", "about:blank"]
        # close_fds=False: fds 3 and 4 are made in preexec_fn (after which Popen would close
        # them); every other pipe end is close-on-exec.
        self.process = subprocess.Popen(args, close_fds=False, preexec_fn=wire,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        os.close(to_child_r)
        os.close(from_child_w)
        self._buffer = b""
        self._next = 0
        self.events: list[dict] = []

    def _message(self, timeout: float) -> dict | None:
        import select

        while b"\0" not in self._buffer:
            ready, _, _ = select.select([self._read], [], [], timeout)
            if not ready:
                return None
            chunk = os.read(self._read, 1 << 20)
            if not chunk:
                raise RuntimeError("chromium closed the DevTools pipe")
            self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        return json.loads(raw)

    def send(self, method: str, params: dict | None = None, session: str | None = None, timeout: float = 30.0) -> dict:
        self._next += 1
        message: dict = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._write, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            answer = self._message(deadline - time.monotonic())
            if answer is None:
                break
            if answer.get("id") == self._next:
                if "error" in answer:
                    raise RuntimeError(f"{method}: {answer['error']}")
                return answer.get("result", {})
            self.events.append(answer)
        raise TimeoutError(f"no answer to {method}")

    def page_session(self, size: tuple[int, int]) -> str:
        """A new blank page of ``size`` (W, H) px with its events on; its session id."""
        target = self.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Page", "Network"):
            self.send(f"{domain}.enable", session=session)
        self.send("Emulation.setDeviceMetricsOverride",
                  {"width": size[0], "height": size[1], "deviceScaleFactor": 1, "mobile": False}, session)  # fmt: skip
        return session

    def wait(self, seconds: float) -> None:
        """Collect events for ``seconds``."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            event = self._message(left)
            if event is not None:
                self.events.append(event)

    def close(self) -> None:
        try:
            self.send("Browser.close", timeout=5)
        except (RuntimeError, TimeoutError, OSError):
            pass
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        os.close(self._write)
        os.close(self._read)


def problems(events: list[dict]) -> list[str]:
    """Console errors, exceptions and failed loads among the DevTools events."""
    found = []
    for event in events:
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append(
                "console.error: "
                + " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))
            )
        elif method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append("exception: " + str(details.get("exception", {}).get("description", details.get("text"))))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            found.append("log error: " + params["entry"].get("text", ""))
        elif method == "Network.loadingFailed":
            found.append("failed load: " + params.get("errorText", ""))
    return found


def canvas_figures(png: bytes) -> tuple[float, float]:
    """Standard deviation of the grey levels and the fraction of pixels unlike the corner."""
    import numpy as np
    from PIL import Image

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=np.float32)
    background = image[-2, -2]
    differs = np.abs(image - background).max(-1) > 12
    return float(image.mean(-1).std()), float(differs.mean())


def check(
    page: Path, screenshot: Path | None, chromium: str, size: tuple[int, int], settle: float, min_std: float
) -> int:
    profile = tempfile.mkdtemp(prefix="hmrflow-chromium-")
    tools = DevTools(chromium, profile, size)
    try:
        session = tools.page_session(size)
        start = time.monotonic()
        tools.send("Page.navigate", {"url": page.resolve().as_uri()}, session)
        tools.wait(settle)
        message = tools.send("Runtime.evaluate", {"expression": "document.getElementById('message') ? "
                             "document.getElementById('message').textContent : ''", "returnByValue": True},
                             session)["result"].get("value", "")  # fmt: skip
        shot = base64.b64decode(tools.send("Page.captureScreenshot", {"format": "png"}, session)["data"])
        elapsed = time.monotonic() - start
    finally:
        tools.close()
        shutil.rmtree(profile, ignore_errors=True)
    std, covered = canvas_figures(shot)
    if screenshot is not None:
        screenshot.write_bytes(shot)
    found = problems(tools.events)
    if message:
        found.append(f"the page says: {message}")
    if std < min_std or covered < 0.02:
        found.append(f"the canvas looks blank (std {std:.1f}, {100 * covered:.1f} % drawn)")
    saved = f"; saved {screenshot}" if screenshot else ""
    print(
        f"{page}: {len(found)} problem(s); screenshot std {std:.1f} grey levels, "
        f"{100 * covered:.1f} % of pixels drawn; {elapsed:.1f} s{saved}"
    )
    for line in found:
        print("  " + line)
    return 1 if found else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("pages", nargs="+", type=Path, help="viewer.html files")
    parser.add_argument("--screenshot", type=Path, help="PNG to save (with several pages: a folder)")
    parser.add_argument("--chromium", default=shutil.which("chromium") or "chromium", help="the browser")
    parser.add_argument("--size", type=int, nargs=2, default=(900, 700), metavar=("W", "H"))
    parser.add_argument("--settle", type=float, default=3.0, help="seconds to let the page draw")
    parser.add_argument("--min-std", type=float, default=4.0, help="blank below this grey-level std")
    args = parser.parse_args()
    if shutil.which(args.chromium) is None and not Path(args.chromium).is_file():
        print("chromium not found: apt-get update && apt-get install -y chromium")
        return 2
    status = 0
    for i, page in enumerate(args.pages):
        shot = args.screenshot
        if shot is not None and len(args.pages) > 1:
            shot.mkdir(parents=True, exist_ok=True)
            shot = shot / f"viewer{i}.png"
        status |= check(page, shot, args.chromium, tuple(args.size), args.settle, args.min_std)
    return status


if __name__ == "__main__":
    sys.exit(main())
