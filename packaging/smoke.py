"""Smoke-test the built bundle on this operating system (Linux, Windows or macOS): what CI runs after the build.

    python packaging/smoke.py [--dist DIST] [--screenshot PNG] [--window-seconds S] [--only CHECK ...]

Each check prints one line; the first that fails prints the program's output and the script exits 1:

    version    ``gpt2q --version`` prints the version in pyproject.toml
    self-test  ``gpt2q-desktop --self-test`` (offscreen) says "self-test OK" and exits 0
    window     the window on the platform's own Qt plugin (xcb under Xvfb on Linux, windows, cocoa) stays up S
               seconds, then closes cleanly; on Linux a screenshot (xwd) must show it painted
    quantize   ``gpt2q quantize --runtime both`` into a data folder whose path has spaces and non-ASCII letters
    cp1252     ``gpt2q eval`` and ``gpt2q compare`` into a pipe whose encoding is cp1252, as Windows' pipes are
               (macOS: ISO 8859-1), exit 0 with readable text

Every program runs as a fresh user: its own data folder (cache, history, logs, settings) in a temporary folder.
Linux needs Xvfb, xwd and xwininfo for the window (``apt-get install -y xvfb x11-apps x11-utils``) and
glibc's locale sources for the cp1252 pipe (``locales``).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from platforms import APP, Bundle, bundle  # noqa: E402

del sys.path[0]

ROOT = Path(__file__).resolve().parents[1]
ODD_FOLDER = "gpt2q data é ü Δ"
"""The data folder of the quantize check: spaces, Latin letters outside ASCII, a Greek one outside cp1252."""
STARTUP_SECONDS = 120


class SmokeFailure(Exception):
    """A check failed: the message, then what the program printed."""

    def __init__(self, message: str, output: str = "") -> None:
        super().__init__(message)
        self.output = output


def project_version() -> str:
    match = re.search(r'(?m)^version\s*=\s*"([^"]+)"', (ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    if not match:
        raise SmokeFailure("no version in pyproject.toml")
    return match.group(1)


def fresh_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment for a program run as a fresh user of *data_dir*, on the real Qt plugin
    unless *extra* sets ``QT_QPA_PLATFORM``."""
    env = {k: v for k, v in os.environ.items() if k not in ("QT_QPA_PLATFORM", "PYTHONIOENCODING", "PYTHONUTF8")}
    env.update(GPT2Q_DATA_DIR=str(data_dir), **extra)
    return env


