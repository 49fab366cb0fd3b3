// The provenance card under an assistant reply: what produced it (backend,
// model, settings, timings) and the exact request, plus the reply as code.
// Everything from the kernel goes in as text (`textContent`), never as HTML.
import { copyFrom } from "../clipboard";
import { h } from "../dom";
import { safeThumbnail } from "../attachments";
import { EN, type I18n, type Key } from "../i18n";
import type { ClientMessage, Provenance, RequestPart, Stats } from "../types";

const FINISH_REASONS: Record<string, Key> = {
  stop: "finish.stop",
  length: "finish.length",
  stopped: "finish.stopped",
  error: "finish.error",
};

const NONE = "—";

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** Human words for a finish reason (`length` → "max new tokens reached"). */
export function formatFinishReason(reason: string | null | undefined, i18n: I18n = EN): string {
  if (!reason) return NONE;
  const key = FINISH_REASONS[reason];
  return key ? i18n.t(key) : reason;
}

function num(i18n: I18n, value: unknown, digits?: number): string {
  return isNumber(value) ? i18n.number(value, digits) : NONE;
}

function temperature(i18n: I18n, value: unknown): string {
  if (!isNumber(value)) return NONE;
  return value === 0 ? i18n.t("prov.greedy") : i18n.number(value);
}

function stopList(i18n: I18n, stop: unknown): string {
  if (!Array.isArray(stop) || stop.length === 0) return i18n.t("prov.none");
  // JSON quoting shows what is otherwise invisible: "\n", trailing spaces.
  return stop.map((s) => JSON.stringify(String(s))).join(", ");
}

function thinkingSetting(i18n: I18n, value: boolean | null | undefined, via: string | undefined): string {
  const choice = i18n.t(value === true ? "options.on" : value === false ? "options.off" : "options.thinkingDefault");
  return via && value !== null && value !== undefined ? `${choice} (${via})` : choice;
}

function row(term: string, value: string): HTMLElement[] {
  return [h("dt", { text: term }), h("dd", { text: value })];
}

function statsRows(i18n: I18n, stats: Stats | null | undefined): HTMLElement[] {
  const s = stats ?? {};
  const t = (key: Key) => i18n.t(key);
  const rows = [
    ...row(t("prov.tokensIn"), num(i18n, s.prompt_tokens)),
    ...row(t("prov.tokensOut"), num(i18n, s.tokens)),
    ...row(t("prov.ttft"), isNumber(s.ttft_s) ? i18n.seconds(s.ttft_s) : NONE),
    ...row(t("prov.speed"), isNumber(s.tokens_per_s) ? i18n.t("unit.rate", { n: i18n.number(s.tokens_per_s, 1) }) : NONE),
    ...row(t("prov.duration"), isNumber(s.duration_s) ? i18n.seconds(s.duration_s) : NONE),
    ...row(t("prov.finish"), formatFinishReason(s.finish_reason, i18n)),
  ];
  if (isNumber(s.thinking_s) || isNumber(s.first_answer_s)) {
    const approx = s.thinking_tokens_estimated ? "~" : "";
    const tokens = isNumber(s.thinking_tokens) ? ` · ${approx}${i18n.count("stats.tokens", s.thinking_tokens)}` : "";
    rows.push(...row(t("prov.timeThinking"), `${isNumber(s.thinking_s) ? i18n.seconds(s.thinking_s) : NONE}${tokens}`));
    rows.push(...row(t("prov.firstAnswer"), isNumber(s.first_answer_s) ? i18n.seconds(s.first_answer_s) : NONE));
  }
  if (s.tokens_estimated) rows.push(...row(t("prov.tokenCounts"), t("prov.estimated")));
  if (isNumber(s.left_out) && s.left_out > 0) {
    rows.push(...row(t("prov.leftOut"), i18n.count("prov.leftOutValue", s.left_out)));
  }
  return rows;
}

