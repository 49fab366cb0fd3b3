"""JupyterLab on 127.0.0.1, driven by Playwright in Debian's headless Chromium."""

from __future__ import annotations

import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("NBCHAT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


def with_labextension(env: dict[str, str], tmp: Path) -> dict[str, str]:
    """``env`` with this tree's build of the nbchat-cells labextension (labextension/dist) first on JUPYTER_PATH.

    The servers the tests start then load the extension as built here, not an older copy installed in the
    environment (``pip install -e .`` puts one in ``<venv>/share/jupyter/labextensions``).
    """
    built = ROOT / "labextension" / "dist"
    if not (built / "package.json").exists():
        pytest.fail("labextension/dist is missing: npm run build:labextension (the package build runs it)")
    data = tmp / "jupyter-path"
    # a copy, not a link: Voila's file handler refuses files whose real path is outside its folder
    shutil.copytree(built, data / "labextensions" / "nbchat-cells", dirs_exist_ok=True)
    paths = [str(data), *filter(None, env.get("JUPYTER_PATH", "").split(os.pathsep))]
    return {**env, "JUPYTER_PATH": os.pathsep.join(paths)}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Lab:
    """A running JupyterLab: ``url(path)`` gives an authenticated address."""

    def __init__(self, root: Path, port: int, token: str, process: subprocess.Popen[bytes]) -> None:
        self.root, self.port, self.token, self.process = root, port, token, process

    def url(self, path: str = "lab") -> str:
        sep = "&" if "?" in path else "?"
        return f"http://127.0.0.1:{self.port}/{path}{sep}token={self.token}"


@pytest.fixture(scope="session")
def lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Lab]:
    """JupyterLab serving a copy of notebooks/ (the tests' edits never touch the repository)."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/setup.sh --test does it)")
    root = tmp_path_factory.mktemp("lab")
    for nb in (ROOT / "notebooks").glob("*.ipynb"):
        shutil.copy(nb, root / nb.name)
    settings = tmp_path_factory.mktemp("lab-settings")
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = {**os.environ, "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(settings)}
    env = with_labextension(env, settings)
    port, token = free_port(), secrets.token_hex(16)
    log = (tmp_path_factory.mktemp("lab-log") / "jupyterlab.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
            f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
            "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.expose_app_in_browser=True",  # tests run JupyterLab commands through window.jupyterapp
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        stdout=log, stderr=subprocess.STDOUT, cwd=root, env=env,
    )  # fmt: skip
    lab = Lab(root, port, token, process)
    deadline = time.time() + 90
    while True:
        try:
            with urllib.request.urlopen(lab.url("api/status"), timeout=2):
                break
        except OSError:
            if process.poll() is not None or time.time() > deadline:
                process.kill()
                pytest.fail(f"JupyterLab did not start; see {log.name}")
            time.sleep(0.5)
    yield lab
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield b
        b.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh page; a screenshot lands in tests/artifacts/ when the test fails."""
    # English whatever the machine's locale: the tests find controls by their English names (the widget follows the
    # browser's language; tests/browser/test_course.py covers the Chinese one).
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield page
    report = getattr(request.node, "rep_call", None)
    if report is not None and report.failed:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / f"failed-{request.node.name}.png"), full_page=True)
    context.close()


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Iterator[None]:
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
