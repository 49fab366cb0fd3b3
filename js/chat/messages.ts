// The message list. One DOM node per message id, created once; a trait update
// touches only the nodes whose data changed, and token deltas re-render the
// streaming reply at most once per animation frame. Each message carries its
// action bar (actions.ts); the list tells it where the message stands. Long
// replies are rendered in chunks over several frames (chunks.ts), and a very
// long user message shows its start with a "Show all" button, so that no
// message, however big, freezes the page.
import { renderAttachments } from "../attachments";
import { MessageActions, type ActionContext } from "./actions";
import { ChunkedRenderer, WHOLE_MAX, formatSize } from "../chunks";
import { addCodeButtons } from "../cells";
import { linkCitations } from "../citations";
import { formatStats, formatStatsTitle } from "../format";
import { h, type Scheduler } from "../dom";
import { EN, type I18n } from "../i18n";
import { LiveMessages, place, StickyScroll } from "../live";
import { renderMarkdown, renderUserMath } from "../markdown";
import { ThinkingBlock } from "../thinking";
import { ToolRoundsView } from "../tools/cards";
import type { ChatMessage, ChatStatus, ClientMessage, Provenance } from "../types";

export interface MessageListOptions {
  /** Markdown renderer for assistant text (tests pass a counting wrapper). */
  render?: (text: string) => string;
  /** Frame scheduler for streaming re-renders (tests pass a manual one). */
  schedule?: Scheduler;
  /** Where the message actions go (the model's `send`); nowhere when absent. */
  send?: (message: ClientMessage) => void;
  /** The view's language; English when absent. */
  i18n?: I18n;
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
  /** The "Thinking…" block of a reasoning reply (created with the view, hidden while empty). */
  thinking: ThinkingBlock | null;
  /** An answer's rounds of tool calls, above its final text (hidden while it has none). */
  tools: ToolRoundsView | null;
  /** The reasoning and state it last showed. */
  thinkingKey: string;
  actions: MessageActions;
  shown: Shown;
  /** The chunked renderer of a long reply (null: rendered whole). */
  chunked: ChunkedRenderer | null;
  /** The chunked renderer has work left for the next frame. */
  pending: boolean;
  /** The user asked to see the whole of a long user message. */
  expanded: boolean;
  /** Shown as plain text until its page scrolls into view (a long history loaded at once). */
  deferred: boolean;
  /** What the action bar last showed (null: out of date). */
  actionsKey: string | null;
}

const BADGES = { stopped: "badge.stopped", incomplete: "badge.incomplete" } as const;
/** A user message longer than this shows only its first `USER_PREVIEW` characters, until "Show all". */
export const USER_WHOLE_MAX = 50_000;
export const USER_PREVIEW = 20_000;
/**
 * Message nodes are grouped in pages of this many. The browser skips style, layout and paint for pages out of
 * view (`content-visibility: auto`), and a growing reply lays out only its own page: with thousands of messages a
 * frame costs about what it costs with a few dozen.
 */
export const PAGE_SIZE = 50;
/**
 * A history loaded at once with more new messages than this renders the Markdown of pages out of view only when
 * they scroll into view (their text shows as plain text until then): loading 1,000 turns takes one frame's worth of
 * Markdown, not a thousand replies' worth. Needs the browser's `contentvisibilityautostatechange` event.
 */
const DEFER_OVER = 2 * PAGE_SIZE;
const CAN_DEFER = typeof window !== "undefined" && "ContentVisibilityAutoStateChangeEvent" in window;