/** A message's content as sent: its text, or each content part (an image as its thumbnail and name). */
function requestContent(i18n: I18n, content: unknown): HTMLElement[] {
  if (!Array.isArray(content)) return [h("pre", { class: "nbchat-request-text", text: String(content ?? "") })];
  return content.map((part: RequestPart) => {
    if (part?.type === "image") {
      const src = safeThumbnail(part.thumbnail);
      const label = String(part.name ?? i18n.t("prov.imageUnnamed"));
      return h("figure", { class: "nbchat-request-image" }, [
        ...(src ? [h("img", { class: "nbchat-thumb", src, alt: label })] : []),
        h("figcaption", { text: i18n.t("prov.image", { name: label }) }),
      ]);
    }
    return h("pre", { class: "nbchat-request-text", text: String((part as { text?: unknown })?.text ?? "") });
  });
}

/** The request as sent: the rendered prompt when there is one, else each message. */
function requestView(i18n: I18n, data: Provenance): HTMLElement {
  const body = h("div", { class: "nbchat-request-body" });
  if (typeof data.prompt === "string") {
    body.append(
      h("div", { class: "nbchat-request-role", text: i18n.t("prov.prompt") }),
      h("pre", { class: "nbchat-request-text", text: data.prompt }),
    );
  } else {
    for (const m of Array.isArray(data.messages) ? data.messages : []) {
      body.append(
        h("div", { class: "nbchat-request-msg" }, [
          h("div", { class: "nbchat-request-role", text: String(m?.role ?? "") }),
          ...requestContent(i18n, m?.content),
        ]),
      );
    }
    if (body.childElementCount === 0) body.append(h("div", { class: "nbchat-request-empty", text: i18n.t("prov.noMessages") }));
  }
  return h("details", { class: "nbchat-request" }, [h("summary", { text: i18n.t("prov.request") }), body]);
}

/** The provenance as a definition list and a collapsible request. */
export function renderProvenance(data: Provenance | null | undefined, i18n: I18n = EN): HTMLElement[] {
  if (!data || typeof data !== "object") {
    return [h("p", { class: "nbchat-card-note", text: i18n.t("prov.unavailable") })];
  }
  const settings = data.settings ?? {};
  const t = (key: Key) => i18n.t(key);
  const list = h("dl", { class: "nbchat-provenance-list" }, [
    ...row(t("prov.backend"), data.backend || NONE),
    ...row(t("prov.model"), data.model || NONE),
    ...row(t("prov.maxNewTokens"), num(i18n, settings.max_new_tokens)),
    ...row(t("prov.temperature"), temperature(i18n, settings.temperature)),
    ...row(t("prov.topP"), num(i18n, settings.top_p)),
    ...row(t("prov.stop"), stopList(i18n, settings.stop)),
    ...row(t("options.thinking"), thinkingSetting(i18n, settings.thinking, data.thinking_switch)),
    ...row(t("prov.system"), data.system_prompt ? data.system_prompt : t("prov.none")),
    ...statsRows(i18n, data.stats),
  ]);
  return [list, requestView(i18n, data)];
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
    private readonly i18n: I18n = EN,
  ) {
    this.details = h("section", { class: "nbchat-card-details", "aria-label": i18n.t("prov.details"), hidden: true });
    this.code = h("section", { class: "nbchat-card-code", "aria-label": i18n.t("prov.code"), hidden: true });
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
    this.details.replaceChildren(...renderProvenance(data, this.i18n));
  }

  /** Show the code (visible even where the clipboard is denied) and copy it. */
  showCode(code: string, button: HTMLElement | null): void {
    const hide = h("button", { type: "button", class: "nbchat-card-button", text: this.i18n.t("prov.hideCode") });
    hide.addEventListener("click", () => {
      this.code.hidden = true;
      this.updateHidden();
      button?.focus();
    });
    this.code.replaceChildren(
      h("div", { class: "nbchat-card-head" }, [h("span", { text: this.i18n.t("prov.codeTitle") }), hide]),
      h("pre", { class: "nbchat-code-snippet", text: code }),
    );
    this.code.hidden = false;
    this.updateHidden();
    if (button) void copyFrom(button, code, this.i18n);
  }

  private request(): void {
    this.requested = true;
    this.details.replaceChildren(h("p", { class: "nbchat-card-note", text: this.i18n.t("prov.loading") }));
    this.send({ kind: "provenance", id: this.id });
  }

  private updateHidden(): void {
    this.element.hidden = this.details.hidden && this.code.hidden;
  }
}
