"""nbchat.Compare: several conversations side by side, driven like the browser would (recording comm, fake models)."""

from __future__ import annotations

import json
import re
import threading
import time
from typing import Any

import pytest

import nbchat
from nbchat.compare import RESULT_COLUMNS
from nbchat.testing import FakeBackend, RecordingComm

PROMPT = "Has math been invented or discovered?"


def fakes(*lengths: int, delay: float = 0.0, prefix: str = "model") -> list[FakeBackend]:
    """One fake per length, named ``<prefix>-0``, ...; each will stream ``length`` one-word chunks."""
    out = []
    for i, n in enumerate(lengths):
        fake = FakeBackend(delay=delay, model=f"{prefix}-{i}")
        fake.enqueue([f"w{j} " for j in range(n)])
        out.append(fake)
    return out


def make(comms: list[RecordingComm], models: Any, **kwargs: Any) -> tuple[nbchat.Compare, RecordingComm]:
    kwargs.setdefault("prepare", "now")
    kwargs.setdefault("max_new_tokens", 1000)
    cmp = nbchat.Compare(models, **kwargs)
    return cmp, comms[-1]


def wait_until(predicate: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def idle(cmp: nbchat.Compare) -> bool:
    return not any(c.conversation.busy for c in cmp.columns)


def browser(cmp: nbchat.Compare, **content: Any) -> None:
    """What the front-end sends: ``{"kind": ..., ...}``."""
    cmp._handle_custom_msg(content, [])


# ---------------------------------------------------------------------------------------------- concurrency
def test_columns_stream_at_the_same_time(comms: list[RecordingComm]) -> None:
    models = fakes(10, 20, 30, delay=0.02)
    cmp, comm = make(comms, models)
    spans: dict[str, list[float]] = {}

    def watch(name: str) -> Any:
        def on_event(event: nbchat.ConversationEvent) -> None:
            if event.kind == "delta":
                spans.setdefault(name, [time.perf_counter()])
            elif event.kind == "message" and event.message is not None and event.message.status == "done":
                spans[name].append(time.perf_counter())

        return on_event

    for col in cmp.columns:
        col.conversation.subscribe(watch(col.name))
    started = time.perf_counter()
    answers = cmp.ask(PROMPT)
    wall = time.perf_counter() - started

    assert answers == {f"model-{i}": "".join(f"w{j} " for j in range(n)) for i, n in enumerate((10, 20, 30))}
    print(f"{wall:.2f} s for a turn whose slowest column needs {30 * 0.02:.2f} s")
    # the columns ran at the same time: every one had streamed its first text before the first one finished
    firsts, ends = [s[0] for s in spans.values()], [s[1] for s in spans.values()]
    assert len(spans) == 3
    assert max(firsts) < min(ends)
    # deltas are tagged with their column and batched per column
    deltas = comm.custom("delta")
    by_column = {c.id: "".join(d["text"] for d in deltas if d["column"] == c.id) for c in cmp.columns}
    assert by_column == {c.id: answers[c.name] for c in cmp.columns}
    assert len(deltas) < 60
    cmp.close()


def test_one_failing_column_does_not_stop_the_others(comms: list[RecordingComm]) -> None:
    good, bad, slow = FakeBackend(model="good"), FakeBackend(model="bad"), FakeBackend(model="slow", delay=0.02)
    good.enqueue(["fine ", "answer"])
    bad.enqueue(["par", "tial"], error=RuntimeError("server went away"))
    slow.enqueue(["still ", "going ", "strong"])
    cmp, _ = make(comms, [good, bad, slow])
    answers = cmp.ask(PROMPT)
    assert answers == {"good": "fine answer", "bad": "partial", "slow": "still going strong"}

    failed = cmp.conversations["bad"].history[-1]
    assert (failed.status, failed.content) == ("error", "partial")
    assert "server went away" in (failed.error or "")
    shown = cmp._messages[cmp.columns[1].id][-1]
    assert (shown["status"], shown["content"]) == ("error", "partial")
    rows = cmp.results.set_index("column")
    assert list(rows["status"]) == ["done", "error", "done"]
    assert "server went away" in rows.loc["bad", "error"]
    assert rows.loc["slow", "reply"] == "still going strong"
    cmp.close()


def test_stop_one_column_then_all(comms: list[RecordingComm]) -> None:
    cmp, _ = make(comms, fakes(200, 200, 200, delay=0.01))
    futures = cmp.send_message("count")
    wait_until(lambda: all(c.conversation.partial_reply() and c.conversation.partial_reply()[1] for c in cmp.columns))
    browser(cmp, kind="stop", column=cmp.columns[0].id)  # the first column's own Stop button
    assert futures["model-0"].result(5).status == "stopped"
    time.sleep(0.05)
    assert not futures["model-1"].done()
    assert not futures["model-2"].done()
    browser(cmp, kind="stop")  # the shared Stop
    statuses = [f.result(5).status for f in futures.values()]
    assert statuses == ["stopped"] * 3
    assert all(0 < len(f.result().content) < len("w0 ") * 200 for f in futures.values())  # partial text kept
    wait_until(lambda: cmp.status == "ready")
    cmp.close()


def test_a_busy_turn_refuses_a_new_prompt(comms: list[RecordingComm]) -> None:
    cmp, comm = make(comms, fakes(50, 5, delay=0.01))
    browser(cmp, kind="submit", text="first")
    browser(cmp, kind="submit", text="second")
    assert "still answering" in comm.custom("notice")[-1]["text"]
    browser(cmp, kind="submit", text="   ")
    assert "empty" in comm.custom("notice")[-1]["text"]
    cmp.stop()
    wait_until(lambda: idle(cmp))
    assert [t["prompt"] for t in cmp._turns] == ["first"]
    cmp.close()


# ---------------------------------------------------------------------------------------------- results
def test_results_has_one_row_per_turn_and_column(comms: list[RecordingComm]) -> None:
    cmp, _ = make(comms, fakes(3, 4), temperature=0, system_prompt="Be brief.")
    cmp.ask("one")
    cmp.columns[0].conversation.backend.enqueue(["again"])  # type: ignore[attr-defined]
    cmp.ask("two")
    frame = cmp.results
    assert tuple(frame.columns) == RESULT_COLUMNS
    assert list(zip(frame["turn"], frame["column"], strict=True)) == [
        (1, "model-0"), (1, "model-1"), (2, "model-0"), (2, "model-1"),
    ]  # fmt: skip
    first = frame.iloc[0]
    assert (first["model"], first["prompt"], first["reply"], first["status"]) == ("model-0", "one", "w0 w1 w2 ", "done")
    assert (first["temperature"], first["system_prompt"], first["tokens"]) == (0.0, "Be brief.", 3)
    assert first["ttft_s"] is not None
    assert first["tokens_per_s"] is not None
    assert "temperature=0" in first["settings"]
    assert frame["vote"].isna().all()
    # each column keeps its own history: turn two of model-1 was sent with turn one before it
    messages, _ = cmp.columns[1].conversation.backend.requests[-1]  # type: ignore[attr-defined]
    assert [m["content"] for m in messages] == ["Be brief.", "one", "w0 w1 w2 w3 ", "two"]
    assert [m["turn"] for m in cmp._messages[cmp.columns[1].id]] == [1, 1, 2, 2]
    cmp.close()


# ---------------------------------------------------------------------------------------------- blind mode
def test_blind_mode_never_sends_names_until_revealed(comms: list[RecordingComm]) -> None:
    models = fakes(3, 3, 3, prefix="secretmodel")
    cmp, comm = make(comms, models, blind=True, shuffle=False)
    assert [c["name"] for c in cmp._columns] == ["A", "B", "C"]
    cmp.ask(PROMPT)
    assert list(cmp.conversations) == ["A", "B", "C"]
    browser(cmp, kind="sync")
    sent_so_far = json.dumps(comm.sent)
    assert "secretmodel" not in sent_so_far, "a model name reached the browser in blind mode"
    assert "secretmodel" not in json.dumps(cmp.get_state())
    assert set(cmp.results["model"]) == {"(hidden)"}
    assert list(cmp.results["column"]) == ["A", "B", "C"]

    browser(cmp, kind="vote", turn=1, winner=cmp.columns[1].id)  # "B is better"
    assert cmp.revealed
    assert [c["name"] for c in cmp._columns] == ["secretmodel-0", "secretmodel-1", "secretmodel-2"]
    assert cmp.votes == [
        {"turn": 1, "prompt": PROMPT, "winner": "secretmodel-1", "columns": [f"secretmodel-{i}" for i in range(3)]}
    ]
    assert list(cmp.results["vote"]) == ["loss", "win", "loss"]
    cmp.close()


def test_blind_toggle_shuffles_and_reveal_button(comms: list[RecordingComm]) -> None:
    cmp, comm = make(comms, fakes(1, 1, 1, 1, 1, 1), shuffle=True)
    before = [c.name for c in cmp.columns]
    cmp.set_state({"blind": True})  # the toggle in the browser
    assert [c["name"] for c in cmp._columns] == ["A", "B", "C", "D", "E", "F"]
    assert sorted(c.name for c in cmp.columns) == sorted(before)
    assert all(c["label"] == "" for c in cmp._columns)
    with pytest.raises(ValueError, match="Nothing to vote on"):
        cmp.vote("A")
    cmp.ask("hi")
    cmp.vote("tie")
    assert list(cmp.results["vote"]) == ["tie"] * 6
    cmp.set_state({"blind": False})
    cmp.set_state({"blind": True})
    assert not cmp.revealed
    browser(cmp, kind="reveal")
    assert cmp.revealed
    assert [c["name"] for c in cmp._columns] == [c.name for c in cmp.columns]
    browser(cmp, kind="vote", turn=7, winner="tie")
    assert "no turn 7" in comm.custom("notice")[-1]["text"]
    cmp.close()


# ---------------------------------------------------------------------------------------------- sweeps
def test_sweep_gives_one_column_per_setting_on_one_backend(comms: list[RecordingComm]) -> None:
    fake = FakeBackend(model="tiny")
    cmp = nbchat.Compare.sweep(fake, temperature=[0, 0.7, 1.2], max_new_tokens=50)
    assert [c.name for c in cmp.columns] == ["temperature=0", "temperature=0.7", "temperature=1.2"]
    assert all(c.conversation.backend is fake for c in cmp.columns)  # one model object, not three
    cmp.ask("hi")
    sent = sorted(settings.temperature for _, settings in fake.requests)
    assert sent == [0.0, 0.7, 1.2]
    assert {settings.max_new_tokens for _, settings in fake.requests} == {50}
    assert [c["settings"]["temperature"] for c in cmp._columns] == [0.0, 0.7, 1.2]
    grid = nbchat.Compare.sweep(nbchat.Conversation(fake), temperature=[0, 1], max_new_tokens=[8, 16])
    assert len(grid.columns) == 4
    assert grid.columns[3].name == "temperature=1, max_new_tokens=16"
    with pytest.raises(ValueError, match="Nothing to sweep"):
        nbchat.Compare.sweep(fake, temperature=[])
    cmp.close()
    grid.close()


def test_use_history_is_a_column_setting_and_history_its_old_name(comms: list[RecordingComm]) -> None:
    fake = FakeBackend(model="tiny")
    cmp = nbchat.Compare.sweep(fake, use_history=[True, False])
    assert [c.conversation.use_history for c in cmp.columns] == [True, False]
    assert [c["settings"]["use_history"] for c in cmp._columns] == [True, False]
    with pytest.warns(DeprecationWarning, match="use use_history="):
        cmp.configure(history=True)
    assert [c.conversation.use_history for c in cmp.columns] == [True, True]
    with pytest.raises(TypeError, match="Unknown setting"):
        cmp.configure(memory=False)
    cmp.close()


def test_columns_on_one_local_model_share_its_weights(
    comms: list[RecordingComm], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Columns built from the same local spec get separate backends over one loaded copy (the _LOADED cache)."""
    from nbchat.backends import transformers as local

    loads: list[str] = []

    def fake_load(self: Any, dtype: Any, report: Any) -> tuple[Any, Any]:
        loads.append(self.source)
        return _Model(), object()

    class _Model:
        config = type("Config", (), {"max_position_embeddings": 2048})()

    monkeypatch.setattr(local.TransformersBackend, "_load_weights", fake_load)
    monkeypatch.setattr(local, "_LOADED", {})
    spec = str(local.Path(__file__))  # any existing path: the loader above never reads it
    cmp = nbchat.Compare.sweep(spec, temperature=[0, 0.7, 1.2], prepare="now", device="cpu", dtype="float32")
    backends = [c.conversation.backend for c in cmp.columns]
    assert len({id(b) for b in backends}) == 3  # own backends (own prefix caches) ...
    assert all(b._model is backends[0]._model for b in backends)  # ... over one copy of the weights
    assert loads == [spec]
    cmp.close()


# ---------------------------------------------------------------------------------------------- columns from the UI
def test_add_from_the_browser_and_bad_specs_become_notices(comms: list[RecordingComm], tmp_path: Any) -> None:
    cmp, comm = make(comms, fakes(1))
    browser(cmp, kind="add", name="srv", spec="http://127.0.0.1:9/v1", model="served-model")
    assert [c["name"] for c in cmp._columns] == ["model-0", "srv"]
    assert cmp.columns[1].conversation.backend.model == "served-model"
    for bad, expected in [
        ({"spec": "nonsense:foo"}, "Unknown source"),
        ({"spec": str(tmp_path / "missing.gguf")}, "does not exist"),
        ({"spec": ""}, "Type a model"),
        ({"spec": "http://127.0.0.1:9/v1", "name": "srv"}, "already a column named"),
    ]:
        browser(cmp, kind="add", **bad)
        assert expected in comm.custom("notice")[-1]["text"]
    assert len(cmp.columns) == 2
    cmp.close()


def test_move_and_remove_columns(comms: list[RecordingComm]) -> None:
    mine = nbchat.Conversation(FakeBackend(model="mine"), prepare="now")
    cmp, comm = make(comms, [*fakes(1, 1), mine])
    ids = [c.id for c in cmp.columns]
    browser(cmp, kind="move", column=ids[2], step=-1)
    assert [c["id"] for c in cmp._columns] == [ids[0], ids[2], ids[1]]
    browser(cmp, kind="move", column=ids[0], step=-1)  # already first: stays
    assert [c["id"] for c in cmp._columns] == [ids[0], ids[2], ids[1]]
    cmp.ask("hi")
    browser(cmp, kind="remove", column=ids[2])
    assert [c.name for c in cmp.columns] == ["model-0", "model-1"]
    assert ids[2] not in cmp._messages
    assert mine.ask("still usable") == "You said: still usable"  # a conversation passed in is not closed
    assert len(cmp.results) == 3  # its answers stay in the results
    browser(cmp, kind="remove", column="nope")
    assert "No column 'nope'" in comm.custom("notice")[-1]["text"]
    cmp.close()


def test_settings_for_one_column_or_all(comms: list[RecordingComm]) -> None:
    cmp, comm = make(comms, fakes(1, 1), temperature=0.7)
    a, b = cmp.columns
    browser(cmp, kind="settings", column=a.id, values={"max_new_tokens": 12, "system_prompt": "Terse."})
    assert (a.conversation.settings.max_new_tokens, b.conversation.settings.max_new_tokens) == (12, 1000)
    assert a.conversation.system_prompt == "Terse."
    browser(cmp, kind="settings", values={"temperature": 0})
    assert [c.conversation.settings.temperature for c in cmp.columns] == [0.0, 0.0]
    browser(cmp, kind="settings", values={"temperature": 9, "max_new_tokens": 5})
    assert "temperature" in comm.custom("notice")[-1]["text"]
    assert b.conversation.settings.max_new_tokens == 1000  # nothing half-applied
    assert cmp._columns[0]["settings"]["system_prompt"] == "Terse."
    cmp.add(FakeBackend(model="late"))
    assert cmp.columns[-1].conversation.settings.temperature == 0.0  # later columns follow the shared settings
    cmp.close()


def test_model_forms_names_and_pairs(comms: list[RecordingComm]) -> None:
    chat = nbchat.Chat(FakeBackend(model="in-a-chat"), prepare="now")
    cmp = nbchat.Compare(
        [
            ("first", FakeBackend(model="x")),
            {"name": "srv", "spec": "http://127.0.0.1:9/v1", "model": "qwen", "temperature": 0},
            chat,
            ("http://127.0.0.1:9/v1", {"model": "served-name"}),
            FakeBackend(model="x"),
            FakeBackend(model="x"),
        ],
        prepare="lazy",
    )
    assert [c.name for c in cmp.columns] == ["first", "srv", "in-a-chat", "served-name", "x", "x (2)"]
    assert cmp.columns[1].conversation.settings.temperature == 0.0
    assert cmp.columns[2].conversation is chat.conversation
    by_name = nbchat.Compare({"left": FakeBackend(), "right": FakeBackend()})
    assert [c.name for c in by_name.columns] == ["left", "right"]
    with pytest.raises(ValueError, match="already a column"):
        by_name.add(FakeBackend(), name="left")
    with pytest.raises(ValueError, match="no models"):
        nbchat.Compare().ask("hi")
    assert repr(by_name) == "<nbchat.Compare left, right · 0 turns>"
    cmp.close()
    by_name.close()


def test_a_view_opened_mid_stream_gets_every_partial_reply(comms: list[RecordingComm]) -> None:
    cmp, comm = make(comms, fakes(100, 100, delay=0.01))
    cmp.send_message("go")
    wait_until(lambda: all(c.conversation.partial_reply() and c.conversation.partial_reply()[1] for c in cmp.columns))
    browser(cmp, kind="sync")
    syncs = {m["column"]: m for m in comm.custom("sync")}
    assert set(syncs) == {c.id for c in cmp.columns}
    assert all(m["text"].startswith("w0 ") for m in syncs.values())
    cmp.stop()
    wait_until(lambda: idle(cmp))
    cmp.close()


def test_state_stays_consistent_under_concurrent_updates(comms: list[RecordingComm]) -> None:
    """Many columns finishing at once: the last synced state matches the conversations (no stale overwrite)."""
    cmp, _ = make(comms, fakes(*([5] * 6), delay=0.002))
    for _ in range(3):
        for col in cmp.columns:
            col.conversation.backend.enqueue(["a ", "b"])  # type: ignore[attr-defined]
    stop = threading.Event()

    def poke() -> None:
        while not stop.is_set():
            cmp._request_sync()
            time.sleep(0.001)

    poker = threading.Thread(target=poke)
    poker.start()
    try:
        for n in range(4):
            cmp.ask(f"turn {n}")
    finally:
        stop.set()
        poker.join()
    time.sleep(0.1)
    cmp._sync()
    for col in cmp.columns:
        assert [m["content"] for m in cmp._messages[col.id]] == [m.content for m in col.conversation.history]
    assert all(t["done"] for t in cmp._turns)
    assert cmp.status == "ready"
    cmp.close()


# ---------------------------------------------------------------------------------------------- real models
QUESTION = "Which animals live in the savanna?"


@pytest.mark.model
@pytest.mark.server
@pytest.mark.usefixtures("embedded_ready")
def test_two_embedded_columns_and_a_served_one(comms: list[RecordingComm], transformers_serve: Any) -> None:
    """Two columns on the embedded SmolLM2 (one loaded copy) and one on `transformers serve` at 127.0.0.1."""
    from nbchat.backends.transformers import TransformersBackend

    served = transformers_serve
    cmp = nbchat.Compare(
        [
            ("greedy", {"spec": TransformersBackend.embedded(), "temperature": 0}),
            ("warm", {"spec": TransformersBackend.embedded(), "temperature": 0.9}),
            ("served", {"spec": served.base_url, "model": served.model, "timeout": 120}),
        ],
        max_new_tokens=12,
        prepare="now",
    )
    comm = comms[-1]
    local = [c.conversation.backend for c in cmp.columns[:2]]
    assert local[0] is not local[1]
    assert local[0]._model is local[1]._model  # type: ignore[attr-defined]  # shared weights

    answers = cmp.ask(QUESTION, timeout=240)
    assert set(answers) == {"greedy", "warm", "served"}
    assert all(text.strip() for text in answers.values()), (answers, served.log_tail())
    frame = cmp.results
    assert list(frame["status"]) == ["done"] * 3, frame[["column", "status", "error"]]
    assert all(1 <= t <= 12 for t in frame["tokens"])
    assert list(frame["model"])[2] == served.model
    deltas = comm.custom("delta")
    assert {d["column"] for d in deltas} == {c.id for c in cmp.columns}
    cmp.close()


def weights(backend: Any) -> Any:
    """The loaded model of a local backend (llama.cpp's engine, llama-cpp-python's Llama, transformers' model)."""
    if backend.kind == "llama.cpp":
        return backend._shared.server
    return backend._shared.llm if backend.kind == "llama-cpp-python" else backend._model


@pytest.mark.model
@pytest.mark.usefixtures("embedded_ready")
def test_sweep_of_the_embedded_chat_shares_one_copy(comms: list[RecordingComm]) -> None:
    chat = nbchat.Chat(prepare="now", max_new_tokens=6)
    cmp = nbchat.Compare.sweep(chat, temperature=[0, 1.0])
    backends = [c.conversation.backend for c in cmp.columns]
    for col in cmp.columns:
        col.conversation.wait_until_ready(120)
    assert backends[0] is not chat.conversation.backend
    assert weights(backends[0]) is weights(backends[1]) is weights(chat.conversation.backend)
    answers = cmp.ask(QUESTION, timeout=120)
    assert list(answers) == ["temperature=0", "temperature=1"]
    assert all(answers.values())
    assert list(cmp.results["max_new_tokens"]) == [6, 6]
    cmp.close()


def test_reasoning_streams_into_its_column(comms: list[RecordingComm]) -> None:
    from nbchat.backends import Reasoning

    thinker, plain = FakeBackend(model="thinker", delay=0.002), FakeBackend(model="plain")
    thinker.enqueue([Reasoning("Hmm, "), Reasoning("discovered."), "Discovered."])
    plain.enqueue(["Invented."])
    cmp, comm = make(comms, [thinker, plain])
    assert cmp.ask(PROMPT) == {"thinker": "Discovered.", "plain": "Invented."}
    deltas = comm.custom("delta")
    column = {c.name: c.id for c in cmp.columns}
    assert "".join(d.get("reasoning", "") for d in deltas if d["column"] == column["thinker"]) == "Hmm, discovered."
    assert not any(d.get("reasoning") for d in deltas if d["column"] == column["plain"])
    committed = [m for m in cmp.columns[0].conversation.history if m.role == "assistant"]
    assert committed[-1].reasoning == "Hmm, discovered."
    cmp.close()


# ---------------------------------------------------------------------------------------------- as in Chat
def test_starter_prompts_and_export_as_in_chat(comms: list[RecordingComm]) -> None:
    cmp, comm = make(comms, fakes(2, 3), prompts=["  What is a token?  ", ""])
    assert cmp.prompts == ["What is a token?"]
    with pytest.raises(TypeError, match="list of strings"):
        nbchat.Compare([], prompts="one string")  # type: ignore[arg-type]
    cmp.ask("What is a token?")
    browser(cmp, kind="export", format="markdown")
    md = comm.custom("export")[-1]
    assert md["format"] == "markdown"
    assert re.fullmatch(r"compare-2-models-\d{8}-\d{4}\.md", md["filename"])
    assert "## Turn 1" in md["text"]
    assert "What is a token?" in md["text"]
    assert "### model-0" in md["text"]
    assert "w0 w1" in md["text"]
    browser(cmp, kind="export", format="json")
    rows = json.loads(comm.custom("export")[-1]["text"])
    assert [(r["turn"], r["column"], r["reply"]) for r in rows] == [
        (1, "model-0", "w0 w1 "),
        (1, "model-1", "w0 w1 w2 "),
    ]
    cmp.blind = True
    assert "model-0" not in cmp.to_markdown()  # blind: letters, no model names
    cmp.lang = "zh"  # the export's own words follow the widget's language
    assert cmp.to_markdown().startswith("# nbchat 模型对比\n\n## 第 1 轮\n\n**提示**")
    cmp.close()
