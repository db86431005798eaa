"""``gpt2q-desktop --self-test``: prove, headless, that this install (or frozen bundle) really works.

It loads the bundled demo student (or ``--checkpoint DIR``), quantizes it to INT8 into a throw-away data
directory, reloads the INT8 model from that cache, compares FP32 with INT8 on a few prompts and paints a
Qt widget (the app's icon included) offscreen. One verdict line goes to stdout::

    self-test OK: 17/17 layers INT8, 5/5 prompts agree, INT8 1.9x faster, Qt painted, 4.2 s
    self-test FAILED: <reason>

and the exit code is 0 only when every step worked: every eligible linear is INT8, the cache round
trip gives the same model, both models answered every prompt with a finite distribution, top-1
agreement reached the floor (default 80 % of the prompts) and Qt rendered the widget and the icon.
Details go to stderr. Nothing is written outside the temporary directory.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import sys
import tempfile
import time
import traceback
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_PROMPTS = (
    "It is a truth universally acknowledged, that a single man in possession of a good fortune, must be in want of a",
    "Elizabeth could not help",
    "She was the youngest of the two daughters of a most affectionate, indulgent",
    "I am sure I shall",
    "Once upon a time there was a little girl who lived in a village near the",
)
DEFAULT_MIN_AGREEMENT = 0.8
ICON_NAME = "gpt2q-desktop"


class SelfTestFailure(Exception):
    """A check that did not pass; its message is the verdict's reason."""


@dataclass
class Outcome:
    """What the checks found, for the verdict line."""

    layers: str = ""
    agreement: str = ""
    speed: str = ""
    qt: str = ""
    details: list[str] = field(default_factory=list)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="gpt2q-desktop --self-test",
        description="Headless check of this install: quantize a checkpoint, compare FP32 with INT8, paint Qt offscreen.",
    )
    p.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--checkpoint", metavar="DIR", help="checkpoint folder to test (default: the bundled demo student)")
    p.add_argument(
        "--prompt", action="append", metavar="TEXT", help="a prompt to compare (repeatable; default: 5 built-in prompts)"
    )
    p.add_argument(
        "--min-agreement",
        type=float,
        default=DEFAULT_MIN_AGREEMENT,
        metavar="F",
        help=f"share of prompts whose FP32 and INT8 top-1 token must agree (default {DEFAULT_MIN_AGREEMENT})",
    )
    p.add_argument("--no-qt", action="store_true", help="skip the Qt check (core only)")
    return p


def _out(line: str) -> None:
    """The verdict on stdout (absent in a windowed Windows build: then nothing is printed)."""
    if sys.stdout is not None:
        print(line, flush=True)


