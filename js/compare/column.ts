// One column of the Compare widget: a header (name, model, settings, status, ← → Stop ×), the column's own
// settings, and a compact message list. Messages are keyed by id and created once; token deltas re-render the
// streaming reply at most once per animation frame. Replies are Markdown, sanitized by markdown.ts.
import { ChunkedRenderer, WHOLE_MAX } from "../chunks";
import { addCodeButtons } from "../cells";
import { describeSettings, SettingsForm } from "./settings";
import type { ColumnInfo, CompareMessage, Send, SettingsLimits } from "./types";
import { h, type Scheduler } from "../dom";
import { formatStats, formatStatsTitle } from "../format";
import { EN, type I18n } from "../i18n";
import { LiveMessages, place, StickyScroll } from "../live";
import { linkCitations } from "../citations";
import { renderMarkdown } from "../markdown";
import { ThinkingBlock } from "../thinking";
import { ToolRoundsView } from "../tools/cards";

export interface ColumnOptions {
  render?: (text: string) => string;
  schedule?: Scheduler;
  /** An administrator's caps for the column's settings form. */
  limits?: SettingsLimits;
  /** The view's language; English when absent. */
  i18n?: I18n;
}

interface Shown {
  node: HTMLElement;
  content: HTMLElement;
  meta: HTMLElement;
  key: string;
  /** The chunked renderer of a long reply (null: rendered whole), as in the Chat widget. */
  chunked: ChunkedRenderer | null;
  /** The "Thinking…" block of an assistant message (hidden while it has no reasoning). */
  thinking: ThinkingBlock | null;
  /** An answer's rounds of tool calls, above its final text (hidden while it has none). */
  tools: ToolRoundsView | null;
}

const BADGES = { stopped: "badge.stopped", incomplete: "badge.incomplete" } as const;

export class ColumnView {
  readonly element: HTMLElement;
  readonly id: string;
  private readonly title: HTMLElement;
  private readonly label: HTMLElement;
  private readonly settingsLine: HTMLElement;
  private readonly statusText: HTMLElement;
  private readonly list: HTMLElement;
  private readonly empty: HTMLElement;
  private readonly left: HTMLButtonElement;
  private readonly right: HTMLButtonElement;
  private readonly stopButton: HTMLButtonElement;
  private readonly removeButton: HTMLButtonElement;
  private readonly form: SettingsForm;
  private readonly render: (text: string) => string;
  private readonly i18n: I18n;
  /** The committed messages, their views and the text streamed into them since (as in the Chat's list). */
  private readonly store: LiveMessages<CompareMessage, Shown>;
  private readonly scroll: StickyScroll;

  constructor(info: ColumnInfo, private readonly send: Send, options: ColumnOptions = {}) {
    this.id = info.id;
    const i18n = (this.i18n = options.i18n ?? EN);
    this.render = options.render ?? ((text) => renderMarkdown(text, i18n));
    this.store = new LiveMessages<CompareMessage, Shown>(
      (view, msg) => this.paint(view, msg),
      () => this.scroll.follow(),
      options.schedule,
    );
    const button = (text: string, onClick: () => void) => {
      const b = h("button", { type: "button", class: "nbchat-action", text });
      b.addEventListener("click", onClick);
      return b;
    };
    this.left = button("←", () => this.send({ kind: "move", column: this.id, step: -1 }));
    this.right = button("→", () => this.send({ kind: "move", column: this.id, step: 1 }));
    this.stopButton = button(i18n.t("button.stop"), () => this.send({ kind: "stop", column: this.id }));
    this.removeButton = button("×", () => this.send({ kind: "remove", column: this.id }));
    this.title = h("h3", { class: "nbchat-title nbchat-compare-name" });
    this.label = h("div", { class: "nbchat-compare-label" });
    this.settingsLine = h("div", { class: "nbchat-compare-settings" });
    this.statusText = h("span", { class: "nbchat-status-text" });
    this.form = new SettingsForm(
      i18n.t("cmp.settings"),
      (values) => this.send({ kind: "settings", column: this.id, values }),
      options.limits,
      i18n,
    );
    this.empty = h("div", { class: "nbchat-empty", text: i18n.t("cmp.noAnswers") });
    this.list = h("div", { class: "nbchat-messages nbchat-compare-messages", role: "log", "aria-live": "polite", tabindex: 0 }, [
      this.empty,
    ]);
    this.scroll = new StickyScroll(this.list);
    this.element = h("section", { class: "nbchat-compare-column", role: "region", "data-column": info.id }, [
      h("header", { class: "nbchat-compare-head" }, [
        h("div", { class: "nbchat-compare-titlebar" }, [
          h("span", { class: "nbchat-dot", "aria-hidden": "true" }),
          this.title,
          h("div", { class: "nbchat-compare-colbuttons" }, [this.left, this.right, this.stopButton, this.removeButton]),
        ]),
        this.label,
        this.settingsLine,
        h("div", { class: "nbchat-statusline" }, [this.statusText]),
      ]),
      this.list,
      this.form.element,
    ]);
    this.update(info, 0, 1);
  }