def run(argv: Sequence[str | Path], env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess:
    """*argv* with its output captured as bytes (a windowed Windows program has no console to print to)."""
    try:
        return subprocess.run([str(a) for a in argv], env=env, capture_output=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SmokeFailure(f"{Path(str(argv[0])).name} did not finish within {timeout:.0f} s") from exc


def text(raw: bytes | None, encoding: str = "utf-8") -> str:
    return (raw or b"").decode(encoding, "replace")


def expect_success(proc: subprocess.CompletedProcess, what: str, encoding: str = "utf-8") -> str:
    """*proc*'s stdout, or SmokeFailure if it failed or printed a traceback."""
    out, err = text(proc.stdout, encoding), text(proc.stderr, encoding)
    if proc.returncode != 0 or "Traceback (most recent call last)" in out + err:
        raise SmokeFailure(f"{what} exited {proc.returncode}", out + err)
    return out


# -- the checks ------------------------------------------------------------------------------------------------


def check_version(programs: Bundle, scratch: Path) -> str:
    out = expect_success(run([programs.cli, "--version"], fresh_env(scratch / "version"), 120), "gpt2q --version")
    expected = f"gpt2q {project_version()}"
    if out.strip() != expected:
        raise SmokeFailure(f"gpt2q --version printed {out.strip()!r}, not {expected!r}", out)
    return out.strip()


def check_self_test(programs: Bundle, scratch: Path) -> str:
    env = fresh_env(scratch / "self-test", QT_QPA_PLATFORM="offscreen")
    out = expect_success(run([programs.window, "--self-test"], env, 900), f"{APP} --self-test")
    verdict = [line for line in out.splitlines() if line.startswith("self-test ")]
    if not verdict or not verdict[-1].startswith("self-test OK"):
        raise SmokeFailure("the self-test gave no OK verdict", out)
    return verdict[-1]


def check_quantize(programs: Bundle, scratch: Path) -> str:
    data = scratch / ODD_FOLDER
    proc = run([programs.cli, "quantize", "--runtime", "both", "--json"], fresh_env(data), 900)
    out = expect_success(proc, "gpt2q quantize --runtime both")
    try:
        rows = json.loads(out)
    except ValueError as exc:
        raise SmokeFailure(f"gpt2q quantize --json printed no JSON: {exc}", out) from exc
    for row in rows:
        entry = Path(row["cache_dir"])
        if data.resolve() not in entry.resolve().parents or not any(entry.iterdir()):
            raise SmokeFailure(f"the {row['runtime']} cache entry {entry} is not a folder with files in {data}", out)
        if row["layers_quantized"] != row["layers_eligible"]:
            raise SmokeFailure(f"{row['runtime']}: {row['layers_quantized']}/{row['layers_eligible']} INT8", out)
    return f"{len(rows)} INT8 models cached under {data}"


def non_utf8_pipe(scratch: Path) -> tuple[dict[str, str], str]:
    """The environment variables that make a program's pipes cp1252 (or the nearest the system has), and that
    encoding. A frozen program ignores ``PYTHONIOENCODING``: the locale decides.

    * Windows: nothing; a pipe has the ANSI code page, cp1252 on a Western PC (and on CI's runners).
    * Linux: a cp1252 locale compiled into *scratch* (``localedef``, glibc's charmaps: Debian's ``locales``).
    * macOS: ISO 8859-1, the nearest of its locales (no ``␣``, ``Δ`` or ``→`` either).
    """
    if sys.platform == "win32":
        return {}, "cp1252"
    if sys.platform == "darwin":
        return {"LC_ALL": "en_US.ISO8859-1", "LANG": "en_US.ISO8859-1"}, "latin-1"
    locales = scratch / "locales"
    locales.mkdir(exist_ok=True)
    made = subprocess.run(
        ["localedef", "-i", "en_US", "-f", "CP1252", str(locales / "en_US.CP1252")], capture_output=True, text=True
    ) if shutil.which("localedef") else None  # fmt: skip
    if made is None or not (locales / "en_US.CP1252").exists():
        why = made.stderr.strip() if made else "no localedef"
        raise SmokeFailure(f"cannot make a cp1252 locale ({why}): apt-get install -y locales")
    return {"LOCPATH": str(locales), "LC_ALL": "en_US.CP1252", "LANG": "en_US.CP1252"}, "cp1252"


def check_cp1252(programs: Bundle, scratch: Path) -> str:
    pipe, encoding = non_utf8_pipe(scratch)
    env = fresh_env(scratch / ODD_FOLDER, **pipe)
    said = []
    for argv, expected in (
        (["eval", "--max-tokens", "200"], "perplexity FP32"),
        (["compare", "--prompt", "I am", "--repeats", "3"], "top-1 agreement"),
    ):
        what = f"gpt2q {' '.join(argv)} | ({encoding})"
        out = expect_success(run([programs.cli, *argv], env, 900), what, encoding=encoding)
        if expected not in out:
            raise SmokeFailure(f"{what} printed no {expected!r}", out)
        said.append(next(line for line in out.splitlines() if expected in line))
    return f"{encoding}: " + "; ".join(said)


def check_window(programs: Bundle, scratch: Path, seconds: float, screenshot: Path) -> str:
    if sys.platform.startswith("linux") and not os.environ.get("GPT2Q_SMOKE_IN_XVFB"):
        return window_under_xvfb(seconds, screenshot, programs)
    data = scratch / "window"
    env = fresh_env(data, GPT2Q_QUIT_AFTER_MS=str(int(seconds * 1000)))
    start = time.monotonic()
    proc = subprocess.Popen([str(programs.window)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        painted = screenshot_x11(proc, seconds, screenshot) if os.environ.get("GPT2Q_SMOKE_IN_XVFB") else ""
        out, _ = proc.communicate(timeout=STARTUP_SECONDS + seconds)
    except subprocess.TimeoutExpired as exc:
        proc.kill()
        output = text(proc.communicate()[0])
        raise SmokeFailure(f"the window did not close {seconds:.0f} s after it opened", output) from exc
    except SmokeFailure as exc:
        proc.kill()
        exc.output += text(proc.communicate()[0])
        raise
    elapsed = time.monotonic() - start
    output = text(out) + log_text(data)
    if proc.returncode != 0 or "Traceback (most recent call last)" in output:
        raise SmokeFailure(f"the window exited {proc.returncode} after {elapsed:.1f} s", output)
    if elapsed < seconds:
        raise SmokeFailure(f"the window closed after {elapsed:.1f} s, before its {seconds:.0f} s were up", output)
    return f"up {elapsed:.1f} s, closed cleanly" + (f"; {painted}" if painted else "")


def log_text(data_dir: Path) -> str:
    log = data_dir / "logs" / "gpt2q.log"
    return log.read_text(encoding="utf-8", errors="replace") if log.is_file() else ""


def window_under_xvfb(seconds: float, screenshot: Path, programs: Bundle) -> str:
    """Linux: this script's window check again, inside a virtual X server with a 24-bit screen."""
    missing = [tool for tool in ("Xvfb", "xwd", "xwininfo") if shutil.which(tool) is None]
    if missing:
        raise SmokeFailure(f"{', '.join(missing)} missing: apt-get install -y xvfb x11-apps x11-utils")
    argv = [sys.executable, __file__, "--only", "window", "--window-seconds", str(seconds)]
    argv += ["--screenshot", str(screenshot), "--dist", str(programs.root.parent)]
    with virtual_screen() as display:
        proc = run(argv, dict(os.environ, DISPLAY=display, GPT2Q_SMOKE_IN_XVFB="1"), STARTUP_SECONDS + seconds + 60)
    out = text(proc.stdout) + text(proc.stderr)
    if proc.returncode != 0:
        raise SmokeFailure("the window under Xvfb failed", out)
    return re.sub(r"^smoke: window: OK \((.*)\) in \d+ s$", r"\1", out.strip().splitlines()[-1])


@contextmanager
def virtual_screen() -> Iterator[str]:
    """A virtual X server (1280x900, 24-bit) for the block; its display name, given once it accepts connections:
    Xvfb writes its display number to ``-displayfd`` only then (``xvfb-run -a`` once let Qt in before the server
    was up: "could not connect to display :99")."""
    argv = ["Xvfb", "-displayfd", "1", "-screen", "0", "1280x900x24", "-nolisten", "tcp"]
    with tempfile.TemporaryFile() as said, subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=said) as server:
        try:
            assert server.stdout is not None
            ready = select.select([server.stdout], [], [], STARTUP_SECONDS)[0]
            number = server.stdout.readline().decode().strip() if ready else ""
            if not number.isdigit():
                server.kill()
                server.wait()
                said.seek(0)
                raise SmokeFailure("Xvfb did not start", text(said.read()))
            yield f":{number}"
        finally:
            server.terminate()


def screenshot_x11(proc: subprocess.Popen, seconds: float, png: Path) -> str:
    """Wait for the main window (WM_CLASS ``gpt2q-desktop``, larger than Qt's helper windows), let it settle,
    dump the screen and check that it painted (packaging/xwd_to_png.py)."""
    deadline = time.monotonic() + STARTUP_SECONDS
    geometry = None
    while geometry is None:
        if proc.poll() is not None:
            raise SmokeFailure(f"the program exited ({proc.returncode}) before showing its window")
        if time.monotonic() > deadline:
            raise SmokeFailure(f"no window appeared within {STARTUP_SECONDS} s")
        tree = subprocess.run(["xwininfo", "-root", "-tree"], capture_output=True, text=True).stdout
        sizes = re.findall(rf'\("{APP}" "{APP}"\)\s+(\d+)x(\d+)\+', tree)
        geometry = next((f"{w}x{h}" for w, h in sizes if int(w) >= 400 and int(h) >= 300), None)
        time.sleep(0.5)
    time.sleep(min(5.0, seconds / 2))  # let the controller open the checkpoint and the window settle
    if proc.poll() is not None:
        raise SmokeFailure("the program died after showing its window")
    dump = png.with_suffix(".xwd")
    png.parent.mkdir(parents=True, exist_ok=True)
    with dump.open("wb") as out:
        subprocess.run(["xwd", "-root", "-silent"], stdout=out, check=True)
    check = run([sys.executable, ROOT / "packaging" / "xwd_to_png.py", dump, png], dict(os.environ), 120)
    dump.unlink()
    if check.returncode != 0:
        raise SmokeFailure("the window did not paint", text(check.stdout) + text(check.stderr))
    return f"window {geometry} painted, screenshot {png}"


CHECKS: dict[str, Callable[..., str]] = {
    "version": check_version,
    "self-test": check_self_test,
    "window": check_window,
    "quantize": check_quantize,
    "cp1252": check_cp1252,  # after quantize: the same data folder, its cache
}


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dist", type=Path, default=ROOT / "dist", help="where the build put the bundle")
    parser.add_argument("--screenshot", type=Path, default=ROOT / "build" / "bundle-window.png")
    parser.add_argument("--window-seconds", type=float, default=12.0, help="how long the window stays up")
    parser.add_argument("--only", nargs="+", choices=list(CHECKS), help="run these checks only")
    args = parser.parse_args(argv)
    programs = bundle(args.dist)
    for program in (programs.window, programs.cli):
        if not os.access(program, os.X_OK):
            print(f"smoke: no program at {program}; build the bundle first (packaging/build.py)", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="gpt2q-smoke-") as scratch:
        for name in args.only or list(CHECKS):
            start = time.monotonic()
            extra = (args.window_seconds, args.screenshot) if name == "window" else ()
            try:
                said = CHECKS[name](programs, Path(scratch), *extra)
            except SmokeFailure as exc:
                print(f"smoke: {name}: FAILED: {exc}", file=sys.stderr)
                if exc.output:
                    print(f"--- what it printed ---\n{exc.output.rstrip()}", file=sys.stderr)
                return 1
            print(f"smoke: {name}: OK ({said}) in {time.monotonic() - start:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
