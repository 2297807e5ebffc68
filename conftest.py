"""pytest collection: skip importing the Triton kernel module where Triton is not installed."""

import importlib.util

collect_ignore = (
    [] if importlib.util.find_spec("triton") else ["skwvq/assignment_triton.py"]
)
