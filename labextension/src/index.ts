// nbchat-cells: the chat's "Insert below" / "Replace active cell" buttons, in JupyterLab 4 and Notebook 7.
// The page is marked so the chat shows the buttons; a button (on a real click only, see js/cells.ts) dispatches a
// bubbling `nbchat:insert-cell` event, and this plugin puts its text, as a plain string, into the notebook that
// holds the chat: below the chat's cell, or in place of the last cell the user worked in. One undoable change
// (Z in command mode); nothing runs.
//
// JupyterLab's packages are imported for their types only: the built extension asks the page for no shared module,
// so it loads without an error where there is no notebook (Voila and `nbchat web` load lab extensions too); there
// it finds no notebook factory and leaves the page unmarked.
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import type { Cell } from "@jupyterlab/cells";
import type { Notebook } from "@jupyterlab/notebook";
import { INSERT_EVENT, PAGE_MARK, cellFor, readRequest, type InsertRequest } from "./cell";

/** How many recently active cells each notebook remembers (to skip the chat's own cell). */
const RECENT = 8;

/** The cells each notebook made active, most recent last. */
const recent = new WeakMap<Notebook, Cell[]>();
/** Notebooks whose `activeCellChanged` is followed. */
const followed = new WeakSet<Notebook>();

function remember(notebook: Notebook, cell: Cell | null): void {
  if (!cell) return;
  const cells = (recent.get(notebook) ?? []).filter((c) => c !== cell && !c.isDisposed);
  cells.push(cell);
  recent.set(notebook, cells.slice(-RECENT));
}

/** The last active cell of `notebook` that is still in it and is not `chat` (the cell that holds the chat). */
function lastActive(notebook: Notebook, chat: Cell): Cell | null {
  const cells = recent.get(notebook) ?? [];
  for (let i = cells.length - 1; i >= 0; i--) {
    const cell = cells[i];
    if (cell !== chat && !cell.isDisposed && notebook.widgets.includes(cell)) return cell;
  }
  return null;
}

/** A main-area widget's notebook (a NotebookPanel's `content`), recognised by its shape. */
function notebookOf(widget: unknown): Notebook | null {
  const content = (widget as { content?: unknown }).content as Partial<Notebook> | undefined;
  if (!content || !Array.isArray(content.widgets) || !content.activeCellChanged || !(content.node instanceof Element)) {
    return null;
  }
  return content as Notebook;
}

/** The notebook in the main area whose page holds `node`, if any; from then on its active cells are followed. */
function notebookHolding(app: JupyterFrontEnd, node: Node): Notebook | null {
  for (const widget of app.shell.widgets("main")) {
    const notebook = notebookOf(widget);
    if (!notebook || !notebook.node.contains(node)) continue;
    if (!followed.has(notebook)) {
      followed.add(notebook);
      remember(notebook, notebook.activeCell);
      notebook.activeCellChanged.connect((_sender, cell) => remember(notebook, cell));
    }
    return notebook;
  }
  return null;
}

/** Put the request's text into `notebook`; returns whether it did. One transaction, one undo step. */
function apply(notebook: Notebook, chat: Cell, request: InsertRequest): boolean {
  const model = notebook.model;
  if (!model || model.readOnly) return false;
  const target = request.mode === "below" ? chat : lastActive(notebook, chat);
  if (!target) return false;
  const at = notebook.widgets.indexOf(target);
  const cell = cellFor(request.text, request.language);
  const shared = model.sharedModel;
  // YNotebook's Yjs undo manager (not part of the ISharedNotebook interface)
  const undo = (shared as { undoManager?: { stopCapturing(): void } }).undoManager;
  const index = request.mode === "below" ? at + 1 : at;
  undo?.stopCapturing(); // its own undo step, not merged with an edit made just before
  shared.transact(() => {
    if (request.mode === "replace") shared.deleteCell(at);
    shared.insertCell(index, cell);
  });
  undo?.stopCapturing();
  notebook.activeCellIndex = index; // selected, in command mode: Shift+Enter runs it, Z takes it back
  notebook.mode = "command";
  return true;
}

const plugin: JupyterFrontEndPlugin<void> = {
  id: "nbchat-cells:plugin",
  description: "Insert a code block of an nbchat reply as a notebook cell, on the user's click.",
  autoStart: true,
  activate: (app: JupyterFrontEnd): void => {
    // Follow a notebook's active cells from the user's first click or focus in it (capture: before the notebook
    // makes the clicked cell active, so the cell active before a click on the chat is remembered).
    const follow = (event: Event): void => {
      if (event.target instanceof Node) notebookHolding(app, event.target);
    };
    document.addEventListener("mousedown", follow, true);
    document.addEventListener("focusin", follow, true);
    document.addEventListener(INSERT_EVENT, (event: Event) => {
      const request = readRequest((event as CustomEvent<unknown>).detail);
      const origin = event.target;
      if (!request || !(origin instanceof Node)) return;
      const notebook = notebookHolding(app, origin);
      const chat = notebook?.widgets.find((cell) => cell.node.contains(origin));
      if (!notebook || !chat) return;
      if (apply(notebook, chat, request)) event.preventDefault(); // tells the button it worked
    });
    // Only an app that opens notebooks (JupyterLab, Notebook 7) marks the page; Voila has no notebook factory.
    void app.restored.then(() => {
      if (app.docRegistry.getWidgetFactory("Notebook")) document.body.dataset[PAGE_MARK] = "1";
    });
  },
};

export default plugin;
