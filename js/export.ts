// "Export": download the conversation as Markdown or as an nbchat JSON file, or copy it whole (a Compare: its turns
// as Markdown, its results as JSON). The kernel holds the history, so it writes the text (`Chat.to_markdown()`, the
// `Chat.save()` file, `Compare.to_markdown()`/`to_json()`); the browser only turns the
// answer into a download or a clipboard write. Works wherever the widget does (JupyterLab, Notebook 7, Voila,
// `nbchat web`): a Blob URL and a link with `download` need no server route.
import { copyFrom } from "./clipboard";
import { h } from "./dom";
import { EN, type I18n, type Key } from "./i18n";
import type { ExportFormat } from "./types";

type Choice = "markdown" | "json" | "copy";

const CHOICES: [Choice, Key][] = [
  ["markdown", "export.markdown"],
  ["json", "export.json"],
  ["copy", "export.copy"],
];

/** Save `text` as a file named `filename` through the browser's download. */
export function download(text: string, filename: string, type: string, doc: Document = document): void {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = h("a", { href: url, download: filename, hidden: true });
  doc.body.append(link);
  link.click();
  link.remove();
  // Revoked later: some browsers start reading the Blob after click() returns.
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

export class ExportMenu {
  readonly element: HTMLDetailsElement;
  private readonly buttons = new Map<Choice, HTMLButtonElement>();
  /** What each pending request was for, oldest first (answers come back in order). */
  private readonly pending: Choice[] = [];

  constructor(
    private readonly send: (message: { kind: "export"; format: ExportFormat }) => void,
    private readonly i18n: I18n = EN,
  ) {
    const items = CHOICES.map(([choice, key]) => {
      const b = h("button", { type: "button", class: "nbchat-export-item", "data-testid": `nbchat-export-${choice}`, text: i18n.t(key) });
      b.addEventListener("click", () => this.request(choice));
      this.buttons.set(choice, b);
      return b;
    });
    this.element = h("details", { class: "nbchat-export" }, [
      h("summary", { class: "nbchat-export-summary", "data-testid": "nbchat-export", text: i18n.t("export.button") }),
      h("div", { class: "nbchat-export-menu", role: "group", "aria-label": i18n.t("export.button") }, items),
    ]);
  }

  /** Nothing can be exported once the kernel is gone (it holds the history). */
  setDisabled(disabled: boolean): void {
    for (const b of this.buttons.values()) b.disabled = disabled;
  }

  /** The kernel's answer to `{kind: "export"}`. */
  receive(format: ExportFormat, text: string, filename: string): void {
    const index = this.pending.findIndex((c) => (c === "copy" ? "markdown" : c) === format);
    const choice = index >= 0 ? this.pending.splice(index, 1)[0] : format;
    if (choice === "copy") {
      void copyFrom(this.buttons.get("copy")!, text, this.i18n);
      return;
    }
    download(text, filename, format === "json" ? "application/json" : "text/markdown", this.element.ownerDocument);
    this.element.open = false;
  }

  private request(choice: Choice): void {
    this.pending.push(choice);
    this.send({ kind: "export", format: choice === "copy" ? "markdown" : choice });
  }
}