  /** New header data; `index` of `count` decides which move buttons apply. */
  update(info: ColumnInfo, index: number, count: number): void {
    const name = info.name || info.id;
    this.element.setAttribute("aria-label", name);
    this.element.dataset.status = info.status;
    this.title.textContent = name;
    this.label.textContent = info.label && info.label !== name ? info.label : "";
    this.label.hidden = this.label.textContent === "";
    this.settingsLine.textContent = describeSettings(info.settings, this.i18n);
    this.statusText.textContent = this.i18n.fromKernel(info.status_text ?? "", info.status_i18n?.key, info.status_i18n?.params);
    this.left.disabled = index <= 0;
    this.right.disabled = index >= count - 1;
    this.stopButton.disabled = info.status !== "generating";
    this.left.setAttribute("aria-label", this.i18n.t("cmp.moveLeft", { name }));
    this.right.setAttribute("aria-label", this.i18n.t("cmp.moveRight", { name }));
    this.stopButton.setAttribute("aria-label", this.i18n.t("cmp.stop", { name }));
    this.removeButton.setAttribute("aria-label", this.i18n.t("cmp.remove", { name }));
    this.form.show(info.settings);
  }

  /** Reconcile with the column's committed messages. */
  setMessages(list: readonly CompareMessage[]): void {
    let previous: Node | null = null;
    this.store.reconcile(
      list,
      (msg) => this.createView(msg),
      (view, msg) => {
        place(this.list, view.node, previous);
        previous = view.node;
        this.paint(view, msg);
      },
      (view) => view.node.remove(),
    );
    this.empty.hidden = list.length > 0;
    this.list.append(this.empty);
    this.scroll.follow();
  }

  applyDelta(id: string, text: string, reasoning = ""): void {
    this.store.applyDelta(id, text, reasoning);
  }

  applySync(id: string, text: string, reasoning?: string): void {
    this.store.applySync(id, text, reasoning);
  }

  hasStreaming(): boolean {
    return this.store.hasStreaming();
  }

  /** The text of this column's answer in `turn` (live while streaming), or null if it did not answer. */
  answerOf(turn: number): string | null {
    for (const msg of this.store.messages.values()) if (msg.role === "assistant" && msg.turn === turn) return this.store.textOf(msg);
    return null;
  }

  dispose(): void {
    this.store.dispose();
    this.form.dispose();
    this.scroll.dispose();
    this.element.remove();
  }

