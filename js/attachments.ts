// Attachments in the view: the chips in a user's bubble, and the tray of files pasted, dropped or chosen
// with "Attach" before sending. A file's bytes go to the kernel only (a custom message with a buffer); the
// kernel answers with the attachment record and a thumbnail it made. The only images the view ever shows
// are these thumbnails: data URLs of the user's own attachments, checked again here (`safeThumbnail`).
import { h } from "./dom";
import { EN, type I18n } from "./i18n";
import type { Attachment, ComposerModel, DocumentsMode, PendingAttachment } from "./types";

/** Files larger than this are refused in the browser (the kernel checks again, and the admin may cap lower). */
export const MAX_UPLOAD_BYTES = 20 * 1024 * 1024;
const IMAGE_TYPES = ["image/png", "image/jpeg", "image/webp", "image/gif"];
const TEXT_EXTENSIONS = /\.(txt|md|csv|tsv|json|py|log|yaml|yml|toml|ini|cfg|xml|html|js|ts|r|sql|tex)$/i;
/** Documents the kernel converts to passages (nbchat/documents `DOCUMENT_SUFFIXES`); .html and .md read as text. */
const DOCUMENT_EXTENSIONS = /\.(pdf|docx|pptx|xlsx|ipynb)$/i;
const DOCUMENT_TYPES = ["application/pdf", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  "application/vnd.openxmlformats-officedocument.presentationml.presentation",
  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "application/x-ipynb+json"];
const THUMBNAIL = /^data:image\/(jpeg|png|webp|gif);base64,[A-Za-z0-9+/]+=*$/;

/** `url` if it is a base64 data URL of an image (what nbchat makes), else "" (never a remote or script URL). */
export function safeThumbnail(url: unknown): string {
  return typeof url === "string" && THUMBNAIL.test(url) ? url : "";
}

/** What kind of attachment a file makes, or null when it cannot be attached. */
export function fileKind(file: { name: string; type: string }): "image" | "text" | "document" | null {
  if (IMAGE_TYPES.includes(file.type)) return "image";
  if (DOCUMENT_TYPES.includes(file.type) || DOCUMENT_EXTENSIONS.test(file.name)) return "document";
  if (file.type.startsWith("text/") || file.type === "application/json" || TEXT_EXTENSIONS.test(file.name)) return "text";
  return null;
}

function sizeLabel(a: Attachment): string {
  if (a.kind === "image" && a.width && a.height) return `${a.width}×${a.height}`;
  return a.media_type;
}

/** One chip: a thumbnail for an image, a name for text (its text unfolds on click). */
export function attachmentChip(a: Attachment, i18n: I18n = EN): HTMLElement {
  const title = [a.name, sizeLabel(a), a.note].filter(Boolean).join(" · ");
  if (a.kind === "image") {
    const src = safeThumbnail(a.thumbnail);
    const img = src ? h("img", { class: "nbchat-thumb", src, alt: a.name, title }) : h("span", { text: "🖼" });
    return h("span", { class: "nbchat-attachment", "data-kind": "image", title }, [img, h("span", { class: "nbchat-attachment-name", text: a.name })]);
  }
  if (a.kind === "document") return documentChip(a, i18n);
  const details = h("details", { class: "nbchat-attachment", "data-kind": "text", title }, [
    h("summary", { text: `📎 ${a.name}` }),
    h("pre", { class: "nbchat-attachment-text", text: a.text ?? "" }),
  ]);
  return details;
}

/** How a sent document went: "whole document", or "relevant passages: 5 of 40". */
export function documentModeLabel(a: Attachment, i18n: I18n = EN): string {
  if (a.mode === "whole") return i18n.t("docs.sentWhole");
  if (a.mode === "relevant") return i18n.t("docs.sentRelevant", { n: a.passages?.length ?? 0, total: a.document?.passages ?? "?" });
  return "";
}

/** A document's chip: its name, pages, and once sent how it went (the kernel's note, with the budget, as title). */
function documentChip(a: Attachment, i18n: I18n): HTMLElement {
  const info = a.document ?? {};
  const size = typeof info.pages === "number" ? i18n.count(info.unit === "slide" ? "docs.slides" : info.unit === "section" ? "docs.sections" : "docs.pages", info.pages) : "";
  const mode = documentModeLabel(a, i18n);
  return h("span", { class: "nbchat-attachment nbchat-document", "data-kind": "document", "data-mode": a.mode || null, title: [a.name, size, a.note].filter(Boolean).join(" · ") }, [
    h("span", { class: "nbchat-attachment-name", text: `📄 ${a.name}` }),
    ...(size ? [h("span", { class: "nbchat-doc-size", text: size })] : []),
    ...(mode ? [h("span", { class: "nbchat-doc-mode", text: mode })] : []),
  ]);
}

