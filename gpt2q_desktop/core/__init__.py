"""The Qt-free core: checkpoints, quantization recipe, cache, inference, metrics and reports."""

import os

# The tool runs fully offline: never let transformers or huggingface_hub reach a model hub.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
