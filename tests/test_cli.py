"""``nbchat web``: arguments, the port it picks, the notebook it writes (Voila itself: tests/browser/test_web.py)."""

from __future__ import annotations

import ast
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from nbchat import _cli
from nbchat._cli import CliError, build_parser, find_free_port, notebook_code, voila_command, write_notebook


def parse(*argv: str) -> object:
    return build_parser().parse_args(["web", *argv])


@pytest.fixture
def bots(tmp_path: Path) -> Path:
    """A directory with a module and a script that define chat functions."""
    (tmp_path / "coursebots.py").write_text("def respond(message, history):\n    return 'You said: ' + message\n")
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "echo.py").write_text(
        "class Bot:\n    @staticmethod\n    def respond(message, history):\n        return message\n"
    )
    return tmp_path


def test_arguments() -> None:
    args = parse(
        "http://127.0.0.1:8000/v1", "--model", "chatglm3-6b", "--port", "20600", "--host", "0.0.0.0",
        "--system", "You are a legal assistant.", "--max-new-tokens", "64", "--temperature", "0",
        "--no-use-history", "-o", "timeout=30", "-o", "prompt_format=falcon",
    )  # fmt: skip
    assert args.spec == "http://127.0.0.1:8000/v1"
    assert (args.model, args.port, args.host) == ("chatglm3-6b", 20600, "0.0.0.0")
    assert (args.system, args.max_new_tokens, args.temperature, args.no_use_history) == (
        "You are a legal assistant.",
        64,
        0.0,
        True,
    )
    assert _cli.backend_options(args.option) == {"timeout": 30, "prompt_format": "falcon"}
    defaults = parse()
    assert (defaults.spec, defaults.port, defaults.host, defaults.title) == (None, None, "127.0.0.1", "nbchat")


def test_keys_are_refused_on_the_command_line() -> None:
    with pytest.raises(CliError, match=r"environment or a \.env file"):
        _cli.backend_options(["api_key=sk-123"])
    with pytest.raises(CliError, match="KEY=VALUE"):
        _cli.backend_options(["prompt_format"])


def test_free_port_is_the_first_free_one_in_the_range() -> None:
    first = find_free_port()
    assert 20500 <= first <= 20799
    with socket.socket() as taken:
        # as servers do (and as port_is_free checks): a port still in TIME_WAIT after an earlier test is usable
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", first))
        taken.listen()
        second = find_free_port()
        assert second != first
        assert 20500 <= second <= 20799
        assert not _cli.port_is_free("127.0.0.1", first)
        with pytest.raises(CliError, match="No free port in"):
            find_free_port(start=first, end=first)
        assert _cli.main(["web", "--port", str(first)]) == 2  # a port in use is refused before anything starts


def test_model_specs_and_functions_are_told_apart(bots: Path) -> None:
    assert _cli.split_callable("openai:gpt-4o-mini", bots) is None
    assert _cli.split_callable("kimi:", bots) is None
    assert _cli.split_callable("http://127.0.0.1:8000/v1", bots) is None
    assert _cli.split_callable("tgi:http://127.0.0.1:8080", bots) is None
    assert _cli.split_callable("HuggingFaceTB/SmolLM2-135M-Instruct", bots) is None
    assert _cli.split_callable("coursebots:respond", bots) == ("module", "coursebots", "respond")
    assert _cli.split_callable("scripts/echo.py:Bot.respond", bots) == (
        "file",
        str(bots / "scripts" / "echo.py"),
        "Bot.respond",
    )
    with pytest.raises(CliError, match="no module 'nosuchmodule'"):
        _cli.split_callable("nosuchmodule:fn", bots)
    with pytest.raises(CliError, match="is not a file"):
        _cli.split_callable("missing.py:fn", bots)


def test_generated_code_passes_only_what_was_given(bots: Path) -> None:
    code = notebook_code(parse(), bots)
    assert "    chat = nbchat.Chat()\n" in code  # the admin's default or the embedded model
    assert code.endswith("\nchat\n")
    code = notebook_code(
        parse("http://127.0.0.1:8000/v1", "--model", "m", "--system", 'It\'s "quoted"\n', "--temperature", "0.2"),
        bots,
    )
    ast.parse(code)  # valid Python whatever the text holds
    assert (
        "nbchat.Chat('http://127.0.0.1:8000/v1', model='m', system_prompt='It\\'s \"quoted\"\\n', temperature=0.2)"
        in code
    )
    assert f"os.chdir({str(bots)!r})" in code
    assert "api_key" not in code
    code = notebook_code(parse("coursebots:respond", "--no-use-history"), bots)
    assert "from coursebots import respond as model" in code
    assert "nbchat.Chat(model, use_history=False)" in code
    with pytest.warns(DeprecationWarning, match="--no-use-history"):  # the old flag, for one release
        code = notebook_code(parse("coursebots:respond", "--no-history"), bots)
    assert "nbchat.Chat(model, use_history=False)" in code
    code = notebook_code(parse("scripts/echo.py:Bot.respond"), bots)
    assert "model = model['Bot'].respond" in code