def _say(message: str) -> None:
    if sys.stderr is not None:
        print(f"self-test: {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def _env(name: str, value: str) -> Iterator[None]:
    before = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = before


# -- Qt ---------------------------------------------------------------------------------------------
_QT_APP: Any = None  # kept alive for the whole process


_QT_NOISE = ("does not support propagateSizeHints",)  # the offscreen platform's harmless complaint


def _quiet_qt_noise() -> None:
    """Drop the offscreen plugin's known noise from stderr; every other Qt message still goes there."""
    from PySide6.QtCore import QtMsgType, qInstallMessageHandler

    previous = None

    def handler(kind: Any, context: Any, message: str) -> None:
        if any(noise in message for noise in _QT_NOISE):
            return
        if previous is not None:
            previous(kind, context, message)
        elif sys.stderr is not None:
            level = {QtMsgType.QtDebugMsg: "debug", QtMsgType.QtInfoMsg: "info"}.get(kind, "warning")
            print(f"qt {level}: {message}", file=sys.stderr, flush=True)

    previous = qInstallMessageHandler(handler)


def check_qt() -> str:
    """Create (or reuse) a QApplication, paint a widget with the app icon into a QImage and inspect it.

    Proves the Qt platform plugin, the image-format/icon-engine plugins (SVG) and the bundled icon are
    usable. Headless: the offscreen platform is used unless QT_QPA_PLATFORM says otherwise.
    """
    global _QT_APP
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from PySide6.QtCore import QSize, Qt
    from PySide6.QtGui import QColor, QIcon, QImage, QImageReader, QPalette
    from PySide6.QtWidgets import QApplication, QHBoxLayout, QLabel, QWidget

    from .core.paths import resources_dir

    _quiet_qt_noise()
    app = QApplication.instance()
    if app is None:
        _QT_APP = app = QApplication([sys.argv[0] if sys.argv and sys.argv[0] else "gpt2q-desktop"])
    elif not isinstance(app, QApplication):
        raise SelfTestFailure(f"a {type(app).__name__} exists already; widgets need a QApplication")
    platform = app.platformName()

    icons = resources_dir() / "icons"
    svg, png = icons / f"{ICON_NAME}.svg", icons / f"{ICON_NAME}-256.png"
    for path in (svg, png):
        if not path.is_file():
            raise SelfTestFailure(f"the app icon {path} is missing")
    formats = {bytes(f).decode() for f in QImageReader.supportedImageFormats()}
    if "svg" not in formats:
        raise SelfTestFailure(f"Qt cannot read SVG images (image formats: {', '.join(sorted(formats))}); the svg plugin is missing")
    icon = QIcon(str(svg))
    pixmap = icon.pixmap(QSize(64, 64))
    if pixmap.isNull():
        raise SelfTestFailure(f"Qt could not render the SVG icon {svg}")
    if QImage(str(png)).isNull():
        raise SelfTestFailure(f"Qt could not read the PNG icon {png}")

    widget = QWidget()
    widget.setWindowTitle("gpt2q-desktop self-test")
    widget.setWindowIcon(icon)
    widget.setAutoFillBackground(True)
    palette = widget.palette()
    palette.setColor(QPalette.ColorRole.Window, QColor("#ffffff"))
    widget.setPalette(palette)
    layout = QHBoxLayout(widget)
    picture = QLabel()
    picture.setPixmap(pixmap)
    layout.addWidget(picture)
    layout.addWidget(QLabel("gpt2q-desktop self-test"))
    widget.resize(320, 96)
    widget.show()
    app.processEvents()
    image = QImage(widget.size(), QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.black)
    widget.render(image)
    widget.close()
    widget.deleteLater()
    app.processEvents()

    colours = _colours(image)
    white = QColor("#ffffff").rgba()
    if white not in colours:
        raise SelfTestFailure("the widget was not painted (no background in the rendered image)")
    if len(colours) < 3:
        raise SelfTestFailure("the rendered widget holds no icon (a single flat colour)")
    window = _paint_main_window(app)
    return f"Qt painted ({platform}{', main window' if window else ''})"


def _colours(image: Any) -> set[int]:
    return {image.pixel(x, y) for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}


_WINDOW_MODULES = {
    "gpt2q_desktop.app",
    "gpt2q_desktop.app.views",
    "gpt2q_desktop.app.views.main_window",
    "gpt2q_desktop.app.models",
    "gpt2q_desktop.app.models.history_model",
}


def _paint_main_window(app: Any) -> bool:
    """Build the app's main window (without its engine), show and paint it offscreen; False if absent.

    Only a window module that does not exist at all is skipped: anything else missing (a module a
    bundle left out, a broken widget) fails the self-test.
    """
    try:
        from .app.models.history_model import HistoryModel
        from .app.views.main_window import MainWindow
    except ModuleNotFoundError as exc:
        if exc.name in _WINDOW_MODULES:
            _say(f"no main window to paint ({exc.name} is absent)")
            return False
        raise
    history = HistoryModel()
    window = MainWindow(history)
    history.setParent(window)
    window.show()
    app.processEvents()
    image = window.grab().toImage()
    window.close()
    window.deleteLater()
    app.processEvents()
    if image.isNull() or image.width() < 100 or len(_colours(image)) < 3:
        raise SelfTestFailure("the main window did not paint")
    return True


# -- core -------------------------------------------------------------------------------------------
def _finite_answer(side: Any) -> bool:
    return bool(side.top) and all(math.isfinite(t.prob) and 0.0 <= t.prob <= 1.0 for t in side.top) and 0.0 < side.prob


def check_core(checkpoint: Path, prompts: Sequence[str], min_agreement: float, outcome: Outcome) -> None:
    """Load, quantize into a temporary data dir, reload from the cache, compare the prompts."""
    from .core.cache import ENV_DATA_DIR, QuantCache
    from .core.checkpoint import load_checkpoint
    from .core.compare import compare_prompt
    from .core.engine import quantize_checkpoint
    from .core.metrics import percentile
    from .core.recipe import RecipeOptions
    from .core.runner import RunSettings, encode_prompt, last_logits

    if not (checkpoint / "config.json").is_file():
        raise SelfTestFailure(f"no checkpoint at {checkpoint} (config.json missing)")
    with tempfile.TemporaryDirectory(prefix="gpt2q-selftest-") as tmp, _env(ENV_DATA_DIR, tmp):
        _say(f"loading {checkpoint}")
        loaded = load_checkpoint(checkpoint)
        if loaded.tokenizer is None:
            raise SelfTestFailure(f"{checkpoint} has no tokenizer")
        info = loaded.info
        _say(info.summary())
        for text in prompts:
            encode_prompt(loaded.tokenizer, text, info.n_positions)

        cache = QuantCache(Path(tmp))
        options = RecipeOptions()
        int8, report = quantize_checkpoint(info, options, lambda: loaded.model, cache)
        _say(f"INT8: {report.summary()}")
        for note in report.notes:
            _say(f"note: {note}")
        outcome.layers = f"{report.layers_quantized}/{report.layers_eligible} layers INT8"
        if report.layers_quantized != report.layers_eligible:
            raise SelfTestFailure(f"only {outcome.layers}")
        if report.cache_hit or not report.cache_dir or not Path(report.cache_dir).is_dir():
            raise SelfTestFailure("the INT8 model was not written to the (temporary) cache")

        again, report2 = quantize_checkpoint(info, options, lambda: loaded.model, cache)
        if not report2.cache_hit:
            raise SelfTestFailure("the INT8 model just cached was not found again: " + "; ".join(report2.notes))
        if report2.layers_quantized != report.layers_quantized:
            raise SelfTestFailure(
                f"the cached INT8 model has {report2.layers_quantized} INT8 layers, the fresh one {report.layers_quantized}"
            )
        ids = encode_prompt(loaded.tokenizer, prompts[0], info.n_positions).ids
        diff = float((last_logits(int8, ids) - last_logits(again, ids)).abs().max())
        if not diff <= 1e-3:
            raise SelfTestFailure(f"the INT8 model reloaded from the cache differs from the fresh one (max |Δlogit| {diff:.3g})")
        _say(f"cache round trip OK ({report2.seconds:.2f} s, max |Δlogit| {diff:.1e})")

        settings = RunSettings(repeats=3, warmup=1, threads=1, top_k=5)
        rows = []
        for i, text in enumerate(prompts, 1):
            row = compare_prompt(loaded.model, int8, loaded.tokenizer, text, settings, info.n_positions)
            if not (_finite_answer(row.fp32) and _finite_answer(row.int8)):
                raise SelfTestFailure(f"a model gave no valid answer to prompt {i} ({text[:40]!r})")
            if not (row.fp32.timing.median_ms > 0 and row.int8.timing.median_ms > 0):
                raise SelfTestFailure(f"prompt {i} was not timed")
            _say(
                f"[{i}/{len(prompts)}] {text[-40:]!r}: FP32 {row.fp32.token!r} {row.fp32.prob:.3f} "
                f"{row.fp32.timing.median_ms:.1f} ms | INT8 {row.int8.token!r} {row.int8.prob:.3f} "
                f"{row.int8.timing.median_ms:.1f} ms | {'agree' if row.agree else 'DIFFER'}, KL {row.kl:.2e}"
            )
            rows.append(row)
        agree = sum(r.agree for r in rows)
        outcome.agreement = f"{agree}/{len(rows)} prompts agree"
        if agree < min_agreement * len(rows) - 1e-9:
            raise SelfTestFailure(f"{outcome.agreement}, below the floor of {min_agreement:.0%}")
        fp32_ms = percentile([r.fp32.timing.median_ms for r in rows], 50)
        int8_ms = percentile([r.int8.timing.median_ms for r in rows], 50)
        ratio = fp32_ms / int8_ms
        outcome.speed = f"INT8 {ratio:.1f}x faster" if ratio >= 1 else f"INT8 {1 / ratio:.1f}x slower"


def run(argv: Sequence[str] | None = None) -> int:
    """Run the self-test; print one verdict line; return 0 if every check passed, else 1."""
    args, unknown = build_parser().parse_known_args(list(sys.argv[1:] if argv is None else argv))
    if unknown:
        _say(f"ignoring arguments: {' '.join(unknown)}")
    if not 0.0 <= args.min_agreement <= 1.0:
        _out("self-test FAILED: --min-agreement must be between 0 and 1")
        return 1
    from .core.paths import demo_student_dir

    checkpoint = Path(args.checkpoint).expanduser() if args.checkpoint else demo_student_dir()
    prompts = [p for p in (args.prompt or DEFAULT_PROMPTS) if p.strip()]
    if not prompts:
        _out("self-test FAILED: no prompts")
        return 1
    start = time.perf_counter()
    outcome = Outcome()
    try:
        if not args.no_qt:
            outcome.qt = check_qt()
            _say(outcome.qt)
        check_core(checkpoint, prompts, args.min_agreement, outcome)
    except SelfTestFailure as exc:
        _out(f"self-test FAILED: {exc}")
        return 1
    except KeyboardInterrupt:
        _out("self-test FAILED: interrupted")
        return 1
    except Exception as exc:  # any crash (a module missing from a bundle, a broken plugin...) is a failure
        if sys.stderr is not None:
            traceback.print_exc()
        _out(f"self-test FAILED: {type(exc).__name__}: {exc}")
        return 1
    parts = [outcome.layers, outcome.agreement, outcome.speed]
    if outcome.qt:
        parts.append(outcome.qt)
    _out(f"self-test OK: {', '.join(parts)}, {time.perf_counter() - start:.1f} s")
    return 0


def main() -> None:
    sys.exit(run())


if __name__ == "__main__":
    main()
