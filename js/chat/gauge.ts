// The context gauge: how much of the model's context window the next request
// fills, with the room kept for the reply, as a thin bar and a line of text.
import { h } from "../dom";
import { EN, type I18n } from "../i18n";
import type { ContextInfo } from "../types";

function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value) && value >= 0;
}

function percent(part: number, whole: number): string {
  return `${(Math.min(1, Math.max(0, part / whole)) * 100).toFixed(2)}%`;
}

/** The gauge's text, e.g. `1,234 / 8,192 tokens (256 reserved for the reply) · 2 messages not sent`. */
export function formatContext(info: ContextInfo | null | undefined, i18n: I18n = EN): string {
  if (!info) return "";
  const used = isCount(info.used) ? info.used : null;
  const window = isCount(info.window) && info.window > 0 ? info.window : null;
  const reserved = isCount(info.reserved) ? info.reserved : 0;
  const leftOut = isCount(info.left_out) ? Math.round(info.left_out) : 0;
  const count = (n: number) => i18n.number(Math.round(n));
  let text: string;
  if (window !== null) {
    const params = { used: used === null ? "" : count(used), window: count(window), reserved: count(reserved) };
    if (used !== null) text = i18n.t(reserved > 0 ? "context.usedReserved" : "context.used", params);
    else text = i18n.t(reserved > 0 ? "context.windowReserved" : "context.window", params);
  } else if (used !== null) {
    text = i18n.t("context.tokens", { n: count(used) });
  } else {
    return "";
  }
  if (leftOut > 0) text += ` · ${i18n.count("context.notSent", leftOut)}`;
  return text;
}

export class ContextGauge {
  readonly element: HTMLElement;
  /** The bar; the element with role="meter", hidden while the window is unknown. */
  readonly meter: HTMLElement;
  private readonly used: HTMLElement;
  private readonly reserved: HTMLElement;
  private readonly text: HTMLElement;

  constructor(private readonly i18n: I18n = EN) {
    this.used = h("div", { class: "nbchat-gauge-used" });
    this.reserved = h("div", { class: "nbchat-gauge-reserved" });
    this.meter = h("div", { class: "nbchat-gauge", role: "meter", "aria-label": i18n.t("context.label"), "aria-valuemin": 0 }, [
      this.used,
      this.reserved,
    ]);
    this.text = h("span", { class: "nbchat-gauge-text" });
    this.element = h("div", { class: "nbchat-context" }, [this.meter, this.text]);
    this.update(null);
  }

  update(info: ContextInfo | null | undefined): void {
    const text = formatContext(info, this.i18n);
    this.text.textContent = text;
    this.element.hidden = text === "";
    const window = info && isCount(info.window) && info.window > 0 ? info.window : null;
    const used = info && isCount(info.used) ? info.used : null;
    this.meter.hidden = window === null || used === null;
    if (window === null || used === null || !info) {
      for (const name of ["aria-valuenow", "aria-valuemax", "aria-valuetext"]) this.meter.removeAttribute(name);
      delete this.element.dataset.level;
      return;
    }
    const reserved = isCount(info.reserved) ? info.reserved : 0;
    this.meter.setAttribute("aria-valuenow", String(used));
    this.meter.setAttribute("aria-valuemax", String(window));
    this.meter.setAttribute("aria-valuetext", text);
    this.used.style.width = percent(used, window);
    this.reserved.style.width = percent(Math.min(reserved, Math.max(0, window - used)), window);
    // Warn before the window is full: a request that does not fit leaves messages out.
    const fill = (used + reserved) / window;
    this.element.dataset.level = fill >= 1 ? "full" : fill >= 0.8 ? "high" : "ok";
  }
}
