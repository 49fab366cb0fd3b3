"""What nbchat runs on: the versions of the packages that decide its behaviour (``nbchat env``, benchmarks)."""

from __future__ import annotations

import platform
import sys
from importlib import metadata

__all__ = ["KEY_PACKAGES", "environment"]

KEY_PACKAGES = (
    "nbchat",
    "torch",
    "transformers",
    "xllamacpp",
    "llama-cpp-python",
    "anywidget",
    "ipywidgets",
    "jupyterlab",
    "notebook",
    "voila",
    "openai",
    "huggingface-hub",
    "text-generation",
    "jinja2",
    "python-dotenv",
)
"""Distributions whose version changes what nbchat does: engines, the widget stack, clients, templating."""


def environment() -> dict[str, str | None]:
    """Python, platform and the installed version of each of :data:`KEY_PACKAGES`.

    Reads package metadata only (nothing is imported), so it takes milliseconds.

    Returns
    -------
    dict
        ``{"python": "3.11.7", "platform": "Linux-…-x86_64", "torch": "2.13.0+cpu", …}``; ``None`` for a package
        that is not installed.
    """
    out: dict[str, str | None] = {"python": sys.version.split()[0], "platform": platform.platform()}
    for name in KEY_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    return out
