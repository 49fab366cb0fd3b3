// Documents in the Chat widget: the "Documents" choice under Advanced options (automatic / whole document /
// relevant passages, the `documents_mode` trait: what the next message sends) and the course reader's label above
// the message box ("Course reader: 3 documents") with its per-chat off switch (the `course_reader` trait). The
// kernel keeps both on the conversation (`conversation.documents`), so a change here changes the next request.
import type { DocumentsSwitch } from "../attachments";
import { commit, h, listen, uniqueId } from "../dom";
import { EN, type I18n } from "../i18n";
import type { ChatModel, DocumentsInfo, DocumentsMode } from "../types";

const MODES: readonly DocumentsMode[] = ["auto", "whole", "relevant"];

function readMode(model: ChatModel): DocumentsMode {
  const mode = model.get("documents_mode");
  return mode !== undefined && MODES.includes(mode) ? mode : "auto";
}

function readInfo(model: ChatModel): DocumentsInfo {
  const info = model.get("documents_info");
  return info && typeof info === "object" ? info : {};
}

export class DocumentsControls implements DocumentsSwitch {
  /** The course reader's label and switch (hidden when the administrator set no reader). */
  readonly element: HTMLElement;
  /** "Documents" and its choice (placed in Advanced options). */
  readonly option: HTMLElement;
  private readonly select: HTMLSelectElement;
  private readonly readerBox: HTMLInputElement;
  private readonly readerText: HTMLElement;
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly model: ChatModel,
    private readonly i18n: I18n = EN,
    /** Called when the choice or the budget changed (the tray's chips say again what they will send). */
    private readonly changed: () => void = () => {},
  ) {
    const selectId = uniqueId("nbdocs");
    this.select = h("select", { id: selectId, class: "nbchat-documents-select", "data-testid": "nbchat-documents-mode" }, [
      h("option", { value: "auto", text: i18n.t("docs.modeAuto") }),
      h("option", { value: "whole", text: i18n.t("docs.modeWhole") }),
      h("option", { value: "relevant", text: i18n.t("docs.modeRelevant") }),
    ]) as HTMLSelectElement;
    this.option = h("div", { class: "nbchat-documents-option" }, [h("label", { for: selectId, text: i18n.t("docs.mode") }), this.select]);
    const readerId = uniqueId("nbreader");
    this.readerBox = h("input", { id: readerId, type: "checkbox", "data-testid": "nbchat-course-reader-toggle" });
    this.readerText = h("label", { for: readerId, class: "nbchat-course-reader-text" });
    this.element = h("div", { class: "nbchat-course-reader", "data-testid": "nbchat-course-reader", hidden: true }, [this.readerBox, this.readerText]);
    this.select.addEventListener("change", () => this.setMode(this.select.value as DocumentsMode));
    this.readerBox.addEventListener("change", () => commit(model, "course_reader", this.readerBox.checked));
    for (const name of ["documents_mode", "documents_info", "course_reader"]) {
      this.cleanups.push(listen(model, `change:${name}`, () => this.render()));
    }
    this.render();
  }

  state(): { mode: DocumentsMode; budget: number | null } {
    const budget = readInfo(this.model).budget_tokens;
    return { mode: readMode(this.model), budget: typeof budget === "number" ? budget : null };
  }

  setMode(mode: DocumentsMode): void {
    commit(this.model, "documents_mode", mode);
    this.render();
  }

  /** Lock the controls (the kernel is gone). */
  setDisabled(disabled: boolean): void {
    this.select.disabled = disabled;
    this.readerBox.disabled = disabled;
  }

  dispose(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  private render(): void {
    const info = readInfo(this.model);
    this.select.value = readMode(this.model);
    const budget = typeof info.budget_tokens === "number" ? this.i18n.number(info.budget_tokens) : "?";
    this.select.title = this.i18n.t("docs.modeTitle", { budget });
    const names = Array.isArray(info.reader) ? info.reader.filter((n) => typeof n === "string") : [];
    const problems = Array.isArray(info.reader_problems) ? info.reader_problems.filter((n) => typeof n === "string") : [];
    const on = this.model.get("course_reader") !== false;
    this.element.hidden = names.length === 0 && problems.length === 0;
    this.element.dataset.on = String(on);
    this.readerBox.checked = on;
    const label = this.i18n.count("docs.reader", names.length);
    this.readerText.textContent = on ? label : this.i18n.t("docs.readerOff", { label });
    this.element.title = [...names, ...problems].join("\n");
    this.changed();
  }
}
