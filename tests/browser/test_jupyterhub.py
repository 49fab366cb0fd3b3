"""A JupyterHub class: two students, one shared ``transformers serve``, the administrator's policy for both.

JupyterHub on 127.0.0.1 (its proxy, configurable-http-proxy, comes from npm: node_modules/.bin), two users of the
``DummyAuthenticator`` (one shared password), ``SimpleLocalProcessSpawner`` (a home directory per user under the
test's temporary directory), and ``c.Spawner.environment`` carrying the NBCHAT_* policy and a key, as
``singleuser.extraEnv`` does on Kubernetes. Both students log in (two browser contexts), open the notebook in their
home, and chat with the shared server at the same time; each sees only their own conversation, the policy's
default model answers, the Max new tokens slider stops at the cap, and a model not on the list is refused.
"""

from __future__ import annotations

import base64
import contextlib
import dataclasses
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from .conftest import ARTIFACTS, ROOT, free_port
from .frontends import Server, chat_and_watch, wait_ready, write_notebook

pytestmark = [pytest.mark.browser, pytest.mark.server]

USERS = ("alice", "bob")
PASSWORD = "savanna-class"
CAP = 24
SECRET = "sk-classroom-secret-not-for-students"
PROXY = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"

NOTEBOOK_CELLS = (
    "import nbchat\n\nprint(nbchat.current_policy())",
    "chat = nbchat.Chat(temperature=0)  # no model: the class default\nchat",
    "nbchat.Chat('openai:gpt-4o-mini')  # not on the class's list",
)


@dataclasses.dataclass
class Hub:
    """A running JupyterHub: its URL, the directory of the users' homes, its process (for its log)."""

    url: str
    homes: Path
    server: Server


@pytest.fixture
def hub(tmp_path: Path, transformers_serve: Any) -> Iterator[Hub]:
    """A running JupyterHub with the class policy in every user's environment."""
    if not PROXY.exists():
        pytest.fail(f"{PROXY} is missing: npm ci (scripts/setup.sh --test does it)")
    homes = tmp_path / "home"
    for user in USERS:
        write_notebook(homes / user / "chat.ipynb", *NOTEBOOK_CELLS)
    settings = tmp_path / "lab-settings"
    news = settings / "@jupyterlab" / "apputils-extension"
    news.mkdir(parents=True)
    (news / "notification.jupyterlab-settings").write_text('{"fetchNews": "false", "checkForUpdates": false}')
    port, hub_port, api_port = free_port(), free_port(), free_port()
    policy = {
        "NBCHAT_DEFAULT_MODEL": transformers_serve.base_url,
        "NBCHAT_DEFAULT_MODEL_NAME": transformers_serve.model,
        "NBCHAT_ALLOWED_MODELS": f"http://127.0.0.1:{transformers_serve.port}/*",
        "NBCHAT_MAX_NEW_TOKENS": str(CAP),
        "NBCHAT_MAX_TEMPERATURE": "1.0",
        "NBCHAT_ADMIN_CONTACT": "the course staff (llm-help@example.edu)",
        "NBCHAT_API_KEY": SECRET,  # in production: from a Kubernetes secret
    }
    environment = {
        **policy,
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(settings),
        "TOKENIZERS_PARALLELISM": "false",
    }
    config = tmp_path / "jupyterhub_config.py"
    config.write_text(
        f"""\
c = get_config()  # noqa: F821
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = {port}
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = {hub_port}
c.JupyterHub.db_url = "sqlite:///{tmp_path / "jupyterhub.sqlite"}"
c.JupyterHub.cookie_secret_file = "{tmp_path / "jupyterhub_cookie_secret"}"
c.JupyterHub.cleanup_servers = True
c.ConfigurableHTTPProxy.command = ["{PROXY}"]
c.ConfigurableHTTPProxy.api_url = "http://127.0.0.1:{api_port}"
c.ConfigurableHTTPProxy.pid_file = "{tmp_path / "proxy.pid"}"
c.JupyterHub.authenticator_class = "dummy"
c.DummyAuthenticator.password = "{PASSWORD}"
c.Authenticator.allowed_users = {set(USERS)!r}
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = "{homes}/{{username}}"
c.Spawner.cmd = ["{Path(sys.executable).with_name("jupyterhub-singleuser")}"]
c.Spawner.args = [
    "--LabApp.expose_app_in_browser=True",
    "--LabApp.news_url=",
    "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    {'"--allow-root",' if os.geteuid() == 0 else ""}
]
c.Spawner.default_url = "/lab"
c.Spawner.environment = {environment!r}
c.Spawner.start_timeout = 180
c.Spawner.http_timeout = 180
"""
    )
    server = Server([sys.executable, "-m", "jupyterhub", "-f", str(config)], tmp_path / "jupyterhub.log", cwd=tmp_path)
    try:
        server.wait_for_http(f"http://127.0.0.1:{port}/hub/health", timeout=120)
        yield Hub(f"http://127.0.0.1:{port}", homes, server)
    finally:
        server.stop(signal.SIGTERM, timeout=45)  # the hub stops the users' servers and the proxy
        _kill_leftovers(homes)


