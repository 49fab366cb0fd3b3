// Tool calls in a reply: per round of calls, the text the model wrote before asking, then one card per call, grouped
// when a round made several. A card shows the tool, the exact arguments (pretty JSON; invisible and bidi control
// characters as visible badges, as in code blocks), the status, the duration and a collapsible result (images from
// the kernel's previews, text rendered like model output: Markdown without HTML, sanitized). A call waiting for
// approval has Allow once / Allow for this chat / Decline (with an optional reason for the model); a click sends
// `{kind: "approve"}`, which the kernel accepts only for a call that is waiting.
//
// Everything in a call is untrusted: the name and arguments are the model's, the result and error the tool's. Text
// goes in as text nodes; the only HTML is the sanitizer's output (`render`); the only images are data URLs checked
// by `safeThumbnail`.
import { safeThumbnail } from "../attachments";
import { formatSize } from "../chunks";
import { addCodeCopyButtons } from "../clipboard";
import { h } from "../dom";
import { EN, type I18n, type Key } from "../i18n";
import { codePointName, INVISIBLE } from "../invisible";
import { ThinkingBlock } from "../thinking";
import type { Attachment, ToolCall, ToolDecision, ToolRound, ToolStatus } from "../types";

export const TOOL_STATUSES: readonly ToolStatus[] = ["pending", "running", "done", "error", "declined", "stopped"];

/** The approve message a card's button sends. */
export interface ApproveMessage {
  kind: "approve";
  id: string;
  decision: ToolDecision;
  reason: string;
}

export interface ToolViewOptions {
  /** Markdown → sanitized HTML (the list's renderer). */
  render: (text: string) => string;
  /** Where the buttons' `approve` messages go. */
  send: (message: ApproveMessage) => void;
  i18n?: I18n;
}

/** `text` into `parent` as text nodes, each invisible or bidi control character as a visible badge; returns how many. */
export function appendMarked(parent: HTMLElement, text: string, i18n: I18n = EN): number {
  let count = 0;
  let last = 0;
  for (const match of text.matchAll(INVISIBLE)) {
    const at = match.index ?? 0;
    if (at > last) parent.append(text.slice(last, at));
    const name = codePointName(match[0]);
    parent.append(h("span", { class: "nbchat-invisible", title: i18n.t("code.invisible", { name }), text: name }));
    last = at + match[0].length;
    count += 1;
  }
  if (last < text.length) parent.append(text.slice(last));
  return count;
}

/** The arguments as shown: pretty JSON when they parse, else as written (`json` false). */
export function prettyArguments(raw: string): { text: string; json: boolean } {
  if (raw.trim() === "") return { text: "{}", json: true };
  try {
    return { text: JSON.stringify(JSON.parse(raw), null, 2), json: true };
  } catch {
    return { text: raw, json: false };
  }
}

function statusOf(call: ToolCall): ToolStatus {
  return TOOL_STATUSES.includes(call.status) ? call.status : "error";
}

function text(value: unknown): string {
  return typeof value === "string" ? value : "";
}

/** One call's card. Rebuilt when the call changes; a waiting call's card keeps the reason being typed. */
export class ToolCard {
  readonly element: HTMLElement;
  private key = "";
  private enabled = true;
  private buttons: HTMLButtonElement[] = [];
  private reason: HTMLInputElement | null = null;
  private sent = false;

  constructor(private readonly options: ToolViewOptions) {
    this.element = h("div", { class: "nbchat-tool-card", role: "group" });
  }

  update(call: ToolCall, enabled: boolean): void {
    const key = JSON.stringify(call);
    if (enabled !== this.enabled) {
      this.enabled = enabled;
      this.setButtons();
    }
    if (key === this.key) return;
    const wasPending = this.element.dataset.status === "pending";
    const typed = this.reason?.value ?? "";
    this.key = key;
    this.build(call);
    if (wasPending && this.reason) this.reason.value = typed;
  }

