"""The Qt layer: a window that watches the core work (``gpt2q-desktop``)."""
