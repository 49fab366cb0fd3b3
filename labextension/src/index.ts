// nbchat-cells: the chat's "Insert below" / "Replace active cell" buttons, in JupyterLab 4 and Notebook 7.
// The page is marked so the chat shows the buttons; a button (on a real click only, see js/cells.ts) dispatches a
// bubbling `nbchat:insert-cell` event, and this plugin puts its text, as a plain string, into the notebook that
// holds the chat: below the chat's cell, or in place of the last cell the user worked in. One undoable change
// (Z in command mode, or Ctrl+Z there); nothing runs.
import type { JupyterFrontEnd, JupyterFrontEndPlugin } from "@jupyterlab/application";
import type { Cell } from "@jupyterlab/cells";
import { INotebookTracker, type Notebook, type NotebookPanel } from "@jupyterlab/notebook";
import { INSERT_EVENT, PAGE_MARK, cellFor, readRequest, type InsertRequest } from "./cell";

/** How many recently active cells each notebook remembers (to skip the chat's own cell). */
const RECENT = 8;

/** The cells each notebook made active, most recent last. */
const recent = new WeakMap<Notebook, Cell[]>();

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

/** The notebook panel whose page holds `node`, if any. */
function panelOf(tracker: INotebookTracker, node: Node): NotebookPanel | null {
  return tracker.find((panel) => panel.content.node.contains(node)) ?? null;
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
  // optional: Voila and `nbchat web` load lab extensions too but have no notebook; there the plugin does nothing
  optional: [INotebookTracker],
  activate: (_app: JupyterFrontEnd, tracker: INotebookTracker | null): void => {
    if (!tracker) return; // no page mark: the chat shows Copy only
    tracker.activeCellChanged.connect((_sender, cell) => {
      if (cell?.parent) remember(cell.parent as Notebook, cell);
    });
    document.addEventListener(INSERT_EVENT, (event: Event) => {
      const request = readRequest((event as CustomEvent<unknown>).detail);
      const origin = event.target;
      if (!request || !(origin instanceof Node)) return;
      const panel = panelOf(tracker, origin);
      const chat = panel?.content.widgets.find((cell) => cell.node.contains(origin));
      if (!panel || !chat) return;
      if (apply(panel.content, chat, request)) event.preventDefault(); // tells the button it worked
    });
    document.body.dataset[PAGE_MARK] = "1";
  },
};

export default plugin;
