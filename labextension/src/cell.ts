// What a click on "Insert below" / "Replace active cell" asks for, checked, and the cell it becomes.
// No JupyterLab import here: js/__tests__/cells.test.ts tests these in jsdom.

/** The event the chat's code blocks dispatch (bubbling, from the clicked button); see js/cells.ts. */
export const INSERT_EVENT = "nbchat:insert-cell";

/** The mark the extension leaves on the page; the chat shows its insert buttons only where it is. */
export const PAGE_MARK = "nbchatCells";

/** Where the code goes: a new cell below the chat's cell, or in place of the last active cell that is not the chat's. */
export type InsertMode = "below" | "replace";

/** An event's detail once checked: the code block's text (a plain string), its fence language, where it goes. */
export interface InsertRequest {
  text: string;
  language: string;
  mode: InsertMode;
}

/** The new cell's type and source (what `ISharedNotebook.insertCell` takes). */
export type CellSource = {
  cell_type: "code" | "markdown";
  source: string;
};

/** The detail of an `nbchat:insert-cell` event, or null when it is not exactly {text, language, mode}. */
export function readRequest(detail: unknown): InsertRequest | null {
  if (typeof detail !== "object" || detail === null) return null;
  const { text, language, mode } = detail as Record<string, unknown>;
  if (typeof text !== "string" || typeof language !== "string") return null;
  if (mode !== "below" && mode !== "replace") return null;
  return { text, language, mode };
}

const MARKDOWN = new Set(["markdown", "md"]);
const SHELL = new Set(["bash", "sh", "shell"]);

/**
 * The cell a code block becomes: Markdown -> a markdown cell (JupyterLab renders it with its own sanitizer when the
 * user runs it); bash/sh -> a code cell starting with `%%bash`; anything else (Python, and HTML or JavaScript too)
 * -> a code cell with the text as it is. Never `%%html` or `%%javascript`: a magic would make the user's Shift+Enter
 * run a model's HTML or JavaScript in the page. The fence's closing newline is not part of the cell.
 */
export function cellFor(text: string, language: string): CellSource {
  const source = text.endsWith("\n") ? text.slice(0, -1) : text;
  const lang = language.trim().toLowerCase();
  if (MARKDOWN.has(lang)) return { cell_type: "markdown", source };
  if (SHELL.has(lang) && !source.startsWith("%%")) return { cell_type: "code", source: `%%bash\n${source}` };
  return { cell_type: "code", source };
}
