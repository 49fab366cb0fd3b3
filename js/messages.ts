// The message list. One DOM node per message id, created once; a trait update
// touches only the nodes whose data changed, and token deltas re-render the
// streaming reply at most once per animation frame. Each message carries its
// action bar (actions.ts); the list tells it where the message stands.
import { MessageActions, type ActionContext } from "./actions";
import { addCodeCopyButtons } from "./clipboard";
import { formatStats, formatStatsTitle } from "./format";
import { h, nextFrame, type Scheduler } from "./dom";
import { renderMarkdown } from "./markdown";
import type { ChatMessage, ChatStatus, ClientMessage, Provenance } from "./types";

export interface MessageListOptions {
  /** Markdown renderer for assistant text (tests pass a counting wrapper). */
  render?: (text: string) => string;
  /** Frame scheduler for streaming re-renders (tests pass a manual one). */
  schedule?: Scheduler;
  /** Where the message actions go (the model's `send`); nowhere when absent. */
  send?: (message: ClientMessage) => void;
}

interface Shown {
  text: string | null;
  status: string;
  error: string | null;
  stats: string;
}

interface View {
  node: HTMLElement;
  content: HTMLElement;
  actions: MessageActions;
  shown: Shown;
}

/** Live text that arrived before its message did (trait update still in flight). */
interface Pending {
  text: string;
  full: boolean;
}

const BADGES: Record<string, string> = { stopped: "stopped", incomplete: "incomplete" };
/** How close to the bottom (px) still counts as "at the bottom". */
const STICK_SLACK = 32;

export class MessageList {
  readonly element: HTMLElement;
  private readonly thread: HTMLElement;
  private readonly empty: HTMLElement;
  private statusError: HTMLElement | null = null;
  private readonly render: (text: string) => string;
  private readonly schedule: Scheduler;
  private readonly send: (message: ClientMessage) => void;
  private generating = false;
  /** Id of the last assistant message in the list: the one "Regenerate" applies to. */
  private lastAssistant: string | undefined;
  private readonly views = new Map<string, View>();
  private readonly messages = new Map<string, ChatMessage>();
  private readonly live = new Map<string, string>();
  private readonly pending = new Map<string, Pending>();
  /** Ids removed from the list (Clear): late deltas for them are dropped. */
  private readonly removed = new Set<string>();
  private readonly dirty = new Set<string>();
  private cancelFrame: (() => void) | null = null;
  private stick = true;

  constructor(options: MessageListOptions = {}) {
    this.render = options.render ?? renderMarkdown;
    this.schedule = options.schedule ?? nextFrame;
    this.send = options.send ?? (() => {});
    this.thread = h("div", { class: "nbchat-thread" });
    this.empty = h("div", { class: "nbchat-empty", text: "No messages yet. Ask something below." });
    this.element = h("div", { class: "nbchat-messages", role: "log", "aria-live": "polite", tabindex: 0 }, [
      this.thread,
      this.empty,
    ]);
    this.element.addEventListener("scroll", this.onScroll);
  }

  /** Reconcile with the committed `messages` trait. */
  setMessages(list: readonly ChatMessage[]): void {
    const seen = new Set<string>();
    let previous: Node | null = null;
    this.lastAssistant = [...list].reverse().find((m) => m.role === "assistant")?.id;
    for (const msg of list) {
      seen.add(msg.id);
      let view = this.views.get(msg.id);
      if (!view) {
        view = this.createView(msg);
        this.views.set(msg.id, view);
        this.removed.delete(msg.id);
        if (msg.role === "user") this.stick = true;
      }
      this.messages.set(msg.id, msg);
      this.mergeLive(msg);
      const expected: Node | null = previous ? previous.nextSibling : this.thread.firstChild;
      if (expected !== view.node) this.thread.insertBefore(view.node, expected);
      previous = view.node;
      this.dirty.delete(msg.id);
      this.update(view, msg);
      view.actions.update(msg, this.actionContext(msg.id));
    }
    for (const [id, view] of this.views) {
      if (seen.has(id)) continue;
      view.actions.dispose();
      view.node.remove();
      this.removed.add(id);
      this.views.delete(id);
      this.messages.delete(id);
      this.live.delete(id);
      this.dirty.delete(id);
    }
    this.updateEmpty();
    this.scrollIfStuck();
  }

