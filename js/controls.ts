// The composer: message box, Send / Stop / Clear, and transient notices.
import { h, listen } from "./dom";
import type { AnyModel } from "@anywidget/types";
import type { ChatTraits, ClientMessage } from "./types";

/** What the composer reads of a widget's model: Chat's and Compare's both have these traits. */
export type ComposerModel = AnyModel<Pick<ChatTraits, "status" | "prefill_drafts">>;

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
  private readonly notice: HTMLElement;
  private noticeTimer: ReturnType<typeof setTimeout> | null = null;
  private readonly unsubscribe: (() => void)[] = [];
  /** False once the kernel behind the model is gone: nothing can be sent. */
  private connected = true;
  private draftTimer: ReturnType<typeof setTimeout> | null = null;
  private lastDraft = "";

  constructor(private readonly model: ComposerModel) {
    this.textarea = h("textarea", {
      class: "nbchat-input",
      "aria-label": "Message",
      placeholder: "Ask something… (Enter to send, Shift+Enter for a new line)",
      rows: 2,
    });
    this.sendButton = h("button", { type: "button", class: "nbchat-button nbchat-primary", text: "Send" });
    this.stopButton = h("button", { type: "button", class: "nbchat-button", text: "Stop" });
    this.clearButton = h("button", { type: "button", class: "nbchat-button", text: "Clear" });
    this.notice = h("div", { class: "nbchat-notice", role: "status", "aria-live": "polite" });
    const buttons = h("div", { class: "nbchat-buttons" }, [this.sendButton, this.stopButton, this.clearButton]);
    this.element = h("div", { class: "nbchat-composer" }, [
      this.notice,
      h("div", { class: "nbchat-composer-row" }, [this.textarea, buttons]),
    ]);

    this.textarea.addEventListener("keydown", this.onKeyDown);
    this.textarea.addEventListener("input", this.onInput);
    this.sendButton.addEventListener("click", this.onSend);
    this.stopButton.addEventListener("click", this.onStop);
    this.clearButton.addEventListener("click", this.onClear);
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

  /** The kernel went away: keep the text, but nothing can be sent any more. */
  setConnected(connected: boolean): void {
    this.connected = connected;
    this.textarea.readOnly = !connected;
    this.clearButton.disabled = !connected;
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

  /** Send the message box's text; while a reply streams, do nothing and keep it. */
  private submit(): void {
    if (this.generating || !this.connected) return;
    const text = this.textarea.value;
    if (text.trim() === "") return;
    this.cancelDraft();
    this.send({ kind: "submit", text });
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
    if (event.key !== "Enter" || event.shiftKey) return;
    // An IME composition uses Enter to pick a candidate: never send then.
    if (event.isComposing || event.keyCode === 229) return;
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
