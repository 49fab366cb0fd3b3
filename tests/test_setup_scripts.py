"""The README's demo command installs what it then runs (CI runs the test set-up, which installs more)."""

from __future__ import annotations

import re
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parent.parent


def demo_requirements() -> set[str]:
    """Project names scripts/setup.sh installs without --test: the dependencies plus the extras it names."""
    setup = (ROOT / "scripts" / "setup.sh").read_text()
    extras = re.search(r'^extras="([^"]+)"$', setup, re.M)
    assert extras is not None, "scripts/setup.sh no longer sets extras=\"...\" for the demo"
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = list(project["dependencies"])
    for extra in extras.group(1).split(","):
        wanted += project["optional-dependencies"][extra]
    return {re.split(r"[<>=!~\[; ]", r, maxsplit=1)[0].lower() for r in wanted}


def test_the_demo_installs_jupyterlab_and_a_kernel_and_compiles_nothing() -> None:
    demo = (ROOT / "scripts" / "demo.sh").read_text()
    assert "jupyter lab notebooks/01_first_chatbot.ipynb" in demo
    names = demo_requirements()
    assert {"jupyterlab", "ipykernel", "anywidget", "transformers", "torch"} <= names
    # llama-cpp-python compiles llama.cpp for minutes: the demo works without it (transformers runs the model)
    assert "llama-cpp-python" not in names
