// The composer: message box, Send / Stop / Clear / Attach, the attachment tray (paste, drop, choose a file),
// `@name` completion of the kernel's variables, and transient notices.
import { AttachmentTray, type DocumentsSwitch } from "./attachments";
import { h, listen } from "./dom";
import { EN, type I18n } from "./i18n";
import { type Completion, MentionPopup } from "./mention";
import { ShortcutsHelp } from "./shortcuts";
import type { Attachment, ClientMessage, ComposerModel, PendingAttachment } from "./types";

export type NoticeLevel = "info" | "warning" | "error";

/** How long a notice stays up (ms). */
const NOTICE_MS = 6000;
/** The message box grows with its text up to this height (px), then scrolls. */
const MAX_BOX_HEIGHT = 200;
/** Beyond this many characters the box is not measured: it is at its largest. */
const LONG_TEXT = 4000;
/** While a question is typed, its text goes to the kernel at most this often (ms) when the model can prefill. */
export const DRAFT_MS = 150;
/** Longer drafts are not sent (prefilling them would take longer than typing them). */
const LONGEST_DRAFT = 20_000;

export class Controls {
  readonly element: HTMLElement;
  readonly textarea: HTMLTextAreaElement;
  private readonly sendButton: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private readonly clearButton: HTMLButtonElement;
  readonly shortcuts: ShortcutsHelp;
  private readonly attachButton: HTMLButtonElement;
  private readonly fileInput: HTMLInputElement;
  readonly tray: AttachmentTray;
  readonly mentions: MentionPopup;
  private readonly notice: HTMLElement;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  /** False once the kernel behind the model is gone: nothing can be sent. */
  private connected = true;
  private draftTimer: ReturnType<typeof setTimeout> | null = null;
  private lastDraft = "";

  /**
   * @param recall The last question asked, for ↑ in an empty box (none when absent).
   */
  constructor(
    private readonly model: ComposerModel,
    private readonly i18n: I18n = EN,
    private readonly recall: () => string | null = () => null,
  ) {
    this.textarea = h("textarea", {
      class: "nbchat-input",
      "aria-label": i18n.t("input.label"),
      placeholder: i18n.t("input.placeholder"),
      "aria-keyshortcuts": "Enter Control+Enter Meta+Enter Escape ArrowUp",
      "data-testid": "nbchat-input",
      rows: 2,
    });
    const button = (key: "send" | "stop" | "clear", primary = false) =>
      h("button", {
        type: "button",
        class: primary ? "nbchat-button nbchat-primary" : "nbchat-button",
        "data-testid": `nbchat-${key}`,
        text: i18n.t(`button.${key}`),
      });
    this.sendButton = button("send", true);
    this.stopButton = button("stop");
    this.stopButton.setAttribute("aria-keyshortcuts", "Escape");
    this.clearButton = button("clear");
    this.attachButton = h("button", {
      type: "button",
      class: "nbchat-button",
      "data-testid": "nbchat-attach",
      text: i18n.t("attach.button"),
      title: i18n.t("attach.title"),
    });
    this.fileInput = h("input", {
      type: "file",
      multiple: true,
      hidden: true,
      "aria-label": i18n.t("attach.files"),
      accept: "image/png,image/jpeg,image/webp,image/gif,text/*,.csv,.tsv,.md,.json,.py,.txt,.log,.pdf,.docx,.pptx,.xlsx,.html,.ipynb",
    });
    this.shortcuts = new ShortcutsHelp(i18n);
    this.notice = h("div", { class: "nbchat-notice", role: "status", "aria-live": "polite" });
    this.tray = new AttachmentTray(model, (text) => this.showNotice("warning", text), i18n);
    this.mentions = new MentionPopup(model, this.textarea, i18n);
    const buttons = h("div", { class: "nbchat-buttons" }, [
      this.sendButton,
      this.stopButton,
      this.clearButton,
      this.attachButton,
      this.shortcuts.button,
    ]);
    this.element = h("div", { class: "nbchat-composer" }, [
      this.notice,
      this.shortcuts.panel,
      this.tray.element,
      this.mentions.element,
      h("div", { class: "nbchat-composer-row" }, [this.textarea, buttons, this.fileInput]),
    ]);

    this.textarea.addEventListener("keydown", this.onKeyDown);
    this.textarea.addEventListener("input", this.onInput);
    this.sendButton.addEventListener("click", this.onSend);
    this.stopButton.addEventListener("click", this.onStop);
    this.clearButton.addEventListener("click", this.onClear);
    this.attachButton.addEventListener("click", this.onAttach);
    this.fileInput.addEventListener("change", this.onFiles);
    this.textarea.addEventListener("paste", this.onPaste);
    this.textarea.addEventListener("blur", this.onBlur);
    this.unsubscribe.push(listen(model, "change:status", () => this.updateStatus()));
    this.updateStatus();
  }