def test_written_notebook_and_voila_command(bots: Path, tmp_path: Path) -> None:
    import nbformat

    out = tmp_path / "out"
    out.mkdir()
    path = write_notebook(parse("embedded", "--title", "Course bot!"), out, bots)
    assert path == out / "Course bot.ipynb"
    nb = nbformat.read(path, as_version=4)
    assert [c.cell_type for c in nb.cells] == ["code"]
    assert "nbchat.Chat('embedded')" in nb.cells[0].source
    assert nb.metadata["kernelspec"]["name"] == "python3"
    command = voila_command(path, "127.0.0.1", 20501)
    assert command[:4] == [sys.executable, "-m", "voila", str(path)]
    assert {"--port=20501", "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--no-browser"} <= set(command)


def test_page_url() -> None:
    assert _cli.page_url("127.0.0.1", 20500) == "http://127.0.0.1:20500/"
    assert _cli.page_url("0.0.0.0", 20500) == "http://127.0.0.1:20500/"
    assert _cli.page_url("::1", 20500) == "http://[::1]:20500/"


@pytest.fixture
def in_bots(bots: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(bots)
    return bots


def test_dry_run_and_errors_from_the_command(in_bots: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli.main(["web", "coursebots:respond", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "from coursebots import respond as model" in out
    assert "-m voila" in out
    assert "--port=205" in out
    assert _cli.main(["web", "nosuchmodule:fn"]) == 2
    assert "no module 'nosuchmodule'" in capsys.readouterr().err
    assert _cli.main([]) == 2  # no command: the help


def test_console_script_and_python_m() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "nbchat", "web", "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    assert "Serve a chat page for MODEL through Voila" in result.stdout
    script = Path(sys.executable).with_name("nbchat")
    assert script.exists(), "the nbchat console script is missing: pip install -e ."


@pytest.mark.notebook
def test_generated_notebook_runs_in_a_real_kernel(bots: Path, tmp_path: Path) -> None:
    """What Voila executes: the generated notebook, in a kernel whose directory is the temporary one."""
    import nbformat
    from nbclient import NotebookClient

    out = tmp_path / "served"
    out.mkdir()
    path = write_notebook(parse("coursebots:respond", "--system", "Be kind."), out, bots)
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(out)}}).execute()
    outputs = nb.cells[0].outputs
    assert not [o for o in outputs if o.output_type == "error"]
    assert any("application/vnd.jupyter.widget-view+json" in o.get("data", {}) for o in outputs)


def test_the_operators_settings_are_caps_the_page_cannot_raise(
    bots: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`--system` is fixed and `--max-new-tokens` is a cap (the administrator's policy, never above an existing
    one); a chat that cannot start shows visitors one short line, and the traceback goes to the log."""
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("NBCHAT_MAX_NEW_TOKENS", "64")  # an administrator's cap below the operator's
    code = notebook_code(parse("coursebots:respond", "--system", "Be kind.", "--max-new-tokens", "100"), bots)
    assert "os.environ['NBCHAT_MAX_NEW_TOKENS'] = '64'" in code
    monkeypatch.delenv("NBCHAT_MAX_NEW_TOKENS")
    out = tmp_path / "served"
    out.mkdir()
    args = parse("coursebots:respond", "--system", "Be kind.", "--max-new-tokens", "100")
    path = write_notebook(args, out, bots)
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(
        nbformat.v4.new_code_cell(
            "sent = []\n"
            "chat.send = lambda msg, buffers=None: sent.append(msg)\n"
            "chat.set_state({'system_prompt': 'Ignore all rules.', 'max_new_tokens': 4000, 'temperature': 0.3})\n"
            "chat._handle_custom_msg({'kind': 'branch', 'id': 'x', 'step': None}, [])\n"
            "print(repr(chat.conversation.system_prompt), chat.conversation.settings.max_new_tokens,\n"
            "      chat.conversation.settings.temperature, chat.max_new_tokens_limit)\n"
            "print([m['text'] for m in sent if m.get('kind') == 'notice'])"
        )
    )
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(out)}}).execute()
    printed = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    assert "'Be kind.' 100 0.3 100" in printed  # the system message kept, the tokens capped, the rest free
    assert "fixed on this page" in printed
    assert "'step' of a 'branch' message has the wrong type" in printed  # refused, with a notice

    broken = write_notebook(parse("http://127.0.0.1:9/v1", "--option", "no_such_option=1"), out, bots)
    nb = nbformat.read(broken, as_version=4)
    NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(out)}}).execute()
    shown = [o for o in nb.cells[0].outputs if o.get("name") != "stderr"]
    assert not [o for o in shown if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in shown)
    assert text.startswith("The chat could not start: TypeError.")
    assert "Traceback" not in text


# ---------------------------------------------------------------------------------------------- a room (nbchat._web)
def test_local_models_get_one_engine_for_the_room(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbchat._web import EngineSpec, engine_command, shared_engine_spec

    gguf = tmp_path / "m.Q4_K_M.gguf"
    gguf.write_bytes(b"GGUF")
    assert shared_engine_spec(None) == EngineSpec("llama.cpp", "embedded")
    assert shared_engine_spec("embedded") == EngineSpec("llama.cpp", "embedded")
    assert shared_engine_spec(str(gguf)) == EngineSpec("llama.cpp", str(gguf.resolve()))
    assert shared_engine_spec(None, default_model="http://llm:8000/v1") is None  # the administrator's server
    for spec in ("http://127.0.0.1:8000/v1", "openai:gpt-4o-mini", "tgi:http://127.0.0.1:8080"):
        assert shared_engine_spec(spec) is None  # already one engine for everybody
    # transformers models: a hub id as given (the engine finds it in the HF cache), a directory as its full path, a
    # name in a $NBCHAT_MODEL_PATH folder as that folder's model
    hub = "HuggingFaceTB/SmolLM2-135M-Instruct"
    assert shared_engine_spec(hub) == EngineSpec("transformers", hub)
    (tmp_path / "zoo" / "tiny-chat").mkdir(parents=True)
    assert shared_engine_spec(str(tmp_path / "zoo" / "tiny-chat")).model == str(tmp_path / "zoo" / "tiny-chat")
    monkeypatch.setenv("NBCHAT_MODEL_PATH", str(tmp_path / "zoo"))
    assert shared_engine_spec("tiny-chat") == EngineSpec("transformers", str(tmp_path / "zoo" / "tiny-chat"))

    command = engine_command(EngineSpec("llama.cpp", "embedded"), 8123, 6, 2048)
    assert command[1:5] == ["-m", "nbchat", "serve", "embedded"]
    assert command[5:] == ["--slots", "6", "--ctx-per-slot", "2048", "--threads", "1", "--host", "127.0.0.1",
                           "--port", "8123"]  # fmt: skip
    command = engine_command(EngineSpec("transformers", hub), 8124, 4, 1000)
    at = command.index("serve")
    assert command[at : at + 3] == ["serve", hub, "--continuous-batching"]
    # the KV cache is bounded by slots x context (4 x 1000 tokens in blocks of 32: 125 blocks), not by the machine
    assert command[command.index("--cb-num-blocks") + 1] == "125"
    assert command[-4:] == ["--host", "127.0.0.1", "--port", "8124"]


def test_the_room_engine_goes_into_the_notebook_and_voila_gets_the_room(bots: Path, tmp_path: Path) -> None:
    from nbchat._web import voila_room_options

    args = parse("--system", "Be brief.")
    args.engine_url, args.engine_model = "http://127.0.0.1:8123/v1", "SmolLM2-135M-Instruct"
    code = notebook_code(args, bots)
    assert "nbchat.Chat('http://127.0.0.1:8123/v1', model='SmolLM2-135M-Instruct', system_prompt='Be brief.')" in code
    room = voila_room_options(12, 600)
    assert "--RoomKernelManager.max_kernels=12" in room
    assert "--VoilaConfiguration.multi_kernel_manager_class=nbchat._web.RoomKernelManager" in room
    assert {"--MappingKernelManager.cull_idle_timeout=600", "--MappingKernelManager.cull_connected=True"} <= set(room)
    assert not [o for o in voila_room_options(0, 0) if "cull" in o]  # --idle-timeout 0: never culled
    assert not [o for o in room if "preheat" in o or "pool_size" in o]  # no pool unless asked
    pooled = voila_room_options(12, 600, preheat=3)
    assert {"--preheat_kernel=True", "--VoilaConfiguration.default_pool_size=3"} <= set(pooled)
    assert "--VoilaKernelManager.fill_delay=60" in pooled  # the pool is filled again after a wave of visitors
    command = voila_command(tmp_path / "nb.ipynb", "127.0.0.1", 20501, "light", room)
    assert command[-len(room) :] == list(room)


def test_dry_run_prints_the_engine_for_llama_cpp_and_transformers_models(
    in_bots: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli.main(["web", "--dry-run", "--slots", "3"]) == 0
    out = capsys.readouterr().out
    assert "-m nbchat serve embedded --slots 3" in out
    assert "--RoomKernelManager.max_kernels=12" in out  # 4 visitors per slot by default
    assert "--preheat_kernel=True" in out
    assert "--VoilaConfiguration.default_pool_size=3" in out  # one preheated kernel per slot by default
    assert "--threads 1" in out  # the small embedded model: one llama.cpp thread, the page server has the rest
    assert _cli.main(["web", "--dry-run", "--slots", "3", "--max-visitors", "2"]) == 0
    assert "--VoilaConfiguration.default_pool_size=2" in capsys.readouterr().out  # never more than the room holds
    assert _cli.main(["web", "--dry-run", "--preheat", "0"]) == 0
    assert "preheat" not in capsys.readouterr().out.split("voila", 1)[1]
    assert _cli.main(["web", "--dry-run", "--preheat", "-1"]) != 0
    assert "--preheat cannot be negative" in capsys.readouterr().err
    assert _cli.main(["web", "--dry-run", "--engine", "per-kernel"]) == 0
    out = capsys.readouterr().out
    assert "nbchat serve" not in out
    assert "nbchat.Chat()" in out
    assert _cli.main(["web", "HuggingFaceTB/SmolLM2-135M-Instruct", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "serve HuggingFaceTB/SmolLM2-135M-Instruct --continuous-batching" in out
    assert "nbchat.Chat('http://127.0.0.1:" in out  # every visitor's kernel talks to the engine


def test_the_page_template_carries_both_languages(tmp_path: Path) -> None:
    import json

    from nbchat._i18n import LANGS, MESSAGES
    from nbchat._web import PAGE_KEYS, page_texts, write_page_template

    texts = page_texts()  # from the one catalogue, nbchat/i18n.json: a key missing in a language fails here
    assert set(texts) == set(LANGS)
    assert all(texts[lang][key] == MESSAGES[lang][f"web.{key}"] for lang in LANGS for key in PAGE_KEYS)
    assert texts["en"]["full.title"] != texts["zh"]["full.title"]
    target = write_page_template(tmp_path, "zh", 8)
    assert json.loads((target / "conf.json").read_text()) == {"base_template": "lab"}
    assert {"index.html.j2", "503.html", "nbchat_texts.html"} <= {p.name for p in target.iterdir()}
    data = (target / "nbchat_texts.html").read_text(encoding="utf-8")
    config = json.loads(data.split(">", 1)[1].rsplit("</script>", 1)[0])
    assert config["lang"] == "zh"
    assert config["visitors"] == 8
    assert config["texts"]["zh"]["full.title"] == "聊天室已满"


def test_the_page_is_nbchats_own_unless_voilas_is_asked_for(tmp_path: Path) -> None:
    from nbchat._web import write_page_template

    target = write_page_template(tmp_path / "nbchat", None, 4)  # the default: nbchat's page, one script
    index = (target / "index.html.j2").read_text()
    assert 'include_js("static/web.js", True)' in index
    assert "voila_setup_labextensions" not in index  # none of Voila's front-end: not its bundle, not labextensions
    assert "http" not in index  # nothing loaded from elsewhere
    assert (target / "static" / "web.js").stat().st_size > 100_000  # the built js/web/page.ts
    target = write_page_template(tmp_path / "voila", None, 4, page="voila")
    index = (target / "index.html.j2").read_text()
    assert 'include_js("static/voila_page.js")' in index  # Voila's lab page, with the repair
    assert "super()" in index
    assert (target / "static" / "voila_page.js").stat().st_size > 1_000  # the built js/web/voila_page.ts
    assert not (target / "static" / "web.js").exists()
    with pytest.raises(ValueError, match="choose one of nbchat, voila"):
        write_page_template(tmp_path / "other", None, 4, page="lab")


def test_the_kernel_manager_turns_visitors_away_past_the_limit() -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    # an event loop of its own, in a thread: the browser tests' Playwright (sync API) keeps a loop running in this one
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _turned_away()).result(timeout=300)


async def _turned_away() -> None:
    from tornado import web

    from nbchat._web import RoomKernelManager

    manager = RoomKernelManager(max_kernels=1)
    first = await manager.start_kernel(kernel_name="python3")
    try:
        with pytest.raises(web.HTTPError) as full:
            await manager.start_kernel(kernel_name="python3")
        assert full.value.status_code == 503
        assert len(manager) == 1
    finally:
        await manager.shutdown_kernel(first, now=True)
    second = await manager.start_kernel(kernel_name="python3")  # the place is free again
    await manager.shutdown_kernel(second, now=True)


def test_a_visitor_whose_page_closed_leaves_and_frees_the_place() -> None:
    """The last WebSocket of a visitor's kernel closes (the tab closed; Voila's own shutdown request is refused,
    voila#1458): after ``left_after`` seconds without a new connection the kernel is shut down and the place is free;
    a page that reconnects within that time keeps its kernel."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _left()).result(timeout=300)


async def _left() -> None:
    import asyncio

    from tornado import web

    from nbchat._web import RoomKernelManager

    manager = RoomKernelManager(max_kernels=1, left_after=0.5)
    stays = await manager.start_kernel(kernel_name="python3")
    try:
        manager.notify_connect(stays)
        manager.notify_disconnect(stays)  # a network blip...
        manager.notify_connect(stays)  # ...and the page is back within left_after
        await asyncio.sleep(1.5)
        assert stays in manager.list_kernel_ids()
        with pytest.raises(web.HTTPError):  # the room (of one) is still full
            await manager.start_kernel(kernel_name="python3")
        manager.notify_disconnect(stays)  # the tab closes
        for _ in range(100):
            if stays not in manager.list_kernel_ids():
                break
            await asyncio.sleep(0.1)
        assert stays not in manager.list_kernel_ids()
        assert manager.visitors == 0
        newcomer = await manager.start_kernel(kernel_name="python3")  # the place is free again
        await manager.shutdown_kernel(newcomer, now=True)
    finally:
        for kernel_id in manager.list_kernel_ids():
            await manager.shutdown_kernel(kernel_id, now=True)


def test_preheated_kernels_wait_outside_the_room_and_are_taken_within_it() -> None:
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _preheated()).result(timeout=300)


async def _preheated() -> None:
    import datetime
    import os

    from tornado import web

    from nbchat._web import RoomKernelManager

    class Pooled(RoomKernelManager):
        """Stands for the class Voila's ``voila_kernel_manager_factory`` makes with ``preheat_kernel=True``
        (voila 0.5.13, ``voila/voila_kernel_manager.py``): its ``get_rendered_notebook`` pops a kernel started with
        ``VOILA_PREHEAT=True`` from the pool and returns ``(render_task, rendered_cache, kernel_id)``."""

        pool: list[str]

        async def get_rendered_notebook(self, notebook_name: str, **kwargs: object) -> tuple[None, list[str], str]:
            return None, [], self.pool.pop(0)

    manager = Pooled(max_kernels=1)
    env = {**os.environ, "VOILA_PREHEAT": "True"}
    manager.pool = [await manager.start_kernel(kernel_name="python3", env=env) for _ in range(2)]
    try:
        assert len(manager) == 2
        assert manager.visitors == 0  # waiting kernels are not visitors
        long_ago = datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc)
        for kernel_id in manager.pool:  # waited in the pool longer than any --idle-timeout
            manager.get_kernel(kernel_id).last_activity = long_ago
        _, _, taken = await manager.get_rendered_notebook("page.ipynb")
        assert manager.visitors == 1
        assert manager.get_kernel(taken).last_activity > long_ago  # not culled before the visitor's page connects
        with pytest.raises(web.HTTPError) as full:  # the room is full: the pool's other kernel is not handed out
            await manager.get_rendered_notebook("page.ipynb")
        assert full.value.status_code == 503
        assert len(manager.pool) == 1
        with pytest.raises(web.HTTPError):  # nor is a kernel started for a visitor
            await manager.start_kernel(kernel_name="python3")
        await manager.shutdown_kernel(taken, now=True)
        _, _, taken = await manager.get_rendered_notebook("page.ipynb")  # the place is free again
        assert manager.visitors == 1
    finally:
        for kernel_id in manager.list_kernel_ids():
            await manager.shutdown_kernel(kernel_id, now=True)
