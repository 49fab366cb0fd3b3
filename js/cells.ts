// "Insert below" and "Replace active cell" beside "Copy code": the code block goes into the notebook as a cell.
// Shown only where nbchat's JupyterLab / Notebook 7 extension marked the page (labextension/); elsewhere (Voila,
// `nbchat web`, VS Code, marimo, Colab) there is nowhere to insert and Copy stays alone. A button acts on a real
// click of the user only (`isTrusted`): it dispatches a bubbling `nbchat:insert-cell` event that the extension
// answers with `preventDefault()` once the cell is in. A reply's text never reaches a handler: it is sanitized HTML.
import { INSERT_EVENT, PAGE_MARK, type InsertMode, type InsertRequest } from "../labextension/src/cell";
import { addCodeCopyButtons, codeToCopy, flash } from "./clipboard";
import { h } from "./dom";
import { EN, type I18n, type Key } from "./i18n";

/** Whether the page has nbchat's notebook extension (it sets `document.body.dataset.nbchatCells = "1"`). */
export function cellsAvailable(doc: Document = document): boolean {
  return doc.body?.dataset[PAGE_MARK] === "1";
}

/** The fence language of a rendered code block (`<code class="language-python">` → "python"), or "". */
export function codeLanguage(code: Element): string {
  for (const name of code.classList) if (name.startsWith("language-")) return name.slice("language-".length);
  return "";
}

const LABELS: Record<InsertMode, { text: Key; title: Key; done: Key; failed: Key }> = {
  below: { text: "cells.below", title: "cells.below.title", done: "cells.inserted", failed: "cells.notInserted" },
  replace: { text: "cells.replace", title: "cells.replace.title", done: "cells.replaced", failed: "cells.noActive" },
};

/**
 * Ask the extension to put `code`'s text (what Copy would copy: invisible characters left out) into the notebook.
 * Returns whether it did (the extension called `preventDefault()`).
 */
export function requestCell(from: HTMLElement, code: Element, mode: InsertMode): boolean {
  const detail: InsertRequest = { text: codeToCopy(code).text, language: codeLanguage(code), mode };
  const event = new CustomEvent(INSERT_EVENT, { detail, bubbles: true, composed: true, cancelable: true });
  return !from.dispatchEvent(event);
}

function cellButton(code: Element, mode: InsertMode, i18n: I18n): HTMLButtonElement {
  const labels = LABELS[mode];
  const button = h("button", {
    type: "button",
    class: "nbchat-code-cell",
    text: i18n.t(labels.text),
    title: i18n.t(labels.title),
    "data-mode": mode,
  });
  button.addEventListener("click", (event) => {
    if (!event.isTrusted) return; // only the user's own click inserts a cell
    flash(button, i18n.t(requestCell(button, code, mode) ? labels.done : labels.failed));
  });
  return button;
}

/**
 * "Copy code" on every `pre > code` block under `root` (see `addCodeCopyButtons`), and, where the page can take a
 * cell (`cellsAvailable`), "Insert below" and "Replace active cell" beside it. Run after each render.
 */
export function addCodeButtons(root: HTMLElement, i18n: I18n = EN): void {
  addCodeCopyButtons(root, i18n);
  if (!cellsAvailable(root.ownerDocument)) return;
  for (const block of root.querySelectorAll<HTMLElement>(".nbchat-codeblock")) {
    const code = block.querySelector(":scope > pre > code");
    const copy = block.querySelector(":scope > .nbchat-code-copy");
    if (!code || !copy || block.querySelector(":scope > .nbchat-code-tools")) continue;
    const tools = h("div", { class: "nbchat-code-tools" });
    copy.replaceWith(tools);
    tools.append(cellButton(code, "below", i18n), cellButton(code, "replace", i18n), copy);
  }
}