  /** Show a transient notice above the message box. */
  showNotice(level: NoticeLevel, text: string): void {
    if (this.noticeTimer !== null) clearTimeout(this.noticeTimer);
    this.notice.dataset.level = level;
    this.notice.textContent = text;
    this.notice.classList.add("nbchat-visible");
    this.noticeTimer = setTimeout(() => this.hideNotice(), NOTICE_MS);
  }

  /** Put back a message the kernel refused (e.g. sent while a reply was still streaming), so nothing is lost. */
  restore(text: string): void {
    if (text === "") return;
    const current = this.textarea.value;
    if (current === text || current.startsWith(`${text}\n`)) return;
    this.textarea.value = current.trim() === "" ? text : `${text}\n${current}`;
    this.autosize();
  }

  /** Put `text` in the message box, select `[start, end)` and focus it (a starter prompt to complete). */
  fill(text: string, start = text.length, end = start): void {
    this.textarea.value = text;
    this.autosize();
    this.textarea.focus();
    this.textarea.setSelectionRange(start, end);
  }

  /** Send `text` as a question now (a starter prompt), as if typed and sent. */
  sendText(text: string): void {
    if (this.generating || !this.connected || text.trim() === "") return;
    this.cancelDraft();
    this.send({ kind: "submit", text });
  }

  /** Esc: stop the reply being generated; true if there was one. */
  stopReply(): boolean {
    if (!this.generating || !this.connected) return false;
    this.send({ kind: "stop" });
    return true;
  }

  /** Put back the attachments of a message the kernel did not send. */
  restoreAttachments(list: PendingAttachment[]): void {
    this.tray.restore(list);
  }

  /** The kernel's answer to an upload. */
  attached(token: string, attachment: Attachment | undefined, error: string | undefined): void {
    this.tray.attached(token, attachment, error);
  }

  /** A document being converted by the kernel: its progress on the chip. */
  attachProgress(token: string, done: number, total: number | null): void {
    this.tray.progress(token, done, total);
  }

  /** Where document chips read and change the chat's Documents choice (see `AttachmentTray.setDocuments`). */
  setDocuments(documents: DocumentsSwitch | null): void {
    this.tray.setDocuments(documents);
  }

  /** The Documents choice or its budget changed. */
  refreshDocuments(): void {
    this.tray.refreshDocuments();
  }

  /** The kernel's answer to an `@name` completion request. */
  completions(request: number, items: Completion[]): void {
    this.mentions.show(request, items);
  }

  /** Accept files dropped anywhere on `target` (the whole chat). Returns a function that stops it. */
  acceptDrops(target: HTMLElement): () => void {
    const over = (event: DragEvent) => {
      if (!event.dataTransfer?.types.includes("Files") || !this.connected) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = "copy";
      target.classList.add("nbchat-dropping");
    };
    const leave = () => target.classList.remove("nbchat-dropping");
    const drop = (event: DragEvent) => {
      leave();
      const files = event.dataTransfer?.files;
      if (!files || files.length === 0 || !this.connected) return;
      event.preventDefault();
      event.stopPropagation();
      this.tray.add(files);
    };
    target.addEventListener("dragover", over);
    target.addEventListener("dragleave", leave);
    target.addEventListener("drop", drop);
    return () => {
      target.removeEventListener("dragover", over);
      target.removeEventListener("dragleave", leave);
      target.removeEventListener("drop", drop);
    };
  }

  /** The kernel went away: keep the text, but nothing can be sent any more. */
  setConnected(connected: boolean): void {
    this.connected = connected;
    this.textarea.readOnly = !connected;
    this.clearButton.disabled = !connected;
    this.attachButton.disabled = !connected;
    this.updateStatus();
  }

  dispose(): void {
    if (this.noticeTimer !== null) clearTimeout(this.noticeTimer);
    this.noticeTimer = null;
    this.cancelDraft();
    for (const off of this.unsubscribe.splice(0)) off();
    this.textarea.removeEventListener("keydown", this.onKeyDown);
    this.textarea.removeEventListener("input", this.onInput);
    this.sendButton.removeEventListener("click", this.onSend);
    this.stopButton.removeEventListener("click", this.onStop);
    this.clearButton.removeEventListener("click", this.onClear);
    this.attachButton.removeEventListener("click", this.onAttach);
    this.fileInput.removeEventListener("change", this.onFiles);
    this.textarea.removeEventListener("paste", this.onPaste);
    this.textarea.removeEventListener("blur", this.onBlur);
    this.mentions.dispose();
  }

