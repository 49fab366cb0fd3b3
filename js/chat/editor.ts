// Editing a sent user message in place: a labelled text box with
// "Save & send" and "Cancel". Enter saves, Shift+Enter adds a line, Escape cancels.
import { h } from "../dom";
import { EN, type I18n } from "../i18n";

export interface EditorCallbacks {
  /** The user asked to save `text` (the caller decides whether to send it). */
  save: (text: string) => void;
  cancel: () => void;
}

export class MessageEditor {
  readonly element: HTMLElement;
  readonly textarea: HTMLTextAreaElement;
  private readonly saveButton: HTMLButtonElement;
  private readonly cancelButton: HTMLButtonElement;

  constructor(
    text: string,
    private readonly callbacks: EditorCallbacks,
    i18n: I18n = EN,
  ) {
    this.textarea = h("textarea", { class: "nbchat-edit-input", "aria-label": i18n.t("edit.label"), rows: 3 });
    this.textarea.value = text;
    this.saveButton = h("button", { type: "button", class: "nbchat-button nbchat-primary", text: i18n.t("edit.save") });
    this.cancelButton = h("button", { type: "button", class: "nbchat-button", text: i18n.t("edit.cancel") });
    this.element = h("div", { class: "nbchat-editor" }, [
      this.textarea,
      h("div", { class: "nbchat-editor-buttons" }, [this.cancelButton, this.saveButton]),
    ]);
    this.textarea.addEventListener("keydown", this.onKeyDown);
    this.saveButton.addEventListener("click", this.onSave);
    this.cancelButton.addEventListener("click", this.onCancel);
  }

  focus(): void {
    this.textarea.focus();
    const end = this.textarea.value.length;
    this.textarea.setSelectionRange(end, end);
  }

  /** While a reply is generating, nothing can be sent. */
  setDisabled(disabled: boolean): void {
    this.saveButton.disabled = disabled;
  }

  dispose(): void {
    this.textarea.removeEventListener("keydown", this.onKeyDown);
    this.saveButton.removeEventListener("click", this.onSave);
    this.cancelButton.removeEventListener("click", this.onCancel);
    this.element.remove();
  }

  private readonly onSave = (): void => {
    if (!this.saveButton.disabled) this.callbacks.save(this.textarea.value);
  };

  private readonly onCancel = (): void => this.callbacks.cancel();

  private readonly onKeyDown = (event: KeyboardEvent): void => {
    if (event.key === "Escape") {
      event.preventDefault();
      this.callbacks.cancel();
      return;
    }
    if (event.key !== "Enter" || event.shiftKey) return;
    // Enter and Ctrl/Cmd+Enter save alike.
    // An IME composition uses Enter to pick a candidate: never send then.
    if (event.isComposing || event.keyCode === 229) return;
    event.preventDefault();
    this.onSave();
  };
}
