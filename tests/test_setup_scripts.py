"""The README's set-up commands install what they then run, from locks that match pyproject.toml."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import tomllib
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
SETUP = (ROOT / "scripts" / "setup.sh").read_text()
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)", re.M)


def setting(name: str) -> list[str]:
    """A comma-separated list scripts/setup.sh sets, e.g. ``demo_extras`` or ``test_groups`` (empty if unset)."""
    found = re.search(rf'^{name}="([^"]*)"$', SETUP, re.M)
    return found.group(1).split(",") if found and found.group(1) else []


def requirements_of(setup: str) -> list[Requirement]:
    """pyproject.toml's dependencies plus the set-up's extras and dependency groups (markers evaluated here)."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    extras = setting(f"{setup}_extras")
    assert extras, f'scripts/setup.sh no longer sets {setup}_extras="..."'
    wanted = list(project["dependencies"])
    for extra in extras:
        wanted += project["optional-dependencies"][extra]
    for group in setting(f"{setup}_groups"):
        wanted += pyproject["dependency-groups"][group]
    reqs = [Requirement(r) for r in wanted]
    return [r for r in reqs if r.marker is None or r.marker.evaluate({"extra": ""})]


def lock(name: str) -> dict[str, Version]:
    """``{canonical name: version}`` pinned in ``requirements/<name>.txt``."""
    text = (ROOT / "requirements" / f"{name}.txt").read_text()
    return {canonicalize_name(m[1]): Version(m[2]) for m in PIN.finditer(text)}


def test_the_demo_installs_jupyterlab_and_a_kernel_and_compiles_nothing() -> None:
    demo = (ROOT / "scripts" / "demo.sh").read_text()
    assert "jupyter lab notebooks/01_first_chatbot.ipynb" in demo
    names = {canonicalize_name(r.name) for r in requirements_of("demo")}
    assert {"jupyterlab", "ipykernel", "anywidget"} <= names
    # llama-cpp-python compiles llama.cpp for minutes: the demo must not need a compiler (xllamacpp is prebuilt)
    assert "llama-cpp-python" not in names
    assert "llama-cpp-python" not in lock("demo")
    assert "xllamacpp" in lock("demo")  # the embedded model runs on llama.cpp from prebuilt wheels


@pytest.mark.parametrize("setup", ["demo", "test"])
def test_each_lock_pins_every_requirement_within_pyproject_ranges(setup: str) -> None:
    """Editing pyproject.toml without running scripts/lock.sh fails here, naming the package."""
    pinned = lock(setup)
    for req in requirements_of(setup):
        name = canonicalize_name(req.name)
        assert name in pinned, f"{req} is not in requirements/{setup}.txt: run scripts/lock.sh"
        assert req.specifier.contains(pinned[name], prereleases=True), (
            f"requirements/{setup}.txt pins {name}=={pinned[name]}, outside pyproject's {req}: run scripts/lock.sh"
        )
    # the locks hold the CPU build of torch, never CUDA libraries
    assert str(pinned.get("torch", "")).endswith("+cpu") or "torch" not in pinned
    assert not [n for n in pinned if n.startswith("nvidia-")]


def test_every_locked_line_has_a_hash() -> None:
    """pip installs the locks with --require-hashes: one pin without a hash would fail the whole set-up."""
    for name in ("demo", "test", "no-deps"):
        text = (ROOT / "requirements" / f"{name}.txt").read_text()
        entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
        assert entries
        for entry in entries:
            assert "==" in entry, f"requirements/{name}.txt: {entry.splitlines()[0]}"
            assert "--hash=sha256:" in entry, f"requirements/{name}.txt: {entry.splitlines()[0]}"


def test_setup_installs_from_the_locks_with_hashes_and_prints_the_versions() -> None:
    assert "--require-hashes" in SETUP
    assert '-r "$lock"' in SETUP
    assert "-m nbchat env" in SETUP
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test.sh" in ci


def test_nbchat_env_prints_the_key_packages_of_this_environment() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "nbchat", "env", "--json"], capture_output=True, text=True, check=True, cwd=ROOT
    ).stdout
    import json

    versions = json.loads(out)
    from importlib import metadata

    assert versions["python"] == sys.version.split()[0]
    assert versions["anywidget"] == metadata.version("anywidget")
    assert "transformers" in versions
    assert "openai" in versions


def test_lock_diff_reports_a_package_that_moved(tmp_path: Path) -> None:
    """scripts/lock_diff.py (used by scripts/test-latest.sh) names a package whose installed version is not locked."""
    from importlib import metadata

    real = metadata.version("anywidget")
    fake = tmp_path / "lock.txt"
    fake.write_text(f"anywidget==0.0.1 \\\n    --hash=sha256:00\npackaging=={metadata.version('packaging')}\n")
    out = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "lock_diff.py"), str(fake)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert re.search(rf"newer\s+anywidget\s+0\.0\.1 -> {re.escape(real)}", out)
    assert not re.search(r"(newer|older)\s+packaging\s", out)  # locked at its installed version: not reported


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node (the README's set-up installs it)")
def test_jupyterlabs_yarn_runs_from_a_venv_inside_the_repo(tmp_path: Path) -> None:
    """scripts/setup.sh puts the venv inside the repo, so Node reads the repo's package.json for every .js file in
    site-packages. With ``"type": "module"`` there, JupyterLab's CommonJS ``jupyter_builder/yarn.js`` ran as ESM and
    every ``jupyter lab`` start logged a ~10 KB "Fail to get yarn configuration … Dynamic require" trace. This lays
    out yarn.js as the venv does (under a folder holding the repo's package.json) and runs the command JupyterLab
    runs at start (``jupyterlab.commands._yarn_config``)."""
    from jupyter_builder.jlpm import YARN_PATH

    yarn = tmp_path / ".venv" / "lib" / "site-packages" / "jupyter_builder" / "yarn.js"
    yarn.parent.mkdir(parents=True)
    shutil.copy(YARN_PATH, yarn)
    shutil.copy(ROOT / "package.json", tmp_path / "package.json")
    node = shutil.which("node")
    assert node is not None
    command = [node, str(yarn), "config", "--json"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    errors = [line.strip()[:300] for line in done.stderr.splitlines() if "Error" in line]
    assert done.returncode == 0, errors or done.stderr[-300:]
    assert "Dynamic require" not in done.stderr
    settings = [json.loads(line) for line in done.stdout.splitlines()]  # yarn's JSON config, one setting a line
    assert any(s.get("key") == "cacheFolder" for s in settings)