  /** Append streamed text to message `id`. */
  applyDelta(id: string, text: string): void {
    const msg = this.messages.get(id);
    if (!msg) {
      if (this.removed.has(id)) return;
      const before = this.pending.get(id);
      this.pending.set(id, { text: (before?.text ?? "") + text, full: before?.full ?? false });
      return;
    }
    if (msg.status !== "streaming") return; // a late delta after the reply was committed
    this.live.set(id, (this.live.get(id) ?? msg.content) + text);
    this.markDirty(id);
  }

  /** Replace the streamed text of message `id` with the full partial text. */
  applySync(id: string, text: string): void {
    const msg = this.messages.get(id);
    if (!msg) {
      if (!this.removed.has(id)) this.pending.set(id, { text, full: true });
      return;
    }
    if (msg.status !== "streaming") return;
    this.live.set(id, text);
    this.markDirty(id);
  }

  /** The kernel's answer to "Details" for message `id`. */
  applyProvenance(id: string, data: Provenance | null): void {
    this.views.get(id)?.actions.showProvenance(data);
  }

  /** The kernel's answer to "Copy as code" for message `id`. */
  applyCode(id: string, code: string): void {
    this.views.get(id)?.actions.showCode(code);
  }

  /** Show the chat-level status; a failed load must be visible in the chat itself. */
  setStatus(status: ChatStatus, text: string): void {
    const generating = status === "generating";
    if (generating !== this.generating) {
      this.generating = generating;
      for (const [id, view] of this.views) {
        const msg = this.messages.get(id);
        if (msg) view.actions.update(msg, this.actionContext(id));
      }
    }
    if (status === "error") {
      if (!this.statusError) {
        this.statusError = h("div", { class: "nbchat-error nbchat-status-error", role: "alert" });
        this.element.append(this.statusError);
      }
      this.statusError.textContent = text || "Something went wrong.";
    } else if (this.statusError) {
      this.statusError.remove();
      this.statusError = null;
    }
    this.updateEmpty();
    this.scrollIfStuck();
  }

  hasStreaming(): boolean {
    for (const msg of this.messages.values()) if (msg.status === "streaming") return true;
    return false;
  }

  dispose(): void {
    this.cancelFrame?.();
    this.cancelFrame = null;
    for (const view of this.views.values()) view.actions.dispose();
    this.element.removeEventListener("scroll", this.onScroll);
  }

  private readonly onScroll = (): void => {
    const el = this.element;
    this.stick = el.scrollHeight - el.scrollTop - el.clientHeight <= STICK_SLACK;
  };

  private actionContext(id: string): ActionContext {
    return { generating: this.generating, lastAssistant: id === this.lastAssistant };
  }

  /** The text of message `id` as shown: the live text while it streams. */
  private textOf(id: string): string {
    const msg = this.messages.get(id);
    if (!msg) return "";
    return msg.status === "streaming" ? (this.live.get(id) ?? msg.content) : msg.content;
  }

  private scrollIfStuck(): void {
    if (this.stick) this.element.scrollTop = this.element.scrollHeight;
  }

  private updateEmpty(): void {
    this.empty.hidden = this.views.size > 0 || this.statusError !== null;
  }

  /** Fold committed content and any early live text into the live map. */
  private mergeLive(msg: ChatMessage): void {
    const early = this.pending.get(msg.id);
    this.pending.delete(msg.id);
    if (msg.status !== "streaming") {
      this.live.delete(msg.id);
      return;
    }
    if (early) {
      this.live.set(msg.id, early.full ? early.text : msg.content + early.text);
      return;
    }
    const current = this.live.get(msg.id);
    if (current === undefined || msg.content.length > current.length) this.live.set(msg.id, msg.content);
  }

  private markDirty(id: string): void {
    this.dirty.add(id);
    if (this.cancelFrame) return;
    this.cancelFrame = this.schedule(() => {
      this.cancelFrame = null;
      this.flush();
    });
  }

