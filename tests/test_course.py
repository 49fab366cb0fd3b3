"""Course features on the kernel side: language choice, keyed notices, starter prompts, export, feedback.

The widget's traffic is recorded with a fake comm (no kernel, no browser); the browser side is in
js/__tests__/i18n.test.ts, js/__tests__/course.test.ts and tests/browser/test_course.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import nbchat
from nbchat._cli import build_parser, notebook_code
from nbchat._i18n import MESSAGES, keyed, keyed_text, normalize_lang, notice
from nbchat.testing import FakeBackend, RecordingComm

ROOT = Path(__file__).resolve().parent.parent


def make_chat(comms: list[RecordingComm], **kwargs: object) -> tuple[nbchat.Chat, FakeBackend, RecordingComm]:
    fake = FakeBackend()
    conv = nbchat.Conversation(fake, prepare="now")
    chat = nbchat.Chat(conversation=conv, **kwargs)  # type: ignore[arg-type]
    return chat, fake, comms[-1]


# ---------------------------------------------------------------------------------------------- catalogue
def test_python_and_the_browser_read_one_catalogue_file() -> None:
    """nbchat/i18n.json is the catalogue of both sides: Python's MESSAGES is its content, js/i18n.ts imports it."""
    path = ROOT / "nbchat" / "i18n.json"
    assert json.loads(path.read_text(encoding="utf-8")) == MESSAGES
    assert len(MESSAGES["en"]) > 150
    assert 'from "../nbchat/i18n.json"' in (ROOT / "js" / "i18n.ts").read_text(encoding="utf-8")


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_language_has_every_key(lang: str) -> None:
    assert set(MESSAGES[lang]) == set(MESSAGES["en"])
    assert all(text.strip() for text in MESSAGES[lang].values())


def test_language_names() -> None:
    assert [normalize_lang(v) for v in ["zh-CN", "zh_Hans", "ZH", "en-GB", "auto", "", None, "fr"]] == [
        "zh",
        "zh",
        "zh",
        "en",
        "",
        "",
        "",
        None,
    ]


class _FailingBackend(FakeBackend):
    def prepare(self, progress: object = None) -> None:
        msg = "no such file"
        raise OSError(msg)


class _ProgressBackend(FakeBackend):
    def prepare(self, progress: object = None) -> None:
        progress("downloading model.gguf … 40%", 0.4)  # type: ignore[operator]


def test_status_lines_are_keyed_where_they_are_written() -> None:
    """nbchat's own status lines carry their catalogue key from where they are set; a backend's progress has none."""
    conv = nbchat.Conversation(FakeBackend(model="tiny"), prepare="lazy")
    assert conv.status_i18n == {"key": "py.status.loading", "params": {"model": "tiny"}}
    assert conv.status_text == "loading tiny…"
    conv.wait_until_ready()
    assert conv.status_i18n is not None
    assert conv.status_i18n["key"] in ("py.status.ready", "py.status.readyOn")
    assert conv.status_text == keyed_text(conv.status_i18n)
    lines: list[tuple[str, object]] = []
    progress = nbchat.Conversation(_ProgressBackend(model="tiny"), prepare="lazy")
    progress.subscribe(lambda e: lines.append((e.text, progress.status_i18n)) if e.kind == "status" else None)
    progress.wait_until_ready()
    assert ("downloading model.gguf … 40%", None) in lines  # a backend's own line, shown as written
    assert notice("warning", "py.busy", "zh")["text"] == "回复还在生成中；请等它结束或点击停止，然后再发送。"


def test_load_failure_and_retry_lines_have_keys() -> None:
    conv = nbchat.Conversation(_FailingBackend(model="tiny"), prepare="lazy")
    with pytest.raises(nbchat.NbchatError, match="Could not load tiny: no such file"):
        conv.wait_until_ready()
    assert conv.status_i18n == {"key": "py.status.loadFailed", "params": {"model": "tiny", "error": "no such file"}}
    assert conv.status_text == "Could not load tiny: no such file"
    assert keyed_text(conv.status_i18n, "zh") != conv.status_text
    retry = keyed("py.status.retrying", brief="server busy (429)", seconds="2", n=1, of=2)
    assert keyed_text(retry) == "server busy (429): retrying in 2 s… (1/2)"  # as run_reply writes it
    assert keyed_text(retry, "zh") != keyed_text(retry)
    with pytest.raises(KeyError):
        keyed("py.status.noSuchLine")