export class MessageList {
  readonly element: HTMLElement;
  private readonly thread: HTMLElement;
  private readonly empty: HTMLElement;
  private statusError: HTMLElement | null = null;
  private readonly render: (text: string) => string;
  private readonly send: (message: ClientMessage) => void;
  private readonly i18n: I18n;
  private generating = false;
  /** False once the kernel is gone: actions that would send something are disabled. */
  private connected = true;
  /** Id of the last assistant message in the list: the one "Regenerate" applies to. */
  private lastAssistant: string | undefined;
  /** Text of the last user message of the visible list. */
  private lastUserText: string | null = null;
  private readonly views: Map<string, View>;
  /** Groups of `PAGE_SIZE` consecutive message nodes, in order (see `PAGE_SIZE`). */
  private readonly pages: HTMLElement[] = [];
  /** Pages the browser reports out of view (skipped); unknown pages count as in view. */
  private readonly hidden = new WeakSet<HTMLElement>();
  /** During a bulk load: replies on pages before this one are deferred (see `DEFER_OVER`). */
  private deferBefore = 0;
  /** The page of the message being placed by `setMessages` (fractional: index / PAGE_SIZE). */
  private placing = Infinity;
  /** The committed messages and the text streamed into them since (shared with each Compare column). */
  private readonly store: LiveMessages<ChatMessage, View>;
  private readonly messages: Map<string, ChatMessage>;
  private readonly scroll: StickyScroll;

  constructor(options: MessageListOptions = {}) {
    this.i18n = options.i18n ?? EN;
    this.render = options.render ?? ((text) => renderMarkdown(text, this.i18n));
    this.store = new LiveMessages<ChatMessage, View>(
      (view, msg) => this.update(view, msg),
      () => this.scroll.follow(),
      options.schedule,
    );
    this.messages = this.store.messages;
    this.views = this.store.views;
    this.send = options.send ?? (() => {});
    this.thread = h("div", { class: "nbchat-thread" });
    this.empty = h("div", { class: "nbchat-empty", text: this.i18n.t("list.empty") });
    this.element = h("div", { class: "nbchat-messages", role: "log", "aria-live": "polite", tabindex: 0 }, [
      this.thread,
      this.empty,
    ]);
    this.scroll = new StickyScroll(this.element);
  }

  /** Reconcile with the committed `messages` trait. */
  setMessages(list: readonly ChatMessage[]): void {
    let previous: Node | null = null;
    let page: HTMLElement = this.page(0);
    let index = 0;
    // A bulk load (a long history set at once): pages before the last two wait to be seen before rendering.
    const fresh = CAN_DEFER ? list.reduce((n, m) => n + (this.views.has(m.id) ? 0 : 1), 0) : 0;
    this.deferBefore = fresh > DEFER_OVER ? Math.floor(list.length / PAGE_SIZE) - 1 : 0;
    this.lastAssistant = [...list].reverse().find((m) => m.role === "assistant")?.id;
    this.lastUserText = [...list].reverse().find((m) => m.role === "user")?.content ?? null;
    this.store.reconcile(
      list,
      (msg) => this.createView(msg),
      (view, msg) => {
        if (index > 0 && index % PAGE_SIZE === 0) {
          page = this.page(index / PAGE_SIZE);
          previous = null;
        }
        this.placing = index / PAGE_SIZE;
        const moved = view.node.parentNode !== page;
        place(page, view.node, previous);
        previous = view.node;
        index += 1;
        this.update(view, msg);
        this.updateActions(view, msg, moved);
      },
      (view) => {
        view.actions.dispose();
        view.node.remove();
      },
    );
    for (const extra of this.pages.splice(Math.max(1, Math.ceil(index / PAGE_SIZE)))) extra.remove();
    this.deferBefore = 0;
    this.placing = Infinity;
    this.updateEmpty();
    this.scroll.follow();
  }

  /** The `n`-th page of the thread (created as needed). */
  private page(n: number): HTMLElement {
    while (this.pages.length <= n) {
      const page = h("div", { class: "nbchat-page" });
      page.addEventListener("contentvisibilityautostatechange", (event) => {
        if ((event as Event & { skipped?: boolean }).skipped) this.hidden.add(page);
        else {
          this.hidden.delete(page);
          this.showPage(page);
        }
      });
      this.thread.append(page);
      this.pages.push(page);
    }
    return this.pages[n];
  }

