// The provenance card under an assistant reply: what produced it (backend,
// model, settings, timings) and the exact request, plus the reply as code.
// Everything from the kernel goes in as text (`textContent`), never as HTML.
import { copyFrom } from "./clipboard";
import { h } from "./dom";
import { safeThumbnail } from "./attachments";
import type { ClientMessage, Provenance, RequestPart, Stats } from "./types";

const FINISH_REASONS: Record<string, string> = {
  stop: "stop",
  length: "max new tokens reached",
  stopped: "stopped by user",
  error: "error",
};

const NONE = "—";

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** Human words for a finish reason (`length` → "max new tokens reached"). */
export function formatFinishReason(reason: string | null | undefined): string {
  if (!reason) return NONE;
  return FINISH_REASONS[reason] ?? reason;
}

function num(value: unknown, digits?: number, unit = ""): string {
  if (!isNumber(value)) return NONE;
  return `${digits === undefined ? String(value) : value.toFixed(digits)}${unit}`;
}

function temperature(value: unknown): string {
  if (!isNumber(value)) return NONE;
  return value === 0 ? "0 (greedy)" : String(value);
}

function stopList(stop: unknown): string {
  if (!Array.isArray(stop) || stop.length === 0) return "none";
  // JSON quoting shows what is otherwise invisible: "\n", trailing spaces.
  return stop.map((s) => JSON.stringify(String(s))).join(", ");
}

function thinkingSetting(value: boolean | null | undefined, via: string | undefined): string {
  const choice = value === true ? "on" : value === false ? "off" : "model default";
  return via && value !== null && value !== undefined ? `${choice} (${via})` : choice;
}

function row(term: string, value: string): HTMLElement[] {
  return [h("dt", { text: term }), h("dd", { text: value })];
}

function statsRows(stats: Stats | null | undefined): HTMLElement[] {
  const s = stats ?? {};
  const rows = [
    ...row("Tokens in", num(s.prompt_tokens)),
    ...row("Tokens out", num(s.tokens)),
    ...row("TTFT", num(s.ttft_s, 2, " s")),
    ...row("Speed", num(s.tokens_per_s, 1, " tok/s")),
    ...row("Duration", num(s.duration_s, 2, " s")),
    ...row("Finish reason", formatFinishReason(s.finish_reason)),
  ];
  if (isNumber(s.thinking_s) || isNumber(s.first_answer_s)) {
    const tokens = isNumber(s.thinking_tokens) ? ` · ${s.thinking_tokens_estimated ? "~" : ""}${s.thinking_tokens} tokens` : "";
    rows.push(...row("Time thinking", `${num(s.thinking_s, 2, " s")}${tokens}`));
    rows.push(...row("First answer token", num(s.first_answer_s, 2, " s")));
  }
  if (s.tokens_estimated) rows.push(...row("Token counts", "estimated: the server reported no usage"));
  if (isNumber(s.left_out) && s.left_out > 0) {
    rows.push(...row("Left out", `${s.left_out} earlier message${s.left_out === 1 ? "" : "s"} (context window)`));
  }
  return rows;
}

/** A message's content as sent: its text, or each content part (an image as its thumbnail and name). */
function requestContent(content: unknown): HTMLElement[] {
  if (!Array.isArray(content)) return [h("pre", { class: "nbchat-request-text", text: String(content ?? "") })];
  return content.map((part: RequestPart) => {
    if (part?.type === "image") {
      const src = safeThumbnail(part.thumbnail);
      const label = String(part.name ?? "image");
      return h("figure", { class: "nbchat-request-image" }, [
        ...(src ? [h("img", { class: "nbchat-thumb", src, alt: label })] : []),
        h("figcaption", { text: `image: ${label}` }),
      ]);
    }
    return h("pre", { class: "nbchat-request-text", text: String((part as { text?: unknown })?.text ?? "") });
  });
}