  private get generating(): boolean {
    return this.model.get("status") === "generating";
  }

  private send(message: ClientMessage): void {
    this.model.send(message);
  }

  private hideNotice(): void {
    this.noticeTimer = null;
    this.notice.classList.remove("nbchat-visible");
    this.notice.textContent = "";
  }

  private updateStatus(): void {
    const generating = this.generating;
    this.sendButton.disabled = generating || !this.connected;
    this.stopButton.disabled = !generating || !this.connected;
  }

  /** Send the message box's text and attachments; while a reply streams, do nothing and keep them. */
  private submit(): void {
    if (this.generating || !this.connected) return;
    if (this.tray.busy()) {
      this.showNotice("info", this.i18n.t("attach.uploading"));
      return;
    }
    const text = this.textarea.value;
    const attachments = this.tray.tokens();
    if (text.trim() === "" && attachments.length === 0) return;
    this.cancelDraft();
    this.mentions.close();
    this.send(attachments.length > 0 ? { kind: "submit", text, attachments } : { kind: "submit", text });
    this.tray.clear();
    this.textarea.value = "";
    this.autosize();
  }

  /**
   * Send the text typed so far, at most every `DRAFT_MS`, so that a local model evaluates the question's prompt
   * while it is typed and the reply starts as soon as it is sent. Only when the kernel says the model can
   * (`prefill_drafts`); the draft never leaves the kernel.
   */
  private scheduleDraft(): void {
    if (!this.model.get("prefill_drafts") || this.draftTimer !== null) return;
    this.draftTimer = setTimeout(() => {
      this.draftTimer = null;
      const text = this.textarea.value;
      if (text.trim() === "" || text.length > LONGEST_DRAFT || text === this.lastDraft) return;
      if (this.generating || !this.connected) return;
      this.lastDraft = text;
      this.send({ kind: "draft", text });
    }, DRAFT_MS);
  }

  private cancelDraft(): void {
    if (this.draftTimer !== null) clearTimeout(this.draftTimer);
    this.draftTimer = null;
    this.lastDraft = "";
  }

  private readonly onKeyDown = (event: KeyboardEvent): void => {
    if (this.mentions.handleKey(event)) return;
    // An IME composition uses Enter and the arrows to pick a candidate: never act on them then.
    if (event.isComposing || event.keyCode === 229) return;
    if (event.key === "ArrowUp" && !event.shiftKey && !event.altKey && !event.ctrlKey && !event.metaKey) {
      // ↑ in an empty box: the last question, to edit and send again.
      if (this.textarea.value !== "") return;
      const last = this.recall();
      if (last === null) return;
      event.preventDefault();
      this.fill(last);
      return;
    }
    if (event.key !== "Enter" || event.shiftKey || event.altKey) return;
    // Enter sends; so does Ctrl/Cmd+Enter (the usual "send" of multi-line editors), which must not also reach
    // the notebook ("run cell").
    if (event.ctrlKey || event.metaKey) event.stopPropagation();
    event.preventDefault();
    this.submit();
  };

  private readonly onSend = (): void => {
    this.submit();
    this.textarea.focus();
  };

  private readonly onInput = (): void => {
    this.autosize();
    this.scheduleDraft();
    if (this.connected) this.mentions.update();
  };

  private readonly onBlur = (): void => this.mentions.close();

  private readonly onAttach = (): void => this.fileInput.click();

  private readonly onFiles = (): void => {
    if (this.fileInput.files) this.tray.add(this.fileInput.files);
    this.fileInput.value = "";
  };

  /** A pasted image or file is attached; pasted text still goes into the box as usual. */
  private readonly onPaste = (event: ClipboardEvent): void => {
    const data = event.clipboardData;
    const files = data ? [...data.files] : [];
    if (files.length === 0 || !this.connected) return;
    if (!data?.types.includes("text/plain")) event.preventDefault();
    this.tray.add(files);
  };

  private readonly onStop = (): void => this.send({ kind: "stop" });

  private readonly onClear = (): void => this.send({ kind: "clear" });

  private readonly autosize = (): void => {
    const box = this.textarea;
    // A long text fills the box's largest size anyway: skip measuring it (a 1 MB paste would take a long frame).
    if (box.value.length > LONG_TEXT) {
      box.style.height = `${MAX_BOX_HEIGHT}px`;
      return;
    }
    box.style.height = "auto";
    if (box.scrollHeight > 0) box.style.height = `${Math.min(box.scrollHeight + 2, MAX_BOX_HEIGHT)}px`;
  };
}