  /** A page came into view: render the Markdown of its deferred replies, refresh stale action bars. */
  private showPage(page: HTMLElement): void {
    for (const node of page.children) {
      const id = (node as HTMLElement).dataset.id;
      const view = id ? this.views.get(id) : undefined;
      const msg = id ? this.messages.get(id) : undefined;
      if (!view || !msg) continue;
      if (view.deferred) {
        view.deferred = false;
        view.shown = { ...view.shown, text: null };
        this.update(view, msg);
      }
      if (view.actionsKey === null) this.updateActions(view, msg, true);
    }
  }

  /** Append streamed text (and reasoning) to message `id`. */
  applyDelta(id: string, text: string, reasoning = ""): void {
    this.store.applyDelta(id, text, reasoning);
  }

  /** Replace the streamed text (and reasoning) of message `id` with the full partial text. */
  applySync(id: string, text: string, reasoning?: string): void {
    this.store.applySync(id, text, reasoning);
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
        if (msg) this.updateActions(view, msg);
      }
    }
    if (status === "error") {
      if (!this.statusError) {
        this.statusError = h("div", { class: "nbchat-error nbchat-status-error", role: "alert" });
        this.element.append(this.statusError);
      }
      this.statusError.textContent = text || this.i18n.t("list.error");
    } else if (this.statusError) {
      this.statusError.remove();
      this.statusError = null;
    }
    this.updateEmpty();
    this.scroll.follow();
  }

  /** The kernel went away: disable every action that needs it (Copy still works). */
  setConnected(connected: boolean): void {
    this.connected = connected;
    for (const [id, view] of this.views) {
      const msg = this.messages.get(id);
      if (msg) this.updateActions(view, msg, true);
      if (msg) view.tools?.update(msg.tool_rounds, connected); // no kernel: nobody to answer a card's buttons
    }
  }

  /** No message is shown (the starter prompts may show). */
  isEmpty(): boolean {
    return this.views.size === 0;
  }

  /** The last question asked in the shown branch ("↑ in an empty box"), or null. */
  lastQuestion(): string | null {
    return this.lastUserText;
  }

  hasStreaming(): boolean {
    return this.store.hasStreaming();
  }

  dispose(): void {
    this.store.dispose();
    for (const view of this.views.values()) view.actions.dispose();
    this.scroll.dispose();
  }

  /**
   * Bring a message's action bar up to date — unless nothing it shows changed, or its page is out of view (then
   * when the page comes into view): with thousands of messages, a reply starting or ending touches a page's worth.
   */
  private updateActions(view: View, msg: ChatMessage, force = false): void {
    const page = view.node.parentElement;
    if (!force && page && this.hidden.has(page)) {
      view.actionsKey = null; // stale: refreshed by showPage
      return;
    }
    const context = this.actionContext(msg.id);
    const key = JSON.stringify([context, msg.status, msg.branch, msg.pinned, msg.excluded, msg.in_context, msg.content.length, msg.feedback ?? null]);
    if (key === view.actionsKey && !force) return;
    view.actions.update(msg, context);
    view.actionsKey = key;
  }

  private actionContext(id: string): ActionContext {
    return { generating: this.generating || !this.connected, lastAssistant: id === this.lastAssistant, offline: !this.connected };
  }

  /** The text of message `id` as shown: the live text while it streams. */
  private textOf(id: string): string {
    const msg = this.messages.get(id);
    return msg ? this.store.textOf(msg) : "";
  }

  private updateEmpty(): void {
    this.empty.hidden = this.views.size > 0 || this.statusError !== null;
  }

  private createView(msg: ChatMessage): View {
    if (msg.role === "user") this.scroll.stuck = true; // a new question: follow its answer
    // dir="auto": right-to-left text reads right-to-left, and direction controls in a message (U+202E, ...)
    // stay inside its bubble (the element isolates them from the page).
    const content = h("div", { class: `nbchat-content ${msg.role === "user" ? "nbchat-plain" : "nbchat-markdown"}`, dir: "auto" });
    const tools =
      msg.role === "assistant"
        ? new ToolRoundsView({ render: this.render, send: (message) => this.send(message), i18n: this.i18n })
        : null;
    const bubble = h("div", { class: "nbchat-bubble" }, tools ? [tools.element, content] : [content]);
    const attachments = msg.role === "user" ? renderAttachments(msg.attachments, this.i18n) : null; // fixed once sent
    if (attachments) bubble.append(attachments);
    const node = h("div", { class: `nbchat-msg nbchat-msg-${msg.role}`, "data-role": msg.role, "data-id": msg.id }, [
      bubble,
    ]);
    const actions = new MessageActions(node, bubble, content, msg, {
      send: (message) => this.send(message),
      textOf: (id) => this.textOf(id),
      i18n: this.i18n,
    });
    node.append(actions.bar);
    const view: View = {
      node,
      content,
      thinking: null,
      tools,
      thinkingKey: "",
      actions,
      shown: { text: null, status: "", error: null, stats: "" },
      chunked: null,
      pending: false,
      expanded: false,
      deferred: false,
      actionsKey: null,
    };
    content.addEventListener("click", (event) => {
      if (!(event.target as Element | null)?.closest?.(".nbchat-show-all")) return;
      view.expanded = true;
      view.shown = { ...view.shown, text: null };
      const current = this.messages.get(msg.id);
      if (current) this.update(view, current);
    });
    return view;
  }

  private update(view: View, msg: ChatMessage): void {
    const streaming = msg.status === "streaming";
    const text = this.store.textOf(msg);
    const stats = msg.role === "assistant" && !streaming ? JSON.stringify(msg.stats ?? null) : "";
    if (msg.role === "assistant") {
      view.tools?.update(msg.tool_rounds, this.connected);
      this.renderThinking(view, msg, text, streaming);
    }
    const shown = view.shown;
    const textChanged = text !== shown.text;
    const statusChanged = msg.status !== shown.status;
    const error = this.i18n.error(msg); // in the view's language when the kernel sent its key
    if (!textChanged && !statusChanged && !view.pending && error === shown.error && stats === shown.stats) return;

    view.node.dataset.status = msg.status;
    if (streaming) view.node.setAttribute("aria-busy", "true");
    else view.node.removeAttribute("aria-busy");
    if (textChanged || statusChanged || view.pending) this.renderContent(view, msg, text, streaming);
    // Documents: the markers the kernel resolved become chips (their passages arrive with the final stats).
    if (msg.role === "assistant" && !streaming && !view.deferred) linkCitations(view.content, msg.stats?.citations, this.i18n);
    if (statusChanged || error !== shown.error || stats !== shown.stats) this.renderMeta(view, msg, streaming);
    // Details loaded while the reply streamed lack its final stats.
    if (statusChanged && shown.status === "streaming") view.actions.invalidate();
    view.shown = { text, status: msg.status, error, stats };
  }

  private renderContent(view: View, msg: ChatMessage, text: string, streaming: boolean): void {
    const { content } = view;
    if (msg.role === "user") {
      if (text !== view.shown.text) this.renderUser(view, text);
    } else if (text.length <= WHOLE_MAX) {
      if (text !== view.shown.text || view.chunked) {
        view.chunked = null;
        view.pending = false;
        view.deferred = !streaming && this.placing < this.deferBefore;
        content.classList.toggle("nbchat-deferred", view.deferred);
        if (view.deferred) content.textContent = text; // rendered when its page is seen (renderDeferred)
        else content.innerHTML = text === "" ? "" : this.render(text);
        addCodeButtons(content, this.i18n);
      }
    } else {
      if (!view.chunked?.attached) {
        view.chunked = new ChunkedRenderer(content, {
          render: this.render,
          decorate: (element) => {
            addCodeButtons(element, this.i18n);
            linkCitations(element, this.messages.get(msg.id)?.stats?.citations, this.i18n);
          },
          i18n: this.i18n,
        });
      }
      view.pending = view.chunked.show(text, !streaming);
      if (view.pending) this.store.markDirty(msg.id);
    }
    content.querySelector(".nbchat-typing")?.remove();
    if (!streaming) return;
    // The caret goes at the end of the last text block, where the next token lands.
    let target: Element = content;
    for (;;) {
      const last: Element | null = target.lastElementChild;
      if (!last || !(/^(P|LI|UL|OL|BLOCKQUOTE|H[1-6])$/.test(last.tagName) || last.classList.contains("nbchat-chunk"))) break;
      target = last;
    }
    target.append(h("span", { class: "nbchat-typing", "aria-hidden": "true" }));
  }

  /** The reasoning block above the answer: live while thinking, collapsed once the answer starts. */
  private renderThinking(view: View, msg: ChatMessage, text: string, streaming: boolean): void {
    const reasoning = this.store.reasoningOf(msg);
    if (reasoning === "" && view.thinking === null) return;
    const answered = text !== "";
    const key = JSON.stringify([reasoning.length, msg.status, answered, streaming ? null : msg.stats]);
    if (key === view.thinkingKey) return;
    view.thinkingKey = key;
    if (view.thinking === null) {
      view.thinking = new ThinkingBlock(this.render, this.i18n);
      view.content.before(view.thinking.element);
    }
    view.thinking.update({ text: reasoning, streaming, answered, status: msg.status, stats: msg.stats });
  }

  /** User text is never HTML. A very long message shows its start and a "Show all" button. */
  private renderUser(view: View, text: string): void {
    const { content } = view;
    if (text.length <= USER_WHOLE_MAX || view.expanded) {
      const math = text.length <= WHOLE_MAX ? renderUserMath(text) : null; // only the math is rendered
      if (math === null) content.textContent = text;
      else content.innerHTML = math;
      return;
    }
    content.textContent = text.slice(0, USER_PREVIEW);
    content.append(
      h("span", { class: "nbchat-elided", text: "…" }),
      h("button", { type: "button", class: "nbchat-show-all", text: this.i18n.t("msg.showAll", { size: formatSize(text.length, this.i18n) }) }),
    );
  }

  /** Error box or note, badge and stats line: rebuilt together (they are small). */
  private renderMeta(view: View, msg: ChatMessage, streaming: boolean): void {
    const { node, actions } = view;
    const append = (child: HTMLElement) => node.insertBefore(child, actions.bar);
    for (const old of node.querySelectorAll(":scope > .nbchat-error, :scope > .nbchat-note, :scope > .nbchat-meta")) {
      old.remove();
    }
    if (msg.status === "error") {
      append(h("div", { class: "nbchat-error", role: "alert", text: this.i18n.error(msg) || this.i18n.t("msg.failed") }));
    } else if (msg.error) {
      // e.g. why an "incomplete" reply may be cut off: worth reading, not an alarm.
      append(h("div", { class: "nbchat-note", text: this.i18n.error(msg) }));
    }
    // e.g. that thinking= could not be applied to this model
    if (!streaming && typeof msg.stats?.notice === "string") append(h("div", { class: "nbchat-note", text: msg.stats.notice }));
    const meta = h("div", { class: "nbchat-meta" });
    // A reply that failed part-way keeps its text: mark it as incomplete, next to the error.
    const badge = msg.status === "error" && msg.content !== "" ? "incomplete" : msg.status in BADGES ? (msg.status as keyof typeof BADGES) : null;
    if (badge) meta.append(h("span", { class: "nbchat-badge", "data-kind": badge, text: this.i18n.t(BADGES[badge]) }));
    if (msg.role === "assistant" && !streaming) {
      const line = formatStats(msg.stats, this.i18n);
      if (line) meta.append(h("span", { class: "nbchat-stats", title: formatStatsTitle(msg.stats, this.i18n) || null, text: line }));
    }
    if (meta.childElementCount > 0) append(meta);
  }
}