/** What the tray's document chips read and change: the chat's Documents choice and its budget (Chat only). */
export interface DocumentsSwitch {
  /** The chat's choice and the budget in tokens for documents sent whole. */
  state(): { mode: DocumentsMode; budget: number | null };
  /** Change the chat's choice (what the next message sends). */
  setMode(mode: DocumentsMode): void;
}

/** The chips of a sent message (null when it has none). */
export function renderAttachments(list: Attachment[] | undefined, i18n: I18n = EN): HTMLElement | null {
  if (!Array.isArray(list) || list.length === 0) return null;
  return h("div", { class: "nbchat-attachments", "aria-label": i18n.t("attach.list") }, list.map((a) => attachmentChip(a, i18n)));
}

/** The file's bytes (`Blob.arrayBuffer`, or a FileReader where a DOM lacks it). */
function readBytes(file: File): Promise<ArrayBuffer> {
  if (typeof file.arrayBuffer === "function") return file.arrayBuffer();
  return new Promise((resolve, reject) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result as ArrayBuffer);
    reader.onerror = () => reject(reader.error);
    reader.readAsArrayBuffer(file);
  });
}

function newToken(): string {
  return `u${Date.now().toString(36)}${Math.random().toString(36).slice(2, 10)}`;
}

/** Files waiting to be sent with the next message, shown as removable chips above the message box. */
export class AttachmentTray {
  readonly element: HTMLElement;
  private readonly pending = new Map<string, { chip: HTMLElement; ready: boolean; attachment?: Attachment }>();
  private documents: DocumentsSwitch | null = null;

  constructor(
    private readonly model: ComposerModel,
    private readonly notify: (text: string) => void,
    private readonly i18n: I18n = EN,
  ) {
    this.element = h("div", { class: "nbchat-tray", "aria-label": i18n.t("attach.tray"), hidden: true });
  }

  /** Tokens of the attachments the kernel holds for the next message, in order. */
  tokens(): string[] {
    return [...this.pending].filter(([, p]) => p.ready).map(([token]) => token);
  }

  /** Whether files are still on their way to the kernel (then Send waits). */
  busy(): boolean {
    return [...this.pending.values()].some((p) => !p.ready);
  }

  /** Upload `files` (from paste, drop or the file chooser); unsupported or too large ones get a notice. */
  add(files: Iterable<File>): void {
    for (const file of files) {
      const kind = fileKind(file);
      if (kind === null) {
        this.notify(this.i18n.t("attach.unsupported", { name: file.name || this.i18n.t("attach.thisFile") }));
        continue;
      }
      if (file.size > MAX_UPLOAD_BYTES) {
        this.notify(this.i18n.t("attach.tooLarge", { name: file.name, mb: MAX_UPLOAD_BYTES / 1024 / 1024 }));
        continue;
      }
      const token = newToken();
      const name = file.name || this.i18n.t(kind === "image" ? "attach.pastedImage" : "attach.pastedText");
      const chip = h("span", { class: "nbchat-attachment nbchat-uploading", "data-name": name, text: `${name}…` });
      this.pending.set(token, { chip, ready: false });
      this.show();
      void readBytes(file).then((buffer) => {
        if (!this.pending.has(token)) return; // removed meanwhile
        const mediaType = file.type || (kind === "text" ? "text/plain" : "");
        this.model.send({ kind: "attach", token, name, media_type: mediaType }, undefined, [buffer]);
      }, () => this.attached(token, undefined, this.i18n.t("attach.unreadable", { name })));
    }
  }

  /** The kernel's answer to an upload. A failure leaves an error chip saying why (the message box keeps its text). */
  attached(token: string, attachment: Attachment | undefined, error: string | undefined): void {
    const entry = this.pending.get(token);
    if (!entry) return;
    if (!attachment) {
      this.pending.delete(token);
      entry.chip.replaceWith(this.errorChip(error || this.i18n.t("attach.failed")));
      this.show();
      return;
    }
    const chip = this.chip(token, attachment);
    entry.chip.replaceWith(chip);
    this.pending.set(token, { chip, ready: true, attachment });
  }

