// A small settings form (system message, max new tokens, temperature) for one column or for all of them.
// A field is committed when it changes (blur or Enter); a value from Python never replaces a field being edited.
import { h, uniqueId } from "../dom";
import type { ColumnSettings, SettingsLimits, SettingsValues } from "./types";
import { EN, type I18n } from "../i18n";

/** Settings shown in the form: a missing field means the columns differ ("mixed"). */
export type ShownSettings = Partial<Pick<ColumnSettings, "system_prompt" | "max_new_tokens" | "temperature">>;

/** The values every column shares; fields on which columns differ are left out. */
export function commonSettings(all: readonly ColumnSettings[]): ShownSettings {
  const out: ShownSettings = {};
  if (all.length === 0) return out;
  for (const key of ["system_prompt", "max_new_tokens", "temperature"] as const) {
    const first = all[0][key];
    if (all.every((s) => s[key] === first)) (out as Record<string, unknown>)[key] = first;
  }
  return out;
}

/** `temperature 0.7 · max 256 tokens · system: "…"`: the settings line of a column header. */
export function describeSettings(s: ColumnSettings, i18n: I18n = EN): string {
  const parts = [i18n.t("cmp.desc.temperature", { t: Number(s.temperature).toFixed(2).replace(/\.?0+$/, "") || "0" })];
  parts.push(i18n.t("cmp.desc.max", { n: s.max_new_tokens }));
  if (typeof s.top_p === "number" && s.top_p !== 1) parts.push(i18n.t("cmp.desc.topP", { p: s.top_p }));
  if (s.use_history === false) parts.push(i18n.t("cmp.desc.noHistory"));
  const system = (s.system_prompt ?? "").trim().replace(/\s+/g, " ");
  if (system) parts.push(i18n.t("cmp.desc.system", { text: system.length > 40 ? `${system.slice(0, 40)}…` : system }));
  return parts.join(" · ");
}

export class SettingsForm {
  readonly element: HTMLDetailsElement;
  readonly systemPrompt: HTMLTextAreaElement;
  readonly maxTokens: HTMLInputElement;
  readonly temperature: HTMLInputElement;
  private readonly cleanups: (() => void)[] = [];

  /**
   * @param limits An administrator's caps (the `limits` trait): the fields' maxima, and values typed above them are
   *   lowered to them before they are sent (Python lowers them too).
   */
  constructor(
    summary: string,
    private readonly onChange: (values: SettingsValues) => void,
    limits: SettingsLimits = {},
    private readonly i18n: I18n = EN,
  ) {
    const ids = { system: uniqueId("cmp-system"), tokens: uniqueId("cmp-tokens"), temp: uniqueId("cmp-temp") };
    this.systemPrompt = h("textarea", { id: ids.system, class: "nbchat-system", rows: 2 });
    this.maxTokens = h("input", { id: ids.tokens, type: "number", min: 1, step: 1, inputmode: "numeric" });
    const temperatureMax = limits.temperature ?? 2;
    this.temperature = h("input", { id: ids.temp, type: "number", min: 0, max: temperatureMax, step: 0.05, inputmode: "decimal" });
    if (limits.max_new_tokens) {
      this.maxTokens.max = String(limits.max_new_tokens);
      this.maxTokens.title = i18n.t("cmp.atMost", { n: limits.max_new_tokens });
    }
    if (limits.temperature !== undefined && limits.temperature !== null && limits.temperature < 2) {
      this.temperature.title = i18n.t("cmp.atMost", { n: limits.temperature });
    }
    const label = (id: string, text: string) => h("label", { for: id, text });
    this.element = h("details", { class: "nbchat-options nbchat-compare-settings-form" }, [
      h("summary", { text: summary }),
      h("div", { class: "nbchat-options-grid" }, [
        label(ids.system, i18n.t("options.system")),
        this.systemPrompt,
        label(ids.tokens, i18n.t("options.maxNewTokens")),
        this.maxTokens,
        label(ids.temp, i18n.t("options.temperature")),
        this.temperature,
      ]),
    ]);
    this.on(this.systemPrompt, "change", () => this.onChange({ system_prompt: this.systemPrompt.value }));
    this.on(this.maxTokens, "change", () => this.commitNumber(this.maxTokens, "max_new_tokens"));
    this.on(this.temperature, "change", () => this.commitNumber(this.temperature, "temperature"));
  }

  /** Show `values`; a field left out reads "mixed". Fields being edited are left alone. */
  show(values: ShownSettings): void {
    const active = this.element.ownerDocument.activeElement;
    const put = (field: HTMLInputElement | HTMLTextAreaElement, value: unknown) => {
      if (field === active) return;
      field.value = value === undefined || value === null ? "" : String(value);
      field.placeholder = value === undefined ? this.i18n.t("cmp.mixed") : "";
    };
    put(this.systemPrompt, values.system_prompt);
    put(this.maxTokens, values.max_new_tokens);
    put(this.temperature, values.temperature);
  }

  dispose(): void {
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  private commitNumber(field: HTMLInputElement, name: "max_new_tokens" | "temperature"): void {
    if (field.value.trim() === "") return;
    let value = Number(field.value);
    if (!Number.isFinite(value)) return;
    if (field.max !== "" && value > Number(field.max)) {
      value = Number(field.max);
      field.value = field.max;
    }
    this.onChange({ [name]: name === "max_new_tokens" ? Math.round(value) : Math.round(value * 100) / 100 });
  }

  private on(target: HTMLElement, event: string, handler: () => void): void {
    target.addEventListener(event, handler);
    this.cleanups.push(() => target.removeEventListener(event, handler));
  }
}