def _kill_leftovers(homes: Path) -> None:
    """End any process this test's hub started that still runs in a user's home (bounded: a failed cleanup)."""
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            if str(Path(os.readlink(proc / "cwd"))).startswith(str(homes)):
                os.kill(int(proc.name), signal.SIGKILL)


def log_in_and_open(browser: Any, hub: Hub, user: str) -> tuple[Any, Any]:
    """A fresh browser context for ``user``: log in, wait for their server, open chat.ipynb, run every cell.

    A failure says where the page was, and shows the end of the hub's log.
    """
    context = browser.new_context(viewport={"width": 900, "height": 900})
    page = context.new_page()
    page.set_default_timeout(60_000)
    step = "log in"
    try:
        for attempt in range(3):  # a busy machine can serve the login page late; try again, bounded
            page.goto(f"{hub.url}/hub/login", timeout=60_000)
            try:
                page.wait_for_selector("input[name=username]", timeout=30_000)
                break
            except Exception:
                if attempt == 2:
                    raise
        page.fill("input[name=username]", user)
        page.fill("input[name=password]", PASSWORD)
        page.locator("input[type=submit], button[type=submit]").first.click()
        step = "spawn the user's server"
        page.wait_for_url(f"**/user/{user}/**", timeout=180_000)
        step = "open the notebook"
        page.goto(f"{hub.url}/user/{user}/lab/tree/chat.ipynb", timeout=120_000)
        page.wait_for_function(
            "() => window.jupyterapp?.shell?.currentWidget?.sessionContext?.session?.kernel?.status === 'idle'",
            timeout=180_000,
        )
        page.evaluate("() => window.jupyterapp.commands.execute('notebook:run-all-cells')")
    except Exception as exc:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(Exception):
            page.screenshot(path=str(ARTIFACTS / f"failed-jupyterhub-{user}-login.png"))
        body = ""
        with contextlib.suppress(Exception):
            body = page.inner_text("body", timeout=5_000)[:1000]
        msg = f"{user}: could not {step} (page {page.url}): {exc}\npage text: {body}\nhub log:\n{hub.server.log_tail()}"
        raise AssertionError(msg) from exc
    return context, page


def combine(paths: dict[str, Path], out: Path, browser: Any) -> None:
    """Put the users' screenshots side by side, captioned, in one image (drawn by the browser itself)."""
    figures = "".join(
        f'<figure><figcaption>{name}</figcaption><img src="data:image/png;base64,'
        f'{base64.b64encode(path.read_bytes()).decode()}"></figure>'
        for name, path in paths.items()
    )
    context = browser.new_context(viewport={"width": 1840, "height": 960})
    page = context.new_page()
    page.set_content(
        "<style>body{margin:0;display:flex;gap:16px;padding:12px;background:#eee;font:600 18px sans-serif}"
        "figure{margin:0}figcaption{padding:4px 0}img{border:1px solid #999;width:900px}</style>" + figures
    )
    page.screenshot(path=str(out), full_page=True)
    context.close()


