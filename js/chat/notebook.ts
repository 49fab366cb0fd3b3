// The notebook context chip above the message box ("Context: cells 12–17 · 812 tokens"): it opens to show exactly
// what the next message carries (the kernel's `context_preview`, the attachment's own text) and can be removed for
// one message. Also the "Notebook context" toggle of Advanced options, and the draft an "Ask the chat" button
// sends (`ask_draft`: the failing cell's code and error, put in the message box to edit before sending).
import { commit, h, listen, uniqueId } from "../dom";
import { EN, type I18n } from "../i18n";
import type { ChatModel } from "../types";

export interface ContextPreview {
  first?: number | null;
  last?: number | null;
  cells?: number;
  tokens?: number;
  text?: string;
}

export interface AskDraft {
  id?: number;
  code?: string;
  error?: string;
  kind?: string;
}

/** The drafts a view has put in a message box already (a view rendered later must not fill the box again). */
const consumed = new WeakMap<object, number>();

/** The message box's text for an error from "Ask the chat": the starter sentence, the error, the cell's code. */
export function askText(draft: AskDraft, i18n: I18n = EN): string {
  const fence = (text: string) => {
    let marks = "```";
    while (text.includes(marks)) marks += "`";
    return marks;
  };
  const code = draft.code ?? "";
  const error = draft.error ?? "";
  return `${i18n.t("ask.starter", { kind: draft.kind ?? "Error" })}\n\n${fence(error)}\n${error}\n${fence(error)}\n\n${fence(code)}python\n${code}\n${fence(code)}\n`;
}

export class NotebookContextChip {
  readonly element: HTMLDetailsElement;
  /** The "Notebook context" checkbox and its label (placed in Advanced options). */
  readonly toggle: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly body: HTMLPreElement;
  private readonly remove: HTMLButtonElement;
  private readonly checkbox: HTMLInputElement;
  private removedOnce = false;
  private connected = true;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly model: ChatModel,
    private readonly i18n: I18n = EN,
  ) {
    this.summary = h("span", { class: "nbchat-context-chip-text" });
    this.body = h("pre", { class: "nbchat-context-text", tabindex: 0 });
    this.remove = h("button", {
      type: "button",
      class: "nbchat-context-remove",
      text: "×",
      title: i18n.t("context.remove"),
      "aria-label": i18n.t("context.remove"),
    });
    const summary = h("summary", { "data-testid": "nbchat-context-chip" }, [this.summary, this.remove]);
    this.element = h("details", { class: "nbchat-context-chip" }, [summary, this.body]);
    const id = uniqueId("nbctx");
    this.checkbox = h("input", { id, type: "checkbox" });
    this.toggle = h("div", { class: "nbchat-check" }, [this.checkbox, h("label", { for: id, text: i18n.t("options.notebookContext") })]);
    this.remove.addEventListener("click", (event) => {
      event.preventDefault(); // inside the summary: do not open or close the chip
      this.removedOnce = true;
      this.render();
    });
    this.checkbox.addEventListener("change", () =>
      commit(model, "notebook_context", this.checkbox.checked ? "notebook" : "off"),
    );
    for (const name of ["context_preview", "notebook_context", "context_allowed"]) {
      this.cleanups.push(listen(model, `change:${name}`, () => this.render()));
    }
    this.render();
  }

  /** The kernel went away: the toggle and × no longer do anything, so they are disabled (the chip stays readable). */
  setConnected(connected: boolean): void {
    this.connected = connected;
    this.render();
  }

  /** The chip was removed for the next message: its submit says `context: false` (then the chip is back). */
  takeRemoved(): boolean {
    const removed = this.removedOnce;
    this.removedOnce = false;
    if (removed) this.render();
    return removed;
  }

  /** `model` with a `send` that adds `context: false` to the next submit after the chip was removed. */
  wrap<M extends { send: (message: any, callbacks?: any, buffers?: any) => void }>(model: M): M {
    return new Proxy(model, {
      get: (target, property, receiver) => {
        if (property !== "send") return Reflect.get(target, property, receiver);
        return (message: any, callbacks?: any, buffers?: any) => {
          const kind = message && typeof message === "object" ? message.kind : undefined;
          const out = kind === "submit" && this.takeRemoved() ? { ...message, context: false } : message;
          return target.send(out, callbacks, buffers);
        };
      },
    });
  }

  render(): void {
    const on = this.model.get("notebook_context") === "notebook";
    const allowed = this.model.get("context_allowed") !== false;
    const preview: ContextPreview = this.model.get("context_preview") ?? {};
    this.checkbox.checked = on;
    this.checkbox.disabled = !allowed || !this.connected;
    this.remove.disabled = !this.connected;
    this.toggle.hidden = !allowed;
    const cells = preview.cells ?? 0;
    this.element.hidden = !on || cells === 0;
    this.element.dataset.removed = String(this.removedOnce);
    if (this.element.hidden) {
      this.summary.textContent = "";
      this.body.textContent = "";
      return;
    }
    const span = preview.first === preview.last ? `${preview.first}` : `${preview.first}–${preview.last}`;
    this.summary.textContent = this.removedOnce
      ? this.i18n.t("context.removed")
      : this.i18n.t("context.chip", { cells: span, tokens: this.i18n.number(preview.tokens ?? 0) });
    this.body.textContent = preview.text ?? "";
    this.remove.hidden = this.removedOnce;
  }

  /** Fill the message box with an "Ask the chat" error not yet shown by any view of this model. */
  takeDraft(fill: (text: string) => void): void {
    const draft: AskDraft = this.model.get("ask_draft") ?? {};
    if (typeof draft.id !== "number" || consumed.get(this.model) === draft.id) return;
    consumed.set(this.model, draft.id);
    fill(askText(draft, this.i18n));
  }

  dispose(): void {
    for (const cleanup of this.cleanups) cleanup();
  }
}
