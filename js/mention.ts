// `@name` in the message box: the kernel's variables offered as you type (name and type), completed on
// Enter, Tab or a click. The kernel attaches each `@name` it knows when the message is sent.
import { h, uniqueId } from "./dom";
import { EN, type I18n } from "./i18n";
import type { ComposerModel } from "./types";

/** The `@word` being typed just before the caret, or null. */
export function mentionAt(text: string, caret: number): { start: number; prefix: string } | null {
  const match = /(^|[^\w@])@(\w*)$/.exec(text.slice(0, caret));
  if (!match) return null;
  return { start: caret - match[2].length - 1, prefix: match[2] };
}

export interface Completion {
  name: string;
  type: string;
}

export class MentionPopup {
  readonly element: HTMLElement;
  private items: Completion[] = [];
  private active = 0;
  private request = 0;
  private at: { start: number; prefix: string } | null = null;

  constructor(
    private readonly model: ComposerModel,
    private readonly textarea: HTMLTextAreaElement,
    i18n: I18n = EN,
  ) {
    this.element = h("div", { class: "nbchat-mentions", role: "listbox", id: uniqueId("mentions"), "aria-label": i18n.t("mention.label"), hidden: true });
    textarea.setAttribute("aria-controls", this.element.id);
    textarea.setAttribute("aria-autocomplete", "list");
    this.element.addEventListener("mousedown", this.onPick);
  }

  get open(): boolean {
    return !this.element.hidden;
  }

  /** The text or caret changed: ask the kernel for names when an `@word` is being typed. */
  update(): void {
    const box = this.textarea;
    this.at = box.selectionStart === box.selectionEnd ? mentionAt(box.value, box.selectionStart ?? box.value.length) : null;
    if (this.at === null) {
      this.close();
      return;
    }
    this.request += 1;
    this.model.send({ kind: "complete", prefix: this.at.prefix, request: this.request });
  }

  /** The kernel's answer; answers to older requests are dropped. */
  show(request: number, items: Completion[]): void {
    if (request !== this.request || this.at === null) return;
    this.items = Array.isArray(items) ? items.slice(0, 20) : [];
    this.active = 0;
    this.render();
  }

  /** Arrow keys, Enter/Tab and Escape while the list is open; true when the key was used. */
  handleKey(event: KeyboardEvent): boolean {
    if (!this.open) return false;
    if (event.key === "ArrowDown" || event.key === "ArrowUp") {
      const step = event.key === "ArrowDown" ? 1 : -1;
      this.active = (this.active + step + this.items.length) % this.items.length;
      this.render();
    } else if (event.key === "Enter" || event.key === "Tab") {
      this.pick(this.active);
    } else if (event.key === "Escape") {
      this.close();
    } else {
      return false;
    }
    event.preventDefault();
    event.stopPropagation();
    return true;
  }

  close(): void {
    this.element.hidden = true;
    this.items = [];
    this.textarea.removeAttribute("aria-activedescendant");
    this.textarea.setAttribute("aria-expanded", "false");
  }

  dispose(): void {
    this.element.removeEventListener("mousedown", this.onPick);
    this.element.remove();
  }

  private render(): void {
    this.element.replaceChildren();
    if (this.items.length === 0) {
      this.close();
      return;
    }
    this.items.forEach((item, i) => {
      const option = h("div", { class: "nbchat-mention", role: "option", id: `${this.element.id}-${i}`, "data-index": i, "aria-selected": i === this.active ? "true" : "false" }, [
        h("span", { class: "nbchat-mention-name", text: `@${item.name}` }),
        h("span", { class: "nbchat-mention-type", text: item.type }),
      ]);
      this.element.append(option);
    });
    this.element.hidden = false;
    this.textarea.setAttribute("aria-expanded", "true");
    this.textarea.setAttribute("aria-activedescendant", `${this.element.id}-${this.active}`);
  }

  private pick(index: number): void {
    const item = this.items[index];
    const at = this.at;
    if (!item || !at) return;
    const box = this.textarea;
    const end = at.start + 1 + at.prefix.length;
    const insert = `@${item.name} `;
    box.value = box.value.slice(0, at.start) + insert + box.value.slice(end);
    const caret = at.start + insert.length;
    box.setSelectionRange(caret, caret);
    this.close();
    box.dispatchEvent(new Event("input"));
  }

  private readonly onPick = (event: MouseEvent): void => {
    const option = (event.target as Element | null)?.closest?.(".nbchat-mention") as HTMLElement | null;
    if (!option) return;
    event.preventDefault(); // keep the focus in the message box
    this.pick(Number(option.dataset.index));
  };
}