  private createView(msg: CompareMessage): Shown {
    if (msg.role === "user") this.scroll.stuck = true; // a new question: follow its answer
    const content = h("div", { class: `nbchat-content ${msg.role === "user" ? "nbchat-plain" : "nbchat-markdown"}` });
    const meta = h("div", { class: "nbchat-compare-meta" });
    const thinking = msg.role === "assistant" ? new ThinkingBlock(this.render, this.i18n) : null;
    const tools =
      msg.role === "assistant" ? new ToolRoundsView({ render: this.render, send: (message) => this.send({ ...message, column: this.id }), i18n: this.i18n }) : null;
    const bubble = h("div", { class: "nbchat-bubble" }, tools && thinking ? [tools.element, thinking.element, content] : [content]);
    const node = h("div", { class: `nbchat-msg nbchat-msg-${msg.role}`, "data-role": msg.role, "data-id": msg.id }, [
      bubble,
      meta,
    ]);
    thinking?.update({ text: "", streaming: false, answered: false, status: msg.status, stats: null });
    return { node, content, meta, key: "", chunked: null, thinking, tools };
  }

  private paint(view: Shown, msg: CompareMessage): void {
    const streaming = msg.status === "streaming";
    const text = this.store.textOf(msg);
    const reasoning = this.store.reasoningOf(msg);
    view.tools?.update(msg.tool_rounds);
    const key = JSON.stringify([text, reasoning.length, msg.status, this.i18n.error(msg), streaming ? null : msg.stats]);
    if (key === view.key) return;
    view.key = key;
    view.thinking?.update({ text: reasoning, streaming, answered: text !== "", status: msg.status, stats: msg.stats });
    view.node.dataset.status = msg.status;
    if (streaming) view.node.setAttribute("aria-busy", "true");
    else view.node.removeAttribute("aria-busy");
    if (msg.role === "user") view.content.textContent = text;
    else if (text.length <= WHOLE_MAX) {
      view.chunked = null;
      view.content.innerHTML = text === "" ? "" : this.render(text);
      addCodeButtons(view.content, this.i18n);
    } else {
      // A long reply is rendered in pieces, the tail again per frame, so the page never freezes (chunks.ts).
      view.content.querySelector(":scope > .nbchat-typing")?.remove();
      if (!view.chunked?.attached) {
        const decorate = (element: HTMLElement) => {
          addCodeButtons(element, this.i18n);
          linkCitations(element, this.store.messages.get(msg.id)?.stats?.citations, this.i18n);
        };
        view.chunked = new ChunkedRenderer(view.content, { render: this.render, decorate });
      }
      if (view.chunked.show(text, !streaming)) {
        view.key = ""; // work left: paint again next frame
        this.store.markDirty(msg.id);
      }
    }
    if (msg.role === "assistant" && !streaming) linkCitations(view.content, msg.stats?.citations, this.i18n); // documents: chips
    if (msg.role === "assistant" && streaming) {
      view.content.append(h("span", { class: "nbchat-typing", "aria-hidden": "true" }));
    }
    view.meta.replaceChildren();
    if (msg.status === "error") {
      view.meta.append(h("div", { class: "nbchat-error", role: "alert", text: this.i18n.error(msg) || this.i18n.t("msg.failed") }));
    } else if (msg.error) view.meta.append(h("div", { class: "nbchat-note", text: this.i18n.error(msg) }));
    if (!streaming && typeof msg.stats?.notice === "string") view.meta.append(h("div", { class: "nbchat-note", text: msg.stats.notice }));
    const line = h("div", { class: "nbchat-meta" });
    const badge = msg.status in BADGES ? BADGES[msg.status as keyof typeof BADGES] : null;
    if (badge) line.append(h("span", { class: "nbchat-badge", "data-kind": msg.status, text: this.i18n.t(badge) }));
    if (msg.role === "assistant" && !streaming) {
      const stats = formatStats(msg.stats, this.i18n);
      if (stats) line.append(h("span", { class: "nbchat-stats", title: formatStatsTitle(msg.stats, this.i18n) || null, text: stats }));
    }
    if (line.childElementCount > 0) view.meta.append(line);
  }
}