  private flush(): void {
    for (const id of this.dirty) {
      const view = this.views.get(id);
      const msg = this.messages.get(id);
      if (view && msg) this.update(view, msg);
    }
    this.dirty.clear();
    this.scrollIfStuck();
  }

  private createView(msg: ChatMessage): View {
    const content = h("div", { class: `nbchat-content ${msg.role === "user" ? "nbchat-plain" : "nbchat-markdown"}` });
    const bubble = h("div", { class: "nbchat-bubble" }, [content]);
    const node = h("div", { class: `nbchat-msg nbchat-msg-${msg.role}`, "data-role": msg.role, "data-id": msg.id }, [
      bubble,
    ]);
    const actions = new MessageActions(node, bubble, content, msg, {
      send: (message) => this.send(message),
      textOf: (id) => this.textOf(id),
    });
    node.append(actions.bar);
    return { node, content, actions, shown: { text: null, status: "", error: null, stats: "" } };
  }

  private update(view: View, msg: ChatMessage): void {
    const streaming = msg.status === "streaming";
    const text = streaming ? (this.live.get(msg.id) ?? msg.content) : msg.content;
    const stats = msg.role === "assistant" && !streaming ? JSON.stringify(msg.stats ?? null) : "";
    const shown = view.shown;
    const textChanged = text !== shown.text;
    const statusChanged = msg.status !== shown.status;
    if (!textChanged && !statusChanged && msg.error === shown.error && stats === shown.stats) return;

    view.node.dataset.status = msg.status;
    if (streaming) view.node.setAttribute("aria-busy", "true");
    else view.node.removeAttribute("aria-busy");
    if (textChanged || statusChanged) this.renderContent(view, msg, text, streaming);
    if (statusChanged || msg.error !== shown.error || stats !== shown.stats) this.renderMeta(view, msg, streaming);
    // Details loaded while the reply streamed lack its final stats.
    if (statusChanged && shown.status === "streaming") view.actions.invalidate();
    view.shown = { text, status: msg.status, error: msg.error, stats };
  }

  private renderContent(view: View, msg: ChatMessage, text: string, streaming: boolean): void {
    const { content } = view;
    if (text !== view.shown.text) {
      if (msg.role === "user") content.textContent = text;
      else {
        content.innerHTML = text === "" ? "" : this.render(text);
        addCodeCopyButtons(content);
      }
    }
    content.querySelector(".nbchat-typing")?.remove();
    if (!streaming) return;
    // The caret goes at the end of the last text block, where the next token lands.
    let target: Element = content;
    while (target.lastElementChild && /^(P|LI|UL|OL|BLOCKQUOTE|H[1-6])$/.test(target.lastElementChild.tagName)) {
      target = target.lastElementChild;
    }
    target.append(h("span", { class: "nbchat-typing", "aria-hidden": "true" }));
  }

  /** Error box or note, badge and stats line: rebuilt together (they are small). */
  private renderMeta(view: View, msg: ChatMessage, streaming: boolean): void {
    const { node, actions } = view;
    const append = (child: HTMLElement) => node.insertBefore(child, actions.bar);
    for (const old of node.querySelectorAll(":scope > .nbchat-error, :scope > .nbchat-note, :scope > .nbchat-meta")) {
      old.remove();
    }
    if (msg.status === "error") {
      append(h("div", { class: "nbchat-error", role: "alert", text: msg.error || "The reply failed." }));
    } else if (msg.error) {
      // e.g. why an "incomplete" reply may be cut off: worth reading, not an alarm.
      append(h("div", { class: "nbchat-note", text: msg.error }));
    }
    const meta = h("div", { class: "nbchat-meta" });
    const badge = BADGES[msg.status];
    if (badge) meta.append(h("span", { class: "nbchat-badge", "data-kind": msg.status, text: badge }));
    if (msg.role === "assistant" && !streaming) {
      const line = formatStats(msg.stats);
      if (line) meta.append(h("span", { class: "nbchat-stats", title: formatStatsTitle(msg.stats) || null, text: line }));
    }
    if (meta.childElementCount > 0) append(meta);
  }
}