# ---------------------------------------------------------------------------------------------- language choice
def test_lang_argument_env_and_policy(comms: list[RecordingComm], monkeypatch: pytest.MonkeyPatch) -> None:
    chat, _, _ = make_chat(comms)
    assert chat.lang == ""  # the browser decides
    chat, _, _ = make_chat(comms, lang="zh-CN")
    assert chat.lang == "zh"
    monkeypatch.setenv("NBCHAT_LANG", "zh")
    chat, _, _ = make_chat(comms)
    assert chat.lang == "zh"
    chat, _, _ = make_chat(comms, lang="en")  # the argument wins over the administrator's default
    assert chat.lang == "en"
    with pytest.raises(ValueError, match="nbchat speaks en, zh"):
        make_chat(comms, lang="klingon")
    monkeypatch.setenv("NBCHAT_LANG", "klingon")
    with pytest.raises(nbchat.NbchatError, match=r"\$NBCHAT_LANG: lang = 'klingon'"):
        make_chat(comms)


def test_policy_file_sets_lang_and_prompts(
    comms: list[RecordingComm], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "nbchat.toml"
    config.write_text('lang = "zh"\nprompts = ["什么是 token？", "用一句话解释 {概念}"]\n', encoding="utf-8")
    monkeypatch.setenv("NBCHAT_CONFIG", str(config))
    chat, _, _ = make_chat(comms)
    assert (chat.lang, chat.prompts) == ("zh", ["什么是 token？", "用一句话解释 {概念}"])
    chat, _, _ = make_chat(comms, prompts=["Mine"])
    assert chat.prompts == ["Mine"]
    monkeypatch.delenv("NBCHAT_CONFIG")
    monkeypatch.setenv("NBCHAT_PROMPTS", "One?\nTwo?\n")
    assert make_chat(comms)[0].prompts == ["One?", "Two?"]
    assert "starter prompts: 2" in nbchat.current_policy().describe()


def test_prompts_must_be_a_list_of_strings(comms: list[RecordingComm]) -> None:
    with pytest.raises(TypeError, match="prompts must be a list of strings"):
        make_chat(comms, prompts="What is a token?")
    assert make_chat(comms, prompts=["  A  ", ""])[0].prompts == ["A"]


def test_compare_takes_lang(comms: list[RecordingComm]) -> None:
    cmp = nbchat.Compare({"a": FakeBackend()}, lang="zh")
    try:
        assert cmp.lang == "zh"
        cmp.columns[0].conversation.wait_until_ready(10)
        cmp.blind = True  # a hidden column's status names no model, in either language
        column = cmp._columns[0]
        assert column["status_i18n"] == {"key": "py.status.ready", "params": {}}
    finally:
        cmp.close()


# ---------------------------------------------------------------------------------------------- keyed notices
def test_notices_carry_catalogue_keys(comms: list[RecordingComm]) -> None:
    chat, _, comm = make_chat(comms, lang="zh")
    chat._handle_custom_msg({"kind": "submit", "text": "   "}, [])
    empty = comm.custom("notice")[-1]
    assert (empty["key"], empty["text"]) == ("py.empty", MESSAGES["zh"]["py.empty"])
    chat.set_state({"max_new_tokens": 10**6})
    lowered = comm.custom("notice")[-1]
    assert lowered["key"] == "py.lowered"
    assert lowered["params"]["label_key"] == "options.maxNewTokens"
    assert "最大生成长度" in lowered["text"]
    assert chat.status_i18n.get("key") in ("py.status.ready", "py.status.readyOn")


# ---------------------------------------------------------------------------------------------- export
def test_export_answers_with_the_markdown_and_the_saved_file(comms: list[RecordingComm], tmp_path: Path) -> None:
    chat, fake, comm = make_chat(comms)
    fake.enqueue(["Lions."])
    chat.ask("Which animals live in the savanna?")
    chat._handle_custom_msg({"kind": "export", "format": "markdown"}, [])
    chat._handle_custom_msg({"kind": "export", "format": "json"}, [])
    md, js = comm.custom("export")
    assert md["text"] == chat.to_markdown()
    assert re.fullmatch(r"chat-[\w.-]+-\d{8}-\d{4}\.md", md["filename"])
    saved = chat.save(tmp_path / "saved.json")
    assert json.loads(js["text"]) == json.loads(saved.read_text(encoding="utf-8"))
    downloaded = tmp_path / js["filename"]
    downloaded.write_text(js["text"], encoding="utf-8")
    again = nbchat.Chat.load(downloaded, FakeBackend())
    assert again.messages == chat.messages
    chat._handle_custom_msg({"kind": "export", "format": "pdf"}, [])  # refused by the protocol check
    assert "format" in comm.custom("notice")[-1]["text"]


# ---------------------------------------------------------------------------------------------- feedback
def test_feedback_from_the_widget_is_saved_collected_and_logged(comms: list[RecordingComm], tmp_path: Path) -> None:
    chat, fake, _ = make_chat(comms)
    fake.enqueue(["Lions."])
    chat.ask("Which animals live in the savanna?")
    log = tmp_path / "ratings.jsonl"
    chat.on_feedback(nbchat.FeedbackLog(log))
    answer = chat.conversation.history[-1]
    chat._handle_custom_msg({"kind": "feedback", "id": answer.id, "rating": "down", "comment": ""}, [])
    chat._handle_custom_msg({"kind": "feedback", "id": answer.id, "rating": "down", "comment": "Too short."}, [])
    assert answer.feedback is not None
    assert (answer.feedback["rating"], answer.feedback["comment"]) == ("down", "Too short.")
    assert chat._messages[-1]["feedback"]["rating"] == "down"  # the view sees it at once (the thumbs it pressed)

    records = chat.conversation.feedback_records()
    assert [(r["rating"], r["comment"], r["question"], r["answer"]) for r in records] == [
        ("down", "Too short.", "Which animals live in the savanna?", "Lions.")
    ]
    frame = chat.feedback
    pd = pytest.importorskip("pandas")
    assert isinstance(frame, pd.DataFrame)
    assert frame.loc[0, "comment"] == "Too short."

    lines = [json.loads(line) for line in log.read_text(encoding="utf-8").splitlines()]
    assert [(x["rating"], x["comment"]) for x in lines] == [("down", ""), ("down", "Too short.")]

    path = chat.save(tmp_path / "chat.json")
    loaded = nbchat.Conversation.load(path, FakeBackend())
    assert loaded.feedback_records() == records

    chat._handle_custom_msg({"kind": "feedback", "id": answer.id, "rating": None, "comment": ""}, [])
    assert answer.feedback is None
    assert chat.conversation.feedback_records() == []


def test_bad_feedback_is_refused_with_a_notice(comms: list[RecordingComm]) -> None:
    chat, fake, comm = make_chat(comms)
    fake.enqueue(["ok"])
    chat.ask("hi")
    question, answer = chat.conversation.history
    chat._handle_custom_msg({"kind": "feedback", "id": answer.id, "rating": "meh", "comment": ""}, [])
    assert "'rating' of a 'feedback' message" in comm.custom("notice")[-1]["text"]  # the protocol check
    with pytest.raises(ValueError, match="Only answers"):
        chat.conversation.set_feedback(question.id, "up")
    assert answer.feedback is None


def test_files_without_feedback_still_load(tmp_path: Path) -> None:
    conv = nbchat.Conversation(FakeBackend(), prepare="now")
    conv.messages = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    data = json.loads(conv.to_json())
    for m in data["messages"]:
        del m["feedback"]  # as written before the field existed
    path = tmp_path / "old.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    assert nbchat.Conversation.load(path, FakeBackend()).history[-1].feedback is None
    data["messages"][1]["feedback"] = {"rating": "great"}
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(nbchat.NbchatError, match='invalid "feedback"'):
        nbchat.Conversation.load(path, FakeBackend())


# ---------------------------------------------------------------------------------------------- nbchat web
def test_web_passes_prompts_lang_and_feedback_file(tmp_path: Path) -> None:
    prompts = ["--prompt", "什么是 token？", "--prompt", "解释 {概念}"]
    args = build_parser().parse_args(["web", "embedded", "--lang", "zh", *prompts, "--feedback", "f.jsonl"])
    code = notebook_code(args, tmp_path)
    assert "prompts=['什么是 token？', '解释 {概念}']" in code
    assert "lang='zh'" in code
    assert f"chat.on_feedback(nbchat.FeedbackLog({str(tmp_path / 'f.jsonl')!r}))" in code
    compile(code, "web.ipynb", "exec")
