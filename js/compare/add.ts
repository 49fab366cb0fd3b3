// "Add model": register a column by name and spec or URL (the ChatZoo way). Python builds the column; a spec it
// cannot use comes back as a notice.
import { h, uniqueId } from "../dom";
import type { Send } from "./types";
import { EN, type I18n } from "../i18n";

export class AddForm {
  readonly element: HTMLFormElement;
  readonly name: HTMLInputElement;
  readonly spec: HTMLInputElement;
  readonly model: HTMLInputElement;
  private readonly hint: HTMLElement;

  constructor(
    private readonly send: Send,
    private readonly i18n: I18n = EN,
  ) {
    const ids = { name: uniqueId("add-name"), spec: uniqueId("add-spec"), model: uniqueId("add-model") };
    this.name = h("input", { id: ids.name, type: "text", autocomplete: "off", placeholder: i18n.t("cmp.addNamePlaceholder") });
    this.spec = h("input", {
      id: ids.spec,
      type: "text",
      autocomplete: "off",
      placeholder: i18n.t("cmp.addSpecPlaceholder"),
    });
    this.model = h("input", { id: ids.model, type: "text", autocomplete: "off", placeholder: i18n.t("cmp.addModelPlaceholder") });
    this.hint = h("p", { class: "nbchat-add-hint", role: "status" });
    const label = (id: string, text: string) => h("label", { for: id, text });
    const cancel = h("button", { type: "button", class: "nbchat-button", text: i18n.t("edit.cancel") });
    cancel.addEventListener("click", () => this.close());
    this.element = h("form", { class: "nbchat-compare-add", "aria-label": i18n.t("cmp.addForm"), hidden: true }, [
      h("div", { class: "nbchat-options-grid" }, [
        label(ids.name, i18n.t("cmp.addName")),
        this.name,
        label(ids.spec, i18n.t("cmp.addSpec")),
        this.spec,
        label(ids.model, i18n.t("cmp.addModel")),
        this.model,
      ]),
      this.hint,
      h("div", { class: "nbchat-buttons" }, [h("button", { type: "submit", class: "nbchat-button nbchat-primary", text: i18n.t("cmp.addSubmit") }), cancel]),
    ]);
    this.element.addEventListener("submit", this.onSubmit);
  }

  get isOpen(): boolean {
    return !this.element.hidden;
  }

  open(): void {
    this.element.hidden = false;
    this.hint.textContent = "";
    this.spec.focus();
  }

  close(): void {
    this.element.hidden = true;
  }

  private readonly onSubmit = (event: Event): void => {
    event.preventDefault();
    const spec = this.spec.value.trim();
    if (spec === "") {
      this.hint.textContent = this.i18n.t("cmp.addHint");
      this.spec.focus();
      return;
    }
    const model = this.model.value.trim();
    this.send({ kind: "add", name: this.name.value.trim(), spec, ...(model ? { model } : {}) });
    for (const field of [this.name, this.spec, this.model]) field.value = "";
    this.close();
  };
}
