"""Entry script frozen by PyInstaller (packaging/gpt2q-desktop.spec).

One executable, two faces: started as ``gpt2q`` (the symlink next to it in the bundle) it is the
command-line tool; started as ``gpt2q-desktop`` it is the window (whose ``--self-test`` runs
:mod:`gpt2q_desktop.app.selftest`).
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
