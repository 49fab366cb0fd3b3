"""nbchat.Compare in JupyterLab, in a real browser: columns stream together, a model is added from the UI,
blind voting reveals the names, six columns scroll sideways; and a screenshot of the tutorial's three columns."""

from __future__ import annotations

import time
from typing import Any

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from .conftest import ARTIFACTS, Lab
from .lab import current_notebook, open_notebook, run_all

pytestmark = [pytest.mark.browser, pytest.mark.usefixtures("embedded_ready")]

STORYTELLERS = '''
import time
import nbchat

def storyteller(name, words, delay=0.04):
    """A slow, remote-like model: streams `words` words, one every `delay` seconds."""
    def answer(message, history):
        for i in range(words):
            time.sleep(delay)
            yield f"{name} says word {i}. "
    answer.__name__ = name
    return answer
'''


def write_test_notebook(lab: Lab) -> str:
    name = "compare_browser_test.ipynb"
    nb = new_notebook(
        cells=[
            new_code_cell(STORYTELLERS),
            new_code_cell(
                "models = {'alpha': storyteller('alpha', 40), 'beta': storyteller('beta', 60), "
                "'gamma': storyteller('gamma', 80)}\n"
                "cmp = nbchat.Compare(models)\n"
                "cmp"
            ),
            new_code_cell("six = nbchat.Compare([storyteller(f'model{i}', 3, 0.0) for i in range(6)])\nsix"),
        ],
        metadata={"kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}},
    )
    nbformat.write(nb, lab.root / name)
    return name


def show_cell(page: Any, index: int) -> None:
    """Scroll cell ``index`` into view (JupyterLab does not render cells far outside the window)."""
    page.evaluate(
        """async (index) => {
            const notebook = window.jupyterapp.shell.currentWidget.content;
            notebook.activeCellIndex = index;
            await notebook.scrollToItem(index, 'start');
        }""",
        index,
    )


def wait_for_names(page: Any, widget: Any, names: list[str], *, any_order: bool = False) -> None:
    """Wait until the column regions are named ``names`` (left to right, or in any order)."""
    page.wait_for_function(
        """([el, names, anyOrder]) => {
            const regions = [...el.querySelectorAll('[role="region"][data-column]')];
            const shown = regions.map(c => c.getAttribute('aria-label'));
            return (anyOrder ? shown.sort() : shown).join('|') === names.join('|');
        }""",
        arg=[widget.element_handle(), sorted(names) if any_order else names, any_order],
    )


def column_names(widget: Any) -> list[str]:
    return [c.get_attribute("aria-label") for c in widget.locator('[role="region"][data-column]').all()]


def wait_all_done(page: Any, widget: Any, count: int, timeout: float = 60_000) -> None:
    page.wait_for_function(
        """([el, n]) => {
            const replies = [...el.querySelectorAll('[data-column] [data-role="assistant"]')];
            return replies.length === n && replies.every(r => r.dataset.status === 'done');
        }""",
        arg=[widget.element_handle(), count],
        timeout=timeout,
    )


def test_columns_stream_together_add_a_model_and_vote_blind(lab: Lab, page: Any) -> None:
    open_notebook(lab, page, write_test_notebook(lab))
    panel = current_notebook(page)
    run_all(page)
    show_cell(page, 1)
    cmp = panel.locator(".nbchat-compare").first
    cmp.wait_for()
    assert column_names(cmp) == ["alpha", "beta", "gamma"]

    # one prompt, every column streams at the same time
    box = cmp.get_by_label("Message", exact=True)
    box.fill("Has math been invented or discovered?")
    cmp.get_by_role("button", name="Send", exact=True).click()
    streaming = cmp.locator('[data-column] [data-role="assistant"][data-status="streaming"]')
    page.wait_for_function(
        """(el) => {
            const replies = [...el.querySelectorAll('[data-column] [data-role="assistant"]')];
            const started = replies.every(r => r.dataset.status === 'streaming' && r.innerText.length > 0);
            return replies.length === 3 && started;
        }""",
        arg=cmp.element_handle(),
        timeout=30_000,
    )
    assert streaming.count() == 3
    lengths = [len(t) for t in streaming.all_inner_texts()]
    time.sleep(0.5)
    grown = [len(t) for t in cmp.locator('[data-column] [data-role="assistant"]').all_inner_texts()]
    assert all(b > a for a, b in zip(lengths, grown, strict=True)), (lengths, grown)
    wait_all_done(page, cmp, 3)

    # register a model from the UI (ChatZoo's "register"): a bad spec is a notice, a good one a new column
    cmp.get_by_role("button", name="Add model", exact=True).click()
    cmp.get_by_label("Model or URL", exact=True).fill("nonsense:model")
    cmp.get_by_role("button", name="Add", exact=True).click()
    page.wait_for_function(
        "(el) => el.querySelector('.nbchat-notice').textContent.includes('Unknown source')", arg=cmp.element_handle()
    )
    cmp.get_by_role("button", name="Add model", exact=True).click()
    cmp.get_by_label("Name", exact=True).fill("my server")
    cmp.get_by_label("Model or URL", exact=True).fill("http://127.0.0.1:9/v1")
    cmp.get_by_label("Served model name", exact=True).fill("served-model")
    cmp.get_by_role("button", name="Add", exact=True).click()
    added = cmp.locator('[role="region"][aria-label="my server"]')
    added.wait_for()
    assert "served-model" in added.locator(".nbchat-compare-label").inner_text()
    added.get_by_role("button", name="Move my server left").click()
    wait_for_names(page, cmp, ["alpha", "beta", "my server", "gamma"])
    cmp.get_by_role("button", name="Remove my server").click()
    wait_for_names(page, cmp, ["alpha", "beta", "gamma"])

    # blind mode: letters only, vote, names revealed
    cmp.get_by_label("Blind", exact=True).check()
    wait_for_names(page, cmp, ["A", "B", "C"], any_order=True)
    headers = " ".join(cmp.locator("[data-column] header").all_inner_texts())
    assert not any(name in headers for name in ("alpha", "beta", "gamma")), headers
    box.fill("And music?")
    cmp.get_by_role("button", name="Send", exact=True).click()
    wait_all_done(page, cmp, 6)
    cmp.get_by_role("button", name="B is better", exact=True).click()
    cmp.get_by_text("is better.", exact=False).wait_for()
    wait_for_names(page, cmp, ["alpha", "beta", "gamma"], any_order=True)
    assert "You voted:" in cmp.locator(".nbchat-compare-vote").inner_text()

    # the diff of two answers highlights the words that differ
    cmp.get_by_role("button", name="Compare answers", exact=True).click()
    diff = cmp.locator(".nbchat-diff")
    diff.locator("ins").first.wait_for()
    assert diff.locator("del").count() > 0
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    cmp.screenshot(path=str(ARTIFACTS / "compare-vote-and-diff.png"))

    # six columns: none squeezed below its minimum, the row scrolls sideways
    show_cell(page, 2)
    six = panel.locator(".nbchat-compare").nth(1)
    six.scroll_into_view_if_needed()
    widths = [box["width"] for box in (c.bounding_box() for c in six.locator("[data-column]").all()) if box]
    assert len(widths) == 6
    assert min(widths) >= 319, widths
    row = six.locator(".nbchat-compare-columns")
    assert row.evaluate("(el) => el.scrollWidth > el.clientWidth + 100")


def test_tutorial_notebook_three_columns_screenshot(lab: Lab, page: Any) -> None:
    open_notebook(lab, page, "03_compare_models.ipynb")
    page.evaluate("() => window.jupyterapp.shell.collapseLeft()")  # room for three columns side by side
    panel = current_notebook(page)
    run_all(page)
    show_cell(page, 2)
    sweep = panel.locator(".nbchat-compare").first
    sweep.wait_for()
    assert column_names(sweep) == ["temperature=0", "temperature=0.7", "temperature=1.2"]
    wait_all_done(page, sweep, 3, timeout=120_000)
    texts = sweep.locator('[data-column] [data-role="assistant"] .nbchat-content').all_inner_texts()
    assert all(t.strip() for t in texts), texts
    sweep.scroll_into_view_if_needed()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    sweep.screenshot(path=str(ARTIFACTS / "compare-3-columns.png"))