/** The request as sent: the rendered prompt when there is one, else each message. */
function requestView(data: Provenance): HTMLElement {
  const body = h("div", { class: "nbchat-request-body" });
  if (typeof data.prompt === "string") {
    body.append(h("div", { class: "nbchat-request-role", text: "prompt" }), h("pre", { class: "nbchat-request-text", text: data.prompt }));
  } else {
    for (const m of Array.isArray(data.messages) ? data.messages : []) {
      body.append(
        h("div", { class: "nbchat-request-msg" }, [
          h("div", { class: "nbchat-request-role", text: String(m?.role ?? "") }),
          ...requestContent(m?.content),
        ]),
      );
    }
    if (body.childElementCount === 0) body.append(h("div", { class: "nbchat-request-empty", text: "No messages." }));
  }
  return h("details", { class: "nbchat-request" }, [h("summary", { text: "Request" }), body]);
}

/** The provenance as a definition list and a collapsible request. */
export function renderProvenance(data: Provenance | null | undefined): HTMLElement[] {
  if (!data || typeof data !== "object") {
    return [h("p", { class: "nbchat-card-note", text: "Details are not available for this message." })];
  }
  const settings = data.settings ?? {};
  const list = h("dl", { class: "nbchat-provenance-list" }, [
    ...row("Backend", data.backend || NONE),
    ...row("Model", data.model || NONE),
    ...row("Max new tokens", num(settings.max_new_tokens)),
    ...row("Temperature", temperature(settings.temperature)),
    ...row("Top p", num(settings.top_p)),
    ...row("Stop sequences", stopList(settings.stop)),
    ...row("Thinking", thinkingSetting(settings.thinking, data.thinking_switch)),
    ...row("System message", data.system_prompt ? data.system_prompt : "none"),
    ...statsRows(data.stats),
  ]);
  return [list, requestView(data)];
}

/**
 * The card: a details section (filled when the provenance arrives) and a code
 * section (filled by "Copy as code"). Created on first use, below the message.
 */
export class ProvenanceCard {
  readonly element: HTMLElement;
  private readonly details: HTMLElement;
  private readonly code: HTMLElement;
  private requested = false;

  constructor(
    private readonly id: string,
    private readonly send: (message: ClientMessage) => void,
  ) {
    this.details = h("section", { class: "nbchat-card-details", "aria-label": "Details", hidden: true });
    this.code = h("section", { class: "nbchat-card-code", "aria-label": "Code", hidden: true });
    // A card is long: never read it out as part of the message log's live updates.
    this.element = h("div", { class: "nbchat-card", "aria-live": "off", hidden: true }, [this.details, this.code]);
  }

  get detailsOpen(): boolean {
    return !this.details.hidden;
  }

  /** Show or hide the details; the first opening asks the kernel for them. */
  toggleDetails(): boolean {
    const open = this.details.hidden;
    this.details.hidden = !open;
    if (open && !this.requested) this.request();
    this.updateHidden();
    return open;
  }

  /** The reply changed (finished streaming): ask again when the details are next shown. */
  invalidate(): void {
    if (!this.requested) return;
    this.requested = false;
    if (this.detailsOpen) this.request();
  }

  showProvenance(data: Provenance | null): void {
    this.details.replaceChildren(...renderProvenance(data));
  }

  /** Show the code (visible even where the clipboard is denied) and copy it. */
  showCode(code: string, button: HTMLElement | null): void {
    const hide = h("button", { type: "button", class: "nbchat-card-button", text: "Hide code" });
    hide.addEventListener("click", () => {
      this.code.hidden = true;
      this.updateHidden();
      button?.focus();
    });
    this.code.replaceChildren(
      h("div", { class: "nbchat-card-head" }, [h("span", { text: "Code for this request" }), hide]),
      h("pre", { class: "nbchat-code-snippet", text: code }),
    );
    this.code.hidden = false;
    this.updateHidden();
    if (button) void copyFrom(button, code);
  }

  private request(): void {
    this.requested = true;
    this.details.replaceChildren(h("p", { class: "nbchat-card-note", text: "Loading details…" }));
    this.send({ kind: "provenance", id: this.id });
  }

  private updateHidden(): void {
    this.element.hidden = this.details.hidden && this.code.hidden;
  }
}
