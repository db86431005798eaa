"""Entry script frozen by PyInstaller (packaging/gpt2q-desktop.spec).

One entry script, two faces: started as ``gpt2q`` (``gpt2q.exe``) it is the command-line tool; started as
``gpt2q-desktop`` it is the window (whose ``--self-test`` runs :mod:`gpt2q_desktop.app.selftest`). On Linux
``gpt2q`` is a symlink to the one program; on Windows and macOS it is a second, console program built from this
same script (packaging/platforms.py).
"""

import os
import sys


def _main() -> int:
    import multiprocessing

    multiprocessing.freeze_support()  # a child started by the bundle (the ONNX export) runs its task, not the app
    name = os.path.basename(sys.argv[0] if sys.argv and sys.argv[0] else "").lower()
    if name.endswith(".exe"):
        name = name[:-4]
    if name == "gpt2q":
        from gpt2q_desktop.cli.main import main as cli_main

        return cli_main()
    from gpt2q_desktop.app.main import main as app_main

    return app_main()


if __name__ == "__main__":
    sys.exit(_main())
