// Starter prompts: example questions a course author offers (`Chat(prompts=[...])`), shown as cards while the
// chat is empty. A click sends the question; a question with a `{…}` placeholder goes into the message box
// instead, with the placeholder selected, for the student to complete.
import { h } from "./dom";
import { EN, type I18n } from "./i18n";

/** `{…}`: text in braces that the student replaces (`{your topic}`, `{…}`). */
const PLACEHOLDER = /\{[^{}\n]*\}/;

export interface PromptHandlers {
  /** Send `text` as a question. */
  send(text: string): void;
  /** Put `text` in the message box and select `[start, end)`. */
  fill(text: string, start: number, end: number): void;
}

/** Where the first placeholder of `text` is, or null. */
export function placeholderRange(text: string): [number, number] | null {
  const match = PLACEHOLDER.exec(text);
  return match ? [match.index, match.index + match[0].length] : null;
}

export class StarterPrompts {
  readonly element: HTMLElement;
  private key = "";

  constructor(
    private readonly handlers: PromptHandlers,
    private readonly i18n: I18n = EN,
  ) {
    this.element = h("div", { class: "nbchat-prompts", role: "group", "aria-label": i18n.t("prompts.label"), hidden: true });
  }

  /** Show these prompts (an empty list hides the cards). */
  set(prompts: readonly unknown[] | null | undefined): void {
    const list = (Array.isArray(prompts) ? prompts : []).filter((p): p is string => typeof p === "string" && p.trim() !== "");
    const key = JSON.stringify(list);
    if (key === this.key) return;
    this.key = key;
    this.element.replaceChildren(
      ...list.map((text, index) => {
        const range = placeholderRange(text);
        const card = h("button", {
          type: "button",
          class: "nbchat-prompt",
          "data-testid": `nbchat-prompt-${index}`,
          "data-fill": range ? "true" : null,
          title: range ? this.i18n.t("prompts.fill") : null,
          dir: "auto",
          text,
        });
        card.addEventListener("click", () => {
          if (range) this.handlers.fill(text, range[0], range[1]);
          else this.handlers.send(text);
        });
        return card;
      }),
    );
  }

  /** Cards show only while the chat is empty and there are any. */
  setVisible(visible: boolean): void {
    this.element.hidden = !visible || this.element.childElementCount === 0;
  }

  /** Lock the cards (a reply is generating, or the kernel is gone). */
  setDisabled(disabled: boolean): void {
    for (const card of this.element.querySelectorAll("button")) card.disabled = disabled;
  }
}
