"""Attachments: Python objects → images and text parts, how they are sent, saved, refused and capped."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

import nbchat
from nbchat._attachments import Attachment, AttachmentError, approx_tokens, image_attachment, text_attachment
from nbchat._convert import to_attachment
from nbchat._persist import VERSION, tree_from_dict
from nbchat.testing import FakeBackend


def png(width: int, height: int, color: tuple[int, int, int] = (200, 30, 30)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buf, format="PNG")
    return buf.getvalue()


def conversation(**kwargs: object) -> nbchat.Conversation:
    backend = kwargs.pop("backend", None) or FakeBackend(images=True)
    return nbchat.Conversation(backend, prepare="now", **kwargs)  # type: ignore[arg-type]


# ------------------------------------------------------------------------------------------------ converting
def test_dataframe_becomes_a_summary_within_the_token_budget() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({f"col{i}": np.arange(10_000) * i for i in range(30)})
    frame["city"] = ["Lagos", "Lima"] * 5_000
    small = to_attachment(frame, name="sales", tokens=300)
    assert small.kind == "text"
    assert small.name == "sales"
    assert approx_tokens(small.text) <= 300
    assert "shape (10000, 31)" in small.text
    assert "city: str" in small.text or "city: object" in small.text
    roomy = to_attachment(frame, name="sales", tokens=4000)
    assert "9999" in roomy.text  # the last row's index: head and tail are both shown
    assert "… 9990 rows …" in roomy.text
    assert len(roomy.text) > len(small.text)


def test_series_and_repr_respect_the_budget() -> None:
    pd = pytest.importorskip("pandas")
    series = pd.Series(range(100), name="age")
    assert "age: int64" in to_attachment(series).text
    long = to_attachment(list(range(100_000)), tokens=50)
    assert long.note.startswith("repr")
    assert approx_tokens(long.text) <= 50
    assert "characters left out" in long.text


def test_matplotlib_figure_becomes_a_png_with_a_thumbnail() -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4, 3), dpi=100)
    ax.plot([1, 2, 3], [3, 1, 2])
    attachment = to_attachment(fig)
    plt.close(fig)
    assert (attachment.kind, attachment.media_type, attachment.name) == ("image", "image/png", "figure")
    assert Image.open(io.BytesIO(attachment.data)).format == "PNG"
    assert attachment.thumbnail.startswith("data:image/jpeg;base64,")
    thumb = Image.open(io.BytesIO(base64.b64decode(attachment.thumbnail.partition(",")[2])))
    assert max(thumb.size) <= 96


def test_numpy_array_and_downscaling() -> None:
    array = np.zeros((3000, 1500, 3), dtype=np.uint8)
    array[:, :, 1] = 255
    attachment = to_attachment(array, max_side=512)
    assert (attachment.width, attachment.height) == (256, 512)
    assert "downscaled from 1500×3000" in attachment.note
    with pytest.raises(AttachmentError, match="uint8"):
        to_attachment(np.zeros((4, 4, 3), dtype=np.float64))


def test_an_image_of_too_many_pixels_is_refused_before_decoding() -> None:
    buf = io.BytesIO()
    Image.new("1", (9000, 8000)).save(buf, format="PNG")  # 72 megapixels in a few kB
    assert len(buf.getvalue()) < 100_000
    with pytest.raises(AttachmentError, match="9000×8000 pixels"):
        to_attachment(buf.getvalue())


def test_small_images_keep_their_bytes() -> None:
    data = png(40, 30)
    attachment = image_attachment(data, "dot.png")
    assert attachment.data == data
    assert (attachment.width, attachment.height) == (40, 30)


def test_exception_becomes_its_traceback() -> None:
    def load_data() -> float:
        return 1 / 0

    try:
        load_data()
    except ZeroDivisionError as exc:
        attachment = to_attachment(exc)
    assert attachment.name == "ZeroDivisionError"
    assert attachment.note == "traceback"
    assert "Traceback (most recent call last)" in attachment.text
    assert "in load_data" in attachment.text
    assert "ZeroDivisionError: division by zero" in attachment.text


def test_paths_bytes_and_ipython_images(tmp_path: Path) -> None:
    from IPython.display import Image as IPythonImage

    image = tmp_path / "secret-dir" / "plot.png"
    image.parent.mkdir()
    image.write_bytes(png(10, 10))
    notes = tmp_path / "notes.csv"
    notes.write_text("a,b\n1,2\n")
    assert to_attachment(str(image)).name == "plot.png"  # the file name only, never the directory
    assert to_attachment(notes).media_type == "text/csv"
    assert to_attachment(notes).text == "a,b\n1,2\n"
    assert to_attachment(png(5, 5)).kind == "image"
    assert to_attachment(IPythonImage(data=png(6, 6))).width == 6
    with pytest.raises(AttachmentError, match="No file"):
        to_attachment(str(tmp_path / "missing.png"))
    with pytest.raises(AttachmentError, match="fetches nothing"):
        to_attachment(IPythonImage(url="https://example.invalid/x.png"))
    with pytest.raises(AttachmentError, match="PNG, JPEG, WebP or GIF"):
        to_attachment(b"not an image")


# ------------------------------------------------------------------------------------------------ sending
def test_a_message_with_an_image_is_sent_as_content_parts() -> None:
    fake = FakeBackend(images=True)
    conv = conversation(backend=fake)
    reply = conv.ask("What is this?", attachments=[png(8, 8), ValueError("bad value")])
    assert reply == "You said: What is this? [image] ValueError (text/plain):\n```\nValueError: bad value\n```"
    sent = fake.requests[-1][0][-1]["content"]
    assert [p["type"] for p in sent] == ["text", "image_url", "text"]
    assert sent[0] == {"type": "text", "text": "What is this?"}
    assert sent[1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert conv.history[0].attachments[1].text == "ValueError: bad value"


def test_a_model_without_image_input_refuses_and_nothing_is_lost() -> None:
    fake = FakeBackend()  # image_input False
    conv = conversation(backend=fake)
    with pytest.raises(AttachmentError, match="cannot see images, so nothing was sent"):
        conv.ask("What is this?", attachments=[png(8, 8)])
    assert conv.history == []
    assert fake.requests == []
    conv.ask("And this table?", attachments=[{"a": 1}])  # text attachments go into the text
    assert fake.requests[-1][0][-1]["content"] == "And this table?\n\ndict (text/plain):\n```\n{'a': 1}\n```"


def test_a_model_found_text_only_when_loaded_keeps_the_message_and_its_image() -> None:
    class LateBackend(FakeBackend):
        def prepare(self, progress: object = None) -> None:
            self.image_input = False

    fake = LateBackend()
    fake.image_input = None  # unknown until loaded, like a local model
    conv = nbchat.Conversation(fake, prepare="lazy")
    with pytest.raises(nbchat.GenerationError, match="cannot see images"):
        conv.ask("Describe", attachments=[png(8, 8)])
    user, reply = conv.history
    assert user.attachments[0].kind == "image"
    assert reply.status == "error"
    assert fake.requests == []


def test_the_context_gauge_counts_attachment_text() -> None:
    conv = conversation(backend=FakeBackend(context_window=10_000))
    conv.ask("short")
    before = conv.context_usage()["used"]
    conv.ask("short", attachments=[list(range(300))])
    assert conv.context_usage()["used"] > before + 300


def test_policy_caps_count_and_size(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBCHAT_MAX_ATTACHMENTS", "1")
    conv = conversation()
    with pytest.raises(nbchat.NbchatError, match="At most 1 attachments per message"):
        conv.send("two", attachments=[png(4, 4), png(5, 5)])
    monkeypatch.setenv("NBCHAT_MAX_ATTACHMENT_MB", "0.001")
    with pytest.raises(nbchat.NbchatError, match=r"over the 0\.001 MiB allowed"):
        conv.send("big", attachments=[np.random.default_rng(0).integers(0, 255, (200, 200, 3), dtype=np.uint8)])
    assert conv.history == []
    assert "attachment size: at most 0.001 MiB" in str(nbchat.current_policy())


def test_edit_keeps_the_attachments() -> None:
    fake = FakeBackend(images=True)
    conv = conversation(backend=fake)
    conv.ask("What is this?", attachments=[png(8, 8)])
    conv.edit(conv.history[0].id, "And now?").result()
    assert conv.history[0].content == "And now?"
    assert conv.history[0].attachments[0].kind == "image"
    assert fake.requests[-1][0][-1]["content"][1]["type"] == "image_url"


def test_messages_property_round_trips_content_parts() -> None:
    conv = conversation()
    conv.ask("Look", attachments=[png(8, 8)])
    parts = conv.messages
    assert parts[0]["content"][1]["type"] == "image_url"
    other = conversation()
    other.messages = parts
    assert other.history[0].attachments[0].data == conv.history[0].attachments[0].data
    assert other.history[0].content == "Look"


# ------------------------------------------------------------------------------------------------ saving
def test_images_are_stored_once_per_file_and_v1_files_still_load(tmp_path: Path) -> None:
    conv = conversation()
    image = png(30, 20)
    conv.ask("first", attachments=[image])
    conv.ask("again", attachments=[image, text_attachment("notes", "notes.txt")])
    path = conv.save(tmp_path / "c.json")
    data = json.loads(path.read_text())
    assert data["version"] == VERSION == 2
    assert len(data["images"]) == 1
    assert "data" not in data["messages"][0]["attachments"][0]
    loaded = nbchat.Conversation.load(path, FakeBackend(images=True))
    assert [a.data for a in loaded.history[2].attachments] == [image, b""]
    assert "📎 notes.txt (text/plain" in loaded.to_markdown()
    v1 = {k: v for k, v in data.items() if k != "images"} | {"version": 1}
    v1["messages"] = [{k: v for k, v in m.items() if k != "attachments"} for m in data["messages"]]
    assert [m.content for m in tree_from_dict(v1).branch()][:2] == ["first", "You said: first [image]"]


def test_a_file_whose_image_does_not_match_its_hash_is_refused(tmp_path: Path) -> None:
    conv = conversation()
    conv.ask("first", attachments=[png(30, 20)])
    data = json.loads(conv.save(tmp_path / "c.json").read_text())
    (key,) = data["images"]
    data["images"][key] = base64.b64encode(png(31, 20)).decode()
    with pytest.raises(nbchat.NbchatError, match="SHA-256"):
        tree_from_dict(data)


@pytest.mark.parametrize(
    "thumbnail", ["https://example.invalid/t.png", "data:image/svg+xml;base64,PHN2Zz4=", "javascript:alert(1)"]
)
def test_a_file_cannot_smuggle_a_remote_or_script_thumbnail(tmp_path: Path, thumbnail: str) -> None:
    conv = conversation()
    conv.ask("first", attachments=[png(30, 20)])
    data = json.loads(conv.save(tmp_path / "c.json").read_text())
    data["messages"][0]["attachments"][0]["thumbnail"] = thumbnail
    with pytest.raises(nbchat.NbchatError, match="not a base64 image data URL"):
        tree_from_dict(data)


_IMAGES = [png(4 + n, 3 + n, (n * 40, 10, 200)) for n in range(3)]
_attachment = st.one_of(
    st.sampled_from(_IMAGES).map(lambda data: image_attachment(data, "img.png")),
    st.builds(lambda t, n: text_attachment(t, n or "x"), st.text(max_size=200), st.text(max_size=20)),
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(turns=st.lists(st.tuples(st.text(min_size=1, max_size=40).filter(str.strip), st.lists(_attachment, max_size=3)),
                      min_size=1, max_size=4))  # fmt: skip
def test_save_and_load_round_trip_messages_with_parts(
    tmp_path: Path, turns: list[tuple[str, list[Attachment]]]
) -> None:
    conv = conversation()
    for text, parts in turns:
        conv.ask(text, attachments=parts)
    path = conv.save(tmp_path / "parts.json")
    loaded = nbchat.Conversation.load(path, FakeBackend(images=True))
    assert [m.to_dict() for m in loaded.history] == [m.to_dict() for m in conv.history]
    for mine, theirs in zip(conv.history, loaded.history, strict=True):
        assert [a.data for a in mine.attachments] == [a.data for a in theirs.attachments]
    assert len(json.loads(path.read_text())["images"]) == len(
        {a.sha256 for _, p in turns for a in p if a.kind == "image"}
    )


# ------------------------------------------------------------------------------------------------ OpenAI wire format
def test_openai_backend_sends_exact_content_parts_and_no_key_or_path(openai_stub, tmp_path: Path) -> None:
    from nbchat.backends.openai import OpenAIBackend

    key = "sk-test-DO-NOT-LEAK-attach-0123456789"
    image = tmp_path / "private-folder-4711" / "chart.png"
    image.parent.mkdir()
    image.write_bytes(png(12, 9))
    backend = OpenAIBackend("echo", base_url=f"{openai_stub.url}/v1", api_key=key)
    assert backend.image_input is None  # a plain server: unknown, so images are sent and the server decides
    conv = nbchat.Conversation(backend, prepare="now", retries=0)
    reply = conv.ask("What does the chart show?", attachments=[str(image), KeyError("year")])
    assert reply.startswith("You said: What does the chart show? [image image/png] KeyError (text/plain):")
    body = openai_stub.requests[-1]
    assert body["messages"][-1] == {
        "role": "user",
        "content": [
            {"type": "text", "text": "What does the chart show?"},
            {
                "type": "image_url",
                "image_url": {"url": "data:image/png;base64," + base64.b64encode(png(12, 9)).decode()},
            },
            {"type": "text", "text": "KeyError (text/plain):\n```\nKeyError: 'year'\n```"},
        ],
    }
    raw = json.dumps(openai_stub.requests)
    assert key not in raw
    assert "private-folder-4711" not in raw
    assert str(tmp_path) not in raw
    conv.ask("And now?")  # the earlier image goes again, as part of the history
    assert openai_stub.requests[-1]["messages"][0]["content"][1]["type"] == "image_url"
    assert openai_stub.requests[-1]["messages"][-1] == {"role": "user", "content": "And now?"}


def test_online_presets_say_which_default_models_see_images() -> None:
    from nbchat.backends.sources import SOURCES

    assert SOURCES["openai"].sees_images("gpt-4o-mini") is True
    assert SOURCES["deepseek"].sees_images("deepseek-chat") is False  # the default, text only
    assert SOURCES["qwen"].sees_images("qwen-vl-plus") is True
    assert SOURCES["qwen"].sees_images("some-new-model") is None


# ------------------------------------------------------------------------------------------------ %%chat
def test_chat_magic_interpolates_variables_cells_and_the_last_error() -> None:
    pd = pytest.importorskip("pandas")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "nbchat")
    try:
        fake = FakeBackend(images=True)
        shell.user_ns.update(bot=fake, df=pd.DataFrame({"x": [1, 2]}), n=3, picture=png(6, 6))
        shell.run_cell("total = sum([1, 2])", store_history=True)
        source_cell = len(shell.user_ns["In"]) - 1
        shell.run_cell("41 + 1", store_history=True)
        out_cell = len(shell.user_ns["In"]) - 1
        with capture_output():
            shell.run_cell("1 / 0", store_history=True)
        with capture_output():
            shell.run_cell_magic(
                "chat",
                "-m bot",
                f"n={{n}}; {{df}}, {{In[{source_cell}]}}, {{Out[{out_cell}]}}, {{picture}}, "
                "{Err} and {{literal}} and {'a': 1}",
            )
        question = fake.requests[-1][0][-1]["content"]
        assert question[0]["text"] == (
            "n=3; `df` (attached), `In[" + str(source_cell) + "]` (attached), 42, `picture` (attached), "
            "`Err` (attached) and {literal} and {'a': 1}"
        )
        texts = [p["text"] for p in question[1:] if p["type"] == "text"]
        assert texts[0].startswith("df (text/plain):")
        assert "shape (2, 1)" in texts[0]
        assert texts[1] == "In[" + str(source_cell) + "] (text/x-python):\n```\ntotal = sum([1, 2])\n```"
        assert "ZeroDivisionError" in texts[2]
        assert [p["type"] for p in question].count("image_url") == 1
        with capture_output() as captured:
            shell.run_cell_magic("chat", "-m bot", "What is {nothing_here}?")
        assert "no variable 'nothing_here'" in captured.outputs[-1].data["text/plain"]  # (and as escaped HTML)
        with capture_output():
            shell.run_cell_magic("chat", "-m bot --raw", "Keep {n} as typed")
        assert fake.requests[-1][0][-1]["content"] == "Keep {n} as typed"
    finally:
        shell.run_line_magic("reload_ext", "nbchat")


def test_compare_sends_attachments_to_every_column_or_to_none(comms) -> None:
    seeing, blind = FakeBackend(images=True, model="seeing"), FakeBackend(model="blind")
    cmp = nbchat.Compare([seeing, blind], prepare="now")
    with pytest.raises(AttachmentError, match="blind \\(fake\\) cannot see images"):
        cmp.ask("What is this?", attachments=[png(8, 8)])
    assert seeing.requests == []
    assert blind.requests == []
    answers = cmp.ask("Summarise", attachments=[KeyError("k")])
    assert all("KeyError: 'k'" in a for a in answers.values())
    cmp.close()


def test_the_embedded_model_refuses_images_before_loading() -> None:
    conv = nbchat.Conversation(prepare="lazy")  # llama.cpp or transformers on the GGUF file: text only
    assert conv.backend.image_input is False
    with pytest.raises(AttachmentError, match="cannot see images"):
        conv.send("What is this?", attachments=[png(8, 8)])
    assert conv.history == []


def test_copy_as_code_sends_the_images_again() -> None:
    conv = conversation()
    conv.ask("first", attachments=[png(8, 8)])
    conv.ask("What now?", attachments=[png(9, 9)])
    code = conv.request_code(conv.history[-1].id).replace("    MODEL,", "    again,")
    again = FakeBackend(images=True)
    exec(code, {"again": again})  # the snippet as a user would run it, with the model defined
    messages = again.requests[-1][0]
    assert [p["type"] for p in messages[0]["content"]] == ["text", "image_url"]
    assert messages[-1]["content"][1]["image_url"]["url"] == conv.history[2].attachments[0].data_url()