  /** A document being converted by the kernel: `done` of `total` pages on its chip (`total` null: not known yet). */
  progress(token: string, done: number, total: number | null): void {
    const entry = this.pending.get(token);
    if (!entry || entry.ready) return;
    // The kernel's first answer ("converting", no total yet) may arrive after its worker's first pages: keep the
    // furthest progress seen.
    const seen = Number(entry.chip.dataset.done ?? -1);
    const known = entry.chip.dataset.total !== undefined;
    if (done < seen || (total === null && known)) return;
    entry.chip.dataset.done = String(done);
    if (total !== null) entry.chip.dataset.total = String(total);
    const name = entry.chip.dataset.name ?? "";
    const bar = h("progress", { class: "nbchat-attach-progress", max: total ?? 1, "aria-label": this.i18n.t("attach.converting", { name }) });
    if (total) bar.value = Math.min(done, total);
    const text = total ? this.i18n.t("attach.convertingPages", { name, done, total }) : this.i18n.t("attach.converting", { name });
    entry.chip.replaceChildren(h("span", { class: "nbchat-attachment-name", text }), bar);
  }

  /** Where the document chips read and change the chat's Documents choice (Chat); none: no switch (Compare). */
  setDocuments(documents: DocumentsSwitch | null): void {
    this.documents = documents;
    this.refreshDocuments();
  }

  /** The Documents choice or the budget changed: say again what each document will send. */
  refreshDocuments(): void {
    for (const [token, entry] of this.pending) {
      if (!entry.ready || entry.attachment?.kind !== "document") continue;
      const chip = this.chip(token, entry.attachment);
      entry.chip.replaceWith(chip);
      entry.chip = chip;
    }
  }

  /** Put back attachments of a message the kernel did not send (it still holds them). */
  restore(list: PendingAttachment[]): void {
    for (const a of list) {
      if (this.pending.has(a.token)) continue;
      const chip = this.chip(a.token, a);
      this.pending.set(a.token, { chip, ready: true, attachment: a });
    }
    this.show();
  }

  /** The message was sent with these attachments: empty the tray (the kernel forgets them once sent). */
  clear(): void {
    for (const { chip } of this.pending.values()) chip.remove();
    this.pending.clear();
    for (const chip of this.element.querySelectorAll(".nbchat-attach-error")) chip.remove();
    this.show();
  }

  /** A file the kernel could not convert: why, until dismissed or the next message is sent. */
  private errorChip(text: string): HTMLElement {
    const dismiss = h("button", { type: "button", class: "nbchat-attachment-remove", "aria-label": this.i18n.t("attach.dismiss"), text: "×" });
    const chip = h("span", { class: "nbchat-attachment nbchat-attach-error", "data-kind": "error", role: "alert" }, [h("span", { text }), dismiss]);
    dismiss.addEventListener("click", (event) => {
      event.preventDefault();
      chip.remove();
      this.show();
    });
    return chip;
  }

  /** Before sending, a document's chip says whether it will go whole or as passages, against the budget, and
   * offers the other way (the chat's Documents choice: what the next message sends). */
  private documentLine(a: Attachment): HTMLElement | null {
    if (a.kind !== "document" || !this.documents) return null;
    const { mode, budget } = this.documents.state();
    const tokens = a.document?.tokens ?? 0;
    const whole = mode === "whole" || (mode === "auto" && budget !== null && tokens <= budget);
    const params = { tokens: this.i18n.number(tokens), budget: budget === null ? "?" : this.i18n.number(budget) };
    const toggle = h("button", { type: "button", class: "nbchat-doc-switch", "data-testid": "nbchat-doc-switch", text: this.i18n.t(whole ? "docs.switchRelevant" : "docs.switchWhole"), title: this.i18n.t("docs.switchTitle") });
    toggle.addEventListener("click", (event) => {
      event.preventDefault();
      this.documents?.setMode(whole ? "relevant" : "whole");
    });
    return h("span", { class: "nbchat-doc-plan", "data-plan": whole ? "whole" : "relevant" }, [
      h("span", { class: "nbchat-doc-mode", text: this.i18n.t(whole ? "docs.planWhole" : "docs.planRelevant", params) }),
      toggle,
    ]);
  }

  private chip(token: string, a: Attachment): HTMLElement {
    const chip = attachmentChip(a, this.i18n);
    const remove = h("button", { type: "button", class: "nbchat-attachment-remove", "aria-label": this.i18n.t("attach.remove", { name: a.name }), text: "×" });
    remove.addEventListener("click", (event) => {
      event.preventDefault();
      chip.remove();
      this.pending.delete(token);
      this.model.send({ kind: "detach", token });
      this.show();
    });
    const plan = this.documentLine(a);
    if (plan) chip.append(plan);
    (chip.querySelector("summary") ?? chip).append(remove);
    return chip;
  }

  private show(): void {
    for (const { chip } of this.pending.values()) if (!chip.isConnected) this.element.append(chip);
    this.element.hidden = this.pending.size === 0 && this.element.querySelector(".nbchat-attach-error") === null;
  }
}
