"""Attachments in JupyterLab, in a real browser: paste an image, @name a DataFrame, Details, reload, saved size.

Runs the tutorial notebook 07_ask_about_your_data.ipynb (a stand-in model that sees images and says what it got).
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from typing import Any

import pytest

from .conftest import ARTIFACTS, Lab
from .lab import ask, current_notebook, open_notebook, reply_done, run_all

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("embedded_ready")]

NOTEBOOK = "07_ask_about_your_data.ipynb"
WIDGETS_SETTINGS = "lab/api/settings/@jupyter-widgets/jupyterlab-manager:plugin"

# A 300×200 PNG drawn on a canvas in the page, pasted into the message box as a screenshot would be.
PASTE_IMAGE = """async (box) => {
  const canvas = document.createElement("canvas");
  canvas.width = 300; canvas.height = 200;
  const g = canvas.getContext("2d");
  g.fillStyle = "#c0392b"; g.fillRect(0, 0, 300, 200);
  g.fillStyle = "#2980b9"; g.fillRect(50, 50, 200, 100);
  const blob = await new Promise((resolve) => canvas.toBlob(resolve, "image/png"));
  const data = new DataTransfer();
  data.items.add(new File([blob], "screenshot.png", { type: "image/png" }));
  box.dispatchEvent(new ClipboardEvent("paste", { clipboardData: data, bubbles: true, cancelable: true }));
}"""


def _save_widget_state(lab: Lab, on: bool) -> None:
    body = json.dumps({"raw": json.dumps({"saveState": on})}).encode()
    request = urllib.request.Request(lab.url(WIDGETS_SETTINGS), data=body, method="PUT")
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=10):
        pass


@pytest.fixture
def widget_state_saved(lab: Lab) -> Iterator[None]:
    """JupyterLab saves widget state into the notebook (off by default), so the saved size includes it."""
    _save_widget_state(lab, True)
    yield
    _save_widget_state(lab, False)


def _save(page: Any) -> None:
    page.evaluate("() => window.jupyterapp.commands.execute('docmanager:save')")
    page.wait_for_function("() => !window.jupyterapp.shell.currentWidget.context.model.dirty", timeout=30_000)


def test_paste_an_image_and_attach_a_dataframe_by_name(lab: Lab, page: Any, widget_state_saved: None) -> None:
    open_notebook(lab, page, NOTEBOOK)
    run_all(page)
    chat = current_notebook(page).locator(".nbchat").first
    chat.wait_for()
    _save(page)
    size_before = (lab.root / NOTEBOOK).stat().st_size

    # paste a screenshot: the kernel downscales it and answers with a thumbnail, shown in the tray
    box = chat.get_by_label("Message", exact=True)
    box.evaluate(PASTE_IMAGE)
    tray_thumb = chat.locator(".nbchat-tray img.nbchat-thumb")
    tray_thumb.wait_for(timeout=30_000)
    assert tray_thumb.get_attribute("src").startswith("data:image/jpeg;base64,")
    reply = reply_done(page, ask(chat, "What is in this screenshot?"))
    assert "I received 1 image(s) (image/png)" in reply.text_content()
    user = chat.locator('[data-role="user"]').last  # the turn's message is in the list before its reply
    assert user.locator("img.nbchat-thumb").get_attribute("alt") == "screenshot.png"
    assert chat.locator(".nbchat-tray").is_hidden()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    user.scroll_into_view_if_needed()
    chat.screenshot(path=str(ARTIFACTS / "jupyterlab-attachment-image.png"))

    # Details of the reply: the request shows the image as its thumbnail
    reply.get_by_role("button", name="Details").click()
    reply.locator("summary", has_text="Request").click()
    figure = reply.locator(".nbchat-request-image").last  # earlier turns' figures are in the request too
    figure.wait_for()
    assert "screenshot.png, 300×200" in figure.inner_text()
    assert figure.locator("img").get_attribute("src").startswith("data:image/jpeg;base64,")

    # @ completion lists the notebook's DataFrame with its type; Enter completes; the send attaches it
    box.fill("")
    box.press_sequentially("Summarise @sal")
    option = chat.get_by_role("option").filter(has_text="@sales")
    option.wait_for(timeout=30_000)
    assert "DataFrame 500×3" in option.inner_text()
    chat.screenshot(path=str(ARTIFACTS / "jupyterlab-attachment-mention.png"))
    box.press("Enter")
    assert box.input_value() == "Summarise @sales "
    reply = reply_done(page, ask(chat))
    assert "sales (text/plain)" in reply.text_content()
    assert "shape (500, 3)" in reply.text_content()
    sent = chat.locator('[data-role="user"]').last
    # the DataFrame by name, then the notebook context that notebook 07's later cell switches on
    assert sent.locator("details.nbchat-attachment summary").all_inner_texts() == ["📎 sales", "📎 notebook"]
    sent.scroll_into_view_if_needed()
    chat.screenshot(path=str(ARTIFACTS / "jupyterlab-attachment-dataframe.png"))

    # saved notebook: thumbnails only, a few kB for the pasted image
    _save(page)
    saved = (lab.root / NOTEBOOK).read_text()
    growth = (lab.root / NOTEBOOK).stat().st_size - size_before
    print(f"saved notebook grew by {growth / 1024:.1f} KiB for one pasted image, one DataFrame and two replies")
    assert "data:image/png;base64" not in saved  # no full image, in widget state or anywhere
    assert growth < 40 * 1024

    # reload: the view comes back with its thumbnails
    page.reload()
    page.wait_for_selector(".nbchat [data-role='user'] img.nbchat-thumb[alt='screenshot.png']", timeout=120_000)
    again = current_notebook(page).locator(".nbchat").first
    assert again.locator('[data-role="user"] img.nbchat-thumb').last.get_attribute("alt") == "screenshot.png"
