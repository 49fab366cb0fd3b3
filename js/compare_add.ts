// "Add model": register a column by name and spec or URL (the ChatZoo way). Python builds the column; a spec it
// cannot use comes back as a notice.
import { h, uniqueId } from "./dom";
import type { Send } from "./compare_types";

export class AddForm {
  readonly element: HTMLFormElement;
  readonly name: HTMLInputElement;
  readonly spec: HTMLInputElement;
  readonly model: HTMLInputElement;
  private readonly hint: HTMLElement;

  constructor(private readonly send: Send) {
    const ids = { name: uniqueId("add-name"), spec: uniqueId("add-spec"), model: uniqueId("add-model") };
    this.name = h("input", { id: ids.name, type: "text", autocomplete: "off", placeholder: "optional, e.g. my-server" });
    this.spec = h("input", {
      id: ids.spec,
      type: "text",
      autocomplete: "off",
      placeholder: "http://127.0.0.1:8000/v1, openai:gpt-4o-mini, a local model or path",
    });
    this.model = h("input", { id: ids.model, type: "text", autocomplete: "off", placeholder: "for servers that ask for it" });
    this.hint = h("p", { class: "nbchat-add-hint", role: "status" });
    const label = (id: string, text: string) => h("label", { for: id, text });
    const cancel = h("button", { type: "button", class: "nbchat-button", text: "Cancel" });
    cancel.addEventListener("click", () => this.close());
    this.element = h("form", { class: "nbchat-compare-add", "aria-label": "Add a model", hidden: true }, [
      h("div", { class: "nbchat-options-grid" }, [
        label(ids.name, "Name"),
        this.name,
        label(ids.spec, "Model or URL"),
        this.spec,
        label(ids.model, "Served model name"),
        this.model,
      ]),
      this.hint,
      h("div", { class: "nbchat-buttons" }, [h("button", { type: "submit", class: "nbchat-button nbchat-primary", text: "Add" }), cancel]),
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
      this.hint.textContent = "Type a model: a server URL, an online source like openai:gpt-4o-mini, or a local model.";
      this.spec.focus();
      return;
    }
    const model = this.model.value.trim();
    this.send({ kind: "add", name: this.name.value.trim(), spec, ...(model ? { model } : {}) });
    for (const field of [this.name, this.spec, this.model]) field.value = "";
    this.close();
  };
}
