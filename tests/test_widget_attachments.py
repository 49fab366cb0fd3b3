"""Attachments through the widget: uploads over custom messages with buffers, ``@name``, refusals, synced state."""

from __future__ import annotations

import io
import json
import time

import pytest
from PIL import Image

import nbchat
from nbchat.testing import FakeBackend, RecordingComm, wait_for_view


def png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.radial_gradient("L").resize((width, height)).convert("RGB").save(buf, format="PNG")
    return buf.getvalue()


def make_chat(comms: list[RecordingComm], images: bool = True, **kwargs: object) -> tuple[nbchat.Chat, FakeBackend]:
    fake = FakeBackend(images=images)
    chat = nbchat.Chat(conversation=nbchat.Conversation(fake, prepare="now"), **kwargs)  # type: ignore[arg-type]
    return chat, fake


def browser(chat: nbchat.Chat, content: dict, buffers: list | None = None) -> None:
    chat._handle_custom_msg(content, buffers or [])


def wait_for_reply(chat: nbchat.Chat) -> None:
    deadline = time.monotonic() + 10
    while chat.conversation.busy or len(chat.conversation.history) % 2:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    wait_for_view(chat)  # the view's own thread shows the reply a moment later


def test_a_pasted_image_goes_to_the_kernel_and_the_state_carries_its_thumbnail_only(
    comms: list[RecordingComm],
) -> None:
    chat, fake = make_chat(comms)
    comm = comms[-1]
    data = png(1600, 1200)
    browser(chat, {"kind": "attach", "token": "t1", "name": "shot.png", "media_type": "image/png"},
            [memoryview(data)])  # fmt: skip
    (answer,) = comm.custom("attached")
    assert answer["token"] == "t1"
    assert answer["attachment"]["name"] == "shot.png"
    assert (answer["attachment"]["width"], answer["attachment"]["height"]) == (1024, 768)  # downscaled
    assert answer["attachment"]["thumbnail"].startswith("data:image/jpeg;base64,")
    browser(chat, {"kind": "submit", "text": "What is this?", "attachments": ["t1"]})
    wait_for_reply(chat)
    sent = fake.requests[-1][0][-1]["content"]
    assert [p["type"] for p in sent] == ["text", "image_url"]
    user = chat._messages[0]
    assert user["attachments"][0]["thumbnail"] == answer["attachment"]["thumbnail"]
    state = json.dumps(chat._messages)
    image_bytes = len(chat.conversation.history[0].attachments[0].data)
    assert "data:image/png" not in state  # the image itself never goes into synced state
    assert len(state) < image_bytes / 4  # the thumbnail is small next to it
    assert chat._attachments.uploads == {}  # sent: the kernel forgets the upload


def test_a_text_only_model_refuses_and_the_browser_gets_text_and_attachment_back(
    comms: list[RecordingComm],
) -> None:
    chat, fake = make_chat(comms, images=False)
    comm = comms[-1]
    browser(chat, {"kind": "attach", "token": "t1", "name": "shot.png", "media_type": "image/png"}, [png(20, 20)])
    browser(chat, {"kind": "submit", "text": "What is this?", "attachments": ["t1"]})
    notice = comm.custom("notice")[-1]
    assert "cannot see images, so nothing was sent" in notice["text"]
    assert notice["restore"] == "What is this?"
    assert [a["token"] for a in notice["attachments"]] == ["t1"]
    assert chat.conversation.history == []
    assert fake.requests == []
    assert "t1" in chat._attachments.uploads  # still there: the user can send it to another model or remove it