  private build(call: ToolCall): void {
    const i18n = this.options.i18n ?? EN;
    const status = statusOf(call);
    const name = text(call.name);
    const el = this.element;
    el.replaceChildren();
    el.dataset.status = status;
    el.dataset.callId = text(call.id);
    el.setAttribute("aria-label", i18n.t("tool.card", { name: name.replace(INVISIBLE, "") }));
    this.buttons = [];
    this.reason = null;
    this.sent = false;

    const title = h("code", { class: "nbchat-tool-name", dir: "auto" });
    appendMarked(title, name, i18n);
    const head = h("div", { class: "nbchat-tool-head" }, [title]);
    if (text(call.server)) head.append(h("span", { class: "nbchat-tool-server", text: i18n.t("tool.server", { server: call.server }) }));
    head.append(h("span", { class: "nbchat-tool-status", "data-status": status, text: i18n.t(`tool.status.${status}` as Key) }));
    if (typeof call.duration_s === "number" && Number.isFinite(call.duration_s)) {
      head.append(h("span", { class: "nbchat-tool-duration", text: i18n.seconds(call.duration_s, call.duration_s < 10 ? 2 : 1) }));
    }
    el.append(head);

    const args = prettyArguments(text(call.arguments));
    const code = h("code", {});
    const flagged = appendMarked(code, args.text, i18n);
    el.append(h("pre", { class: "nbchat-tool-args", "aria-label": i18n.t("tool.arguments"), dir: "ltr" }, [code]));
    if (!args.json) el.append(h("div", { class: "nbchat-note nbchat-tool-note", text: i18n.t("tool.notJson") }));
    if (flagged > 0) el.append(h("div", { class: "nbchat-note nbchat-tool-note", "data-kind": "invisible", text: i18n.count("tool.invisible", flagged) }));

    if (status === "pending") this.buildAsk(call, name.replace(INVISIBLE, ""));
    if (text(call.error) && status !== "done") {
      el.append(h("div", { class: "nbchat-tool-error", role: status === "error" ? "alert" : null, dir: "auto", text: text(call.error) }));
    }
    if (status === "declined" && text(call.reason)) {
      el.append(h("div", { class: "nbchat-note nbchat-tool-reason", dir: "auto", text: i18n.t("tool.reasonShown", { reason: call.reason }) }));
    }
    if (status === "done") this.buildResult(call);
  }

  private buildAsk(call: ToolCall, name: string): void {
    const i18n = this.options.i18n ?? EN;
    const reason = h("input", { type: "text", class: "nbchat-tool-reason-input", "aria-label": i18n.t("tool.reason"), placeholder: i18n.t("tool.reason"), maxlength: 2000 });
    const button = (label: Key, decision: ToolDecision, primary = false) => {
      const b = h("button", { type: "button", class: primary ? "nbchat-button nbchat-primary" : "nbchat-button", "data-decision": decision, text: i18n.t(label) });
      b.addEventListener("click", () => this.decide(call.id, decision));
      return b;
    };
    this.buttons = [button("tool.allowOnce", "once", true), button("tool.allowChat", "chat"), button("tool.decline", "decline")];
    reason.addEventListener("keydown", (event) => {
      if (event.key === "Enter") {
        event.preventDefault();
        this.decide(call.id, "decline");
      }
    });
    this.reason = reason;
    this.element.append(
      h("div", { class: "nbchat-tool-ask" }, [
        h("div", { class: "nbchat-tool-question", text: i18n.t("tool.ask", { name }) }),
        h("div", { class: "nbchat-tool-buttons" }, this.buttons),
        reason,
      ]),
    );
    this.setButtons();
  }

  private decide(id: string, decision: ToolDecision): void {
    if (this.sent || !this.enabled) return;
    this.sent = true; // one answer per card: the kernel's next state says what came of it
    this.setButtons();
    const reason = decision === "decline" ? (this.reason?.value ?? "").trim() : "";
    this.options.send({ kind: "approve", id, decision, reason });
  }

  private setButtons(): void {
    for (const b of this.buttons) b.disabled = this.sent || !this.enabled;
    if (this.reason) this.reason.disabled = this.sent || !this.enabled;
  }

  private buildResult(call: ToolCall): void {
    const i18n = this.options.i18n ?? EN;
    const images = (Array.isArray(call.result_attachments) ? call.result_attachments : []).filter((a) => a?.kind === "image");
    const result = text(call.result);
    const parts = [i18n.t("tool.resultSize", { size: formatSize(result.length, i18n) })];
    if (images.length > 0) parts.push(i18n.count("tool.images", images.length));
    const body = h("div", { class: "nbchat-tool-result-body" });
    const details = h("details", { class: "nbchat-tool-result" }, [h("summary", { text: parts.join(" · ") }), body]) as HTMLDetailsElement;
    if (images.length > 0) {
      body.append(h("div", { class: "nbchat-tool-images" }, images.map((a) => toolImage(a))));
      details.open = true; // a figure is the point of a plotting tool: shown at once
    }
    const textBox = h("div", { class: "nbchat-content nbchat-markdown nbchat-tool-result-text", dir: "auto" });
    body.append(textBox);
    let rendered = false;
    const renderText = () => {
      if (rendered || !details.open || result === "") return;
      rendered = true; // Markdown only once opened: a long history of results stays cheap
      textBox.innerHTML = this.options.render(result);
      addCodeCopyButtons(textBox, i18n);
    };
    details.addEventListener("toggle", renderText);
    renderText();
    this.element.append(details);
  }
}