def test_two_students_share_one_server_under_the_admin_policy(hub: Hub, browser: Any, transformers_serve: Any) -> None:
    sessions = {user: log_in_and_open(browser, hub, user) for user in USERS}
    try:
        chats = {}
        for user, (_, page) in sessions.items():
            chat = page.locator(".nbchat").first
            chat.wait_for(timeout=120_000)
            wait_ready(page, chat)
            # the administrator's policy, as the student sees it
            outputs = page.locator(".jp-OutputArea-output")
            page.wait_for_function(
                "() => [...document.querySelectorAll('.jp-OutputArea-output')]"
                ".some(o => o.textContent.includes('is not allowed here'))",
                timeout=60_000,
            )
            text = "\n".join(outputs.all_inner_texts())
            assert "ModelNotAllowedError" in text
            assert "'openai:gpt-4o-mini' is not allowed here" in text
            assert "ask the course staff (llm-help@example.edu)" in text
            assert f"max new tokens: at most {CAP}" in text
            assert transformers_serve.model.split("/")[-1] in chat.locator(".nbchat-header").inner_text()
            # the sliders stop at the caps
            chat.locator("summary", has_text="Advanced options").click()
            assert chat.get_by_label("Max new tokens", exact=True).get_attribute("max") == str(CAP)
            assert float(chat.get_by_label("Temperature", exact=True).get_attribute("max") or 0) == 1.0
            chats[user] = chat

        # both ask at once: the second question goes out while the first reply is still streaming
        questions = {user: f"Hello, I am {user}. Tell me a long story about a lion." for user in USERS}
        for user in USERS:
            box = chats[user].get_by_label("Message", exact=True)
            box.fill(questions[user])
        started = time.monotonic()
        for user in USERS:
            chats[user].get_by_label("Message", exact=True).press("Enter")
        first = chats[USERS[0]]
        overlapped = first.locator('[data-role="assistant"][data-status="done"]').count() == 0
        for user in USERS:
            page = sessions[user][1]
            page.wait_for_function(
                "(root) => root.querySelector('[data-role=assistant]')?.dataset.status === 'done'",
                arg=chats[user].element_handle(),
                timeout=120_000,
            )
        assert time.monotonic() - started < 120
        assert overlapped, "the first reply was done before the second question was sent: not concurrent"

        for user in USERS:
            other = next(u for u in USERS if u != user)
            text = chats[user].inner_text()
            assert questions[user] in text
            assert questions[other] not in text  # each student sees only their own conversation
            stats = chats[user].locator(".nbchat-stats").last.inner_text()
            tokens = int(stats.split(" token")[0].split()[-1])
            assert 0 < tokens <= CAP, stats

        # a second turn for one student only
        reply, _ = chat_and_watch(sessions["alice"][1], chats["alice"], "Thank you!", timeout_ms=120_000)
        assert reply
        assert chats["bob"].locator('[data-role="assistant"]').count() == 1

        # the key never reaches the browser
        for _, page in sessions.values():
            assert SECRET not in page.content()

        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        shots = {}
        for user, (_, page) in sessions.items():
            page.evaluate("() => window.jupyterapp.commands.execute('application:toggle-left-area')")
            chats[user].scroll_into_view_if_needed()
            shots[user] = ARTIFACTS / f"jupyterhub-{user}.png"
            page.screenshot(path=str(shots[user]))
        combine(
            {f"{user} — /user/{user}/lab, the class's shared server": p for user, p in shots.items()},
            ARTIFACTS / "jupyterhub-two-users.png",
            browser,
        )
    except BaseException:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for user, (_, page) in sessions.items():
            with contextlib.suppress(Exception):
                page.screenshot(path=str(ARTIFACTS / f"failed-jupyterhub-{user}.png"))
        raise
    finally:
        for context, _ in sessions.values():
            context.close()
    # the notebooks on disk (saved or not) never hold the key either
    for user in USERS:
        assert SECRET not in (hub.homes / user / "chat.ipynb").read_text()