def test_uploads_that_are_not_images_or_text_are_refused(comms: list[RecordingComm], monkeypatch) -> None:
    chat, _ = make_chat(comms)
    comm = comms[-1]
    browser(chat, {"kind": "attach", "token": "t1", "name": "a.bin", "media_type": "application/x"}, [b"\xff\xfe\x00"])
    browser(chat, {"kind": "attach", "token": "t2", "name": "fake.png", "media_type": "image/png"}, [b"<svg/>"])
    monkeypatch.setenv("NBCHAT_MAX_ATTACHMENT_MB", "0.0001")
    browser(chat, {"kind": "attach", "token": "t3", "name": "big.txt", "media_type": "text/plain"}, [b"x" * 1000])
    errors = {m["token"]: m["error"] for m in comm.custom("attached")}
    assert "neither an image" in errors["t1"]
    assert "not a readable image" in errors["t2"]
    assert "over the 0.0001 MiB allowed" in errors["t3"]
    assert chat._attachments.uploads == {}
    keyed = {m["token"]: m.get("error_i18n") for m in comm.custom("attached")}
    assert keyed["t1"] == {
        "key": "py.attach.notText",
        "params": {"name": "a.bin"},
    }  # the browser shows it in its language
    browser(chat, {"kind": "attach", "token": "t4", "name": "empty.txt", "media_type": "text/plain"}, [b""])
    assert comm.custom("attached")[-1]["error_i18n"] == {"key": "py.attach.empty", "params": {"name": "empty.txt"}}


def test_at_name_completes_variables_and_attaches_them(comms: list[RecordingComm]) -> None:
    pd = pytest.importorskip("pandas")
    namespace = {"sales": pd.DataFrame({"units": [3, 5], "city": ["Lagos", "Lima"]}), "salt": 1, "_hidden": 2,
                 "json": json, "helper": make_chat}  # fmt: skip
    chat, fake = make_chat(comms, namespace=namespace)
    comm = comms[-1]
    browser(chat, {"kind": "complete", "prefix": "sa", "request": 7})
    answer = comm.custom("completions")[-1]
    assert answer["request"] == 7
    assert answer["items"] == [{"name": "sales", "type": "DataFrame 2×2"}, {"name": "salt", "type": "int"}]
    browser(chat, {"kind": "complete", "prefix": "", "request": 8})
    assert [i["name"] for i in comm.custom("completions")[-1]["items"]] == ["sales", "salt"]  # no modules, functions
    browser(chat, {"kind": "submit", "text": "Which city sold more, @sales? (mail a@b stays text, @nobody too)"})
    wait_for_reply(chat)
    (attachment,) = chat.conversation.history[0].attachments
    assert attachment.name == "sales"
    assert "shape (2, 2)" in attachment.text
    assert "Lagos" in fake.requests[-1][0][-1]["content"]


def test_at_err_attaches_the_last_error(comms: list[RecordingComm], monkeypatch) -> None:
    chat, _fake = make_chat(comms, namespace={})
    comm = comms[-1]
    try:
        int("twelve")
    except ValueError as exc:
        monkeypatch.setattr("sys.last_value", exc, raising=False)
        monkeypatch.setattr("sys.last_exc", exc, raising=False)
    browser(chat, {"kind": "complete", "prefix": "E", "request": 1})
    assert comm.custom("completions")[-1]["items"][0] == {"name": "Err", "type": "last error: ValueError"}
    browser(chat, {"kind": "submit", "text": "Explain @Err"})
    wait_for_reply(chat)
    assert "invalid literal for int()" in chat.conversation.history[0].attachments[0].text


def test_details_show_the_thumbnail_instead_of_the_image_bytes(comms: list[RecordingComm]) -> None:
    chat, _ = make_chat(comms)
    comm = comms[-1]
    chat.ask("Look", attachments=[png(300, 200)])
    reply_id = chat.conversation.history[-1].id
    browser(chat, {"kind": "provenance", "id": reply_id})
    data = comm.custom("provenance")[-1]["data"]
    parts = data["messages"][-1]["content"]
    assert parts[0] == {"type": "text", "text": "Look"}
    assert parts[1]["type"] == "image"
    assert parts[1]["name"] == "image, 300×200"
    assert parts[1]["thumbnail"] == chat.conversation.history[0].attachments[0].thumbnail
    assert "data:image/png" not in json.dumps(data)