/** An image a tool returned: its preview (or thumbnail), if it is a data URL of an image; never a remote address. */
function toolImage(a: Attachment & { preview?: unknown }): HTMLElement {
  const src = safeThumbnail(a.preview) || safeThumbnail(a.thumbnail);
  const title = [a.name, a.width && a.height ? `${a.width}×${a.height}` : ""].filter(Boolean).join(" · ");
  if (!src) return h("span", { class: "nbchat-tool-image", title, text: `🖼 ${a.name}` });
  return h("img", { class: "nbchat-tool-image", src, alt: a.name, title });
}

/** One round: its reasoning and text (Markdown, sanitized), then its calls' cards in a group. */
class RoundView {
  readonly element: HTMLElement;
  private readonly thinking: ThinkingBlock;
  private readonly content: HTMLElement;
  private readonly group: HTMLElement;
  private readonly heading: HTMLElement;
  private readonly dropped: HTMLElement;
  private readonly cards = new Map<string, ToolCard>();
  private shown = { content: null as string | null, reasoning: null as string | null };

  constructor(private readonly options: ToolViewOptions) {
    const i18n = options.i18n ?? EN;
    this.thinking = new ThinkingBlock(options.render, i18n);
    this.content = h("div", { class: "nbchat-content nbchat-markdown nbchat-tool-round-text", dir: "auto" });
    this.heading = h("div", { class: "nbchat-tool-group-head" });
    this.dropped = h("div", { class: "nbchat-note nbchat-tool-dropped" });
    this.group = h("div", { class: "nbchat-tool-group", role: "group" }, [this.heading]);
    this.element = h("div", { class: "nbchat-tool-round" }, [this.thinking.element, this.content, this.group]);
  }

  update(round: ToolRound, enabled: boolean): void {
    const i18n = this.options.i18n ?? EN;
    const reasoning = text(round.reasoning);
    if (reasoning !== this.shown.reasoning) {
      this.thinking.update({ text: reasoning, streaming: false, answered: true, status: "done", stats: null });
      this.shown.reasoning = reasoning;
    }
    const content = text(round.content);
    if (content !== this.shown.content) {
      this.content.innerHTML = content.trim() === "" ? "" : this.options.render(content);
      this.content.hidden = content.trim() === "";
      addCodeCopyButtons(this.content, i18n);
      this.shown.content = content;
    }
    const calls = Array.isArray(round.calls) ? round.calls : [];
    const label = i18n.count("tool.group", calls.length);
    this.group.setAttribute("aria-label", label);
    this.group.dataset.count = String(calls.length);
    this.heading.textContent = label;
    this.heading.hidden = calls.length < 2; // one call is its own card; several are one group with a heading
    const seen = new Set<string>();
    let previous: Element = this.heading;
    calls.forEach((call, index) => {
      const id = text(call.id) || `#${index}`;
      seen.add(id);
      let card = this.cards.get(id);
      if (!card) {
        card = new ToolCard(this.options);
        this.cards.set(id, card);
      }
      card.update(call, enabled);
      if (previous.nextSibling !== card.element) previous.after(card.element);
      previous = card.element;
    });
    for (const [id, card] of this.cards) {
      if (seen.has(id)) continue;
      card.element.remove();
      this.cards.delete(id);
    }
    const dropped = typeof round.dropped === "number" && round.dropped > 0 ? round.dropped : 0;
    this.dropped.textContent = dropped > 0 ? i18n.count("tool.dropped", dropped) : "";
    if (dropped > 0) this.group.append(this.dropped);
    else this.dropped.remove();
  }
}

/** The rounds of tool calls of one reply, above its final answer (hidden while there are none). */
export class ToolRoundsView {
  readonly element: HTMLElement;
  private readonly rounds: RoundView[] = [];
  private last: readonly ToolRound[] | undefined = undefined;
  private enabled = true;

  constructor(private readonly options: ToolViewOptions) {
    this.element = h("div", { class: "nbchat-tool-rounds", hidden: true });
  }

  /** Show `rounds` (a message's `tool_rounds`); `enabled` false (the kernel is gone) disables the buttons. */
  update(rounds: readonly ToolRound[] | undefined, enabled = true): void {
    if (rounds === this.last && enabled === this.enabled) return; // the same trait value: nothing changed
    this.last = rounds;
    this.enabled = enabled;
    const list = Array.isArray(rounds) ? rounds : [];
    while (this.rounds.length < list.length) {
      const view = new RoundView(this.options);
      this.rounds.push(view);
      this.element.append(view.element);
    }
    for (const extra of this.rounds.splice(list.length)) extra.element.remove();
    list.forEach((round, i) => this.rounds[i].update(round, enabled));
    this.element.hidden = list.length === 0;
  }
}
