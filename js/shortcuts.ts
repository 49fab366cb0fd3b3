// The keyboard shortcuts help: a "?" button next to Send that opens a small list of the chat's keys.
import { h, uniqueId } from "./dom";
import { EN, type I18n, type Key } from "./i18n";

/** Whether this is a Mac (⌘ instead of Ctrl). */
function isMac(): boolean {
  return typeof navigator !== "undefined" && /Mac|iPhone|iPad/.test(navigator.platform || navigator.userAgent || "");
}

export class ShortcutsHelp {
  readonly button: HTMLButtonElement;
  readonly panel: HTMLElement;

  constructor(i18n: I18n = EN) {
    const rows: [Key, Key][] = [
      ["key.enter", "shortcuts.send"],
      ["key.shiftEnter", "shortcuts.newline"],
      [isMac() ? "key.cmdEnter" : "key.ctrlEnter", "shortcuts.sendMulti"],
      ["key.esc", "shortcuts.stop"],
      ["key.up", "shortcuts.recall"],
    ];
    const id = uniqueId("shortcuts");
    this.panel = h("div", { id, class: "nbchat-shortcuts", role: "dialog", "aria-label": i18n.t("shortcuts.title"), hidden: true }, [
      h("div", { class: "nbchat-shortcuts-title", text: i18n.t("shortcuts.title") }),
      h("dl", {}, rows.flatMap(([key, what]) => [h("dt", {}, [h("kbd", { text: i18n.t(key) })]), h("dd", { text: i18n.t(what) })])),
    ]);
    this.button = h("button", {
      type: "button",
      class: "nbchat-button nbchat-shortcuts-button",
      "aria-label": i18n.t("shortcuts.button"),
      title: i18n.t("shortcuts.button"),
      "aria-expanded": "false",
      "aria-controls": id,
      "data-testid": "nbchat-shortcuts",
      text: "?",
    });
    this.button.addEventListener("click", () => this.toggle());
    this.panel.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.toggle(false);
        this.button.focus();
      }
    });
  }

  toggle(open = this.panel.hidden): void {
    this.panel.hidden = !open;
    this.button.setAttribute("aria-expanded", String(open));
  }
}