# ------------------------------------------------------------------------------------------------ saved notebooks
SETUP = (
    "import matplotlib\nmatplotlib.use('Agg')\nimport matplotlib.pyplot as plt, numpy as np, nbchat\n"
    "def bot(messages):\n    return 'Seen.'\n"
    "chat = nbchat.Chat(bot, images=True)\nchat"
)
WITH_IMAGES = (
    "for n in range(10):\n"
    "    fig, ax = plt.subplots(figsize=(6, 4))\n"
    "    ax.plot(np.sin(np.linspace(0, 3 + n, 200)))\n"
    "    chat.ask(f'What does plot {n} show?', attachments=[fig])\n"
    "    plt.close(fig)"
)
WITHOUT_IMAGES = "for n in range(10):\n    chat.ask(f'What does plot {n} show?')"


def _saved_size(tmp_path, cells: list[str], name: str) -> tuple[int, str]:
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    NotebookClient(nb, timeout=300, kernel_name="python3", store_widget_state=True).execute()
    path = tmp_path / name
    nbformat.write(nb, path)
    return path.stat().st_size, path.read_text()


@pytest.mark.notebook
def test_a_saved_notebook_grows_by_a_few_kb_per_image(tmp_path) -> None:
    plain, _ = _saved_size(tmp_path, [SETUP, WITHOUT_IMAGES], "plain.ipynb")
    with_images, text = _saved_size(tmp_path, [SETUP, WITH_IMAGES], "images.ipynb")
    per_image = (with_images - plain) / 10
    print(f"saved notebook: {plain / 1024:.1f} KiB without images, {with_images / 1024:.1f} KiB with 10 figures: "
          f"{per_image / 1024:.1f} KiB per image")  # fmt: skip
    assert "data:image/png" not in text  # the figures themselves are not in the notebook, only JPEG thumbnails
    assert text.count("data:image/jpeg;base64,") == 10
    assert per_image < 8 * 1024  # a thumbnail and the attachment record: a few KiB, however large the image


def test_a_dropped_text_file_becomes_a_text_attachment(comms: list[RecordingComm]) -> None:
    chat, fake = make_chat(comms, images=False)  # text goes to every model
    comm = comms[-1]
    csv = b"city,units\nLagos,3\nLima,5\n"
    browser(chat, {"kind": "attach", "token": "t1", "name": "sales.csv", "media_type": "text/csv"}, [csv])
    assert comm.custom("attached")[-1]["attachment"]["text"] == csv.decode()
    browser(chat, {"kind": "detach", "token": "t1"})  # removed from the tray: forgotten
    assert chat._attachments.uploads == {}
    browser(chat, {"kind": "attach", "token": "t2", "name": "sales.csv", "media_type": "text/csv"}, [csv])
    browser(chat, {"kind": "submit", "text": "", "attachments": ["t2"]})  # an attachment alone may be sent
    wait_for_reply(chat)
    assert fake.requests[-1][0][-1]["content"] == "sales.csv (text/csv):\n```\ncity,units\nLagos,3\nLima,5\n\n```"


def test_compare_takes_uploads_and_at_names_from_its_message_box(comms: list[RecordingComm]) -> None:
    seeing, blind = FakeBackend(images=True, model="seeing"), FakeBackend(model="blind")
    cmp = nbchat.Compare([seeing, blind], prepare="now")
    comm = comms[-1]
    browser(cmp, {"kind": "attach", "token": "t1", "name": "shot.png", "media_type": "image/png"}, [png(40, 30)])
    assert comm.custom("attached")[-1]["attachment"]["name"] == "shot.png"
    browser(cmp, {"kind": "submit", "text": "What is this?", "attachments": ["t1"]})
    notice = comm.custom("notice")[-1]
    assert "blind (fake) cannot see images" in notice["text"]
    assert notice["restore"] == "What is this?"
    assert [a["token"] for a in notice["attachments"]] == ["t1"]
    assert seeing.requests == []
    assert blind.requests == []
    cmp._attachments.namespace = {"notes": ["buy milk"]}
    browser(cmp, {"kind": "complete", "prefix": "no", "request": 3})
    assert comm.custom("completions")[-1]["items"] == [{"name": "notes", "type": "list"}]
    browser(cmp, {"kind": "submit", "text": "Summarise @notes"})
    deadline = time.monotonic() + 10
    while len(blind.requests) < 1 or len(seeing.requests) < 1:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert "buy milk" in blind.requests[-1][0][-1]["content"]
    cmp.close()
