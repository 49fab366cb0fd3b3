// "Advanced options": generation settings, written back to the synced traits.
// Updates from Python never clobber a field the user is editing.
import { commit, h, listen, uniqueId } from "../dom";
import { EN, type I18n } from "../i18n";
import type { ChatModel } from "../types";

/** Typing in the system message is committed after this pause (ms). */
const TYPING_DEBOUNCE_MS = 500;

function formatTemperature(value: number, i18n: I18n): string {
  const shown = i18n.number(value, 2);
  return value === 0 ? i18n.t("options.greedy", { value: shown }) : shown;
}

function numberOr(value: unknown, fallback: number): number {
  return typeof value === "number" && Number.isFinite(value) ? value : fallback;
}

export class Options {
  readonly element: HTMLDetailsElement;
  readonly systemPrompt: HTMLTextAreaElement;
  readonly maxTokens: HTMLInputElement;
  readonly temperature: HTMLInputElement;
  readonly useHistory: HTMLInputElement;
  /** Thinking of reasoning models: model default, on, off (the `thinking` trait). */
  readonly thinking: HTMLSelectElement;
  private readonly maxTokensValue: HTMLOutputElement;
  private readonly temperatureValue: HTMLOutputElement;
  private typingTimer: ReturnType<typeof setTimeout> | null = null;
  /** Range inputs being dragged: a value from Python waits until `change`. */
  private readonly dragging = new Set<HTMLInputElement>();
  private readonly cleanups: (() => void)[] = [];

  constructor(
    private readonly model: ChatModel,
    private readonly i18n: I18n = EN,
  ) {
    const ids = { system: uniqueId("system"), tokens: uniqueId("tokens"), temp: uniqueId("temp"), hist: uniqueId("hist"), think: uniqueId("think") };
    this.systemPrompt = h("textarea", { id: ids.system, class: "nbchat-system", rows: 3 });
    this.maxTokens = h("input", { id: ids.tokens, type: "range", min: 1, step: 1 });
    this.temperature = h("input", { id: ids.temp, type: "range", min: 0, step: 0.05 });
    this.useHistory = h("input", { id: ids.hist, type: "checkbox" });
    this.thinking = h("select", { id: ids.think, class: "nbchat-thinking-select" }, [
      h("option", { value: "default", text: i18n.t("options.thinkingDefault") }),
      h("option", { value: "on", text: i18n.t("options.on") }),
      h("option", { value: "off", text: i18n.t("options.off") }),
    ]) as HTMLSelectElement;
    this.maxTokensValue = h("output", { for: ids.tokens, class: "nbchat-value" });
    this.temperatureValue = h("output", { for: ids.temp, class: "nbchat-value" });

    const label = (id: string, text: string) => h("label", { for: id, text });
    this.element = h("details", { class: "nbchat-options" }, [
      h("summary", { text: i18n.t("options.summary") }),
      h("div", { class: "nbchat-options-grid" }, [
        label(ids.system, i18n.t("options.system")),
        this.systemPrompt,
        label(ids.tokens, i18n.t("options.maxNewTokens")),
        h("div", { class: "nbchat-range" }, [this.maxTokens, this.maxTokensValue]),
        label(ids.temp, i18n.t("options.temperature")),
        h("div", { class: "nbchat-range" }, [this.temperature, this.temperatureValue]),
        label(ids.think, i18n.t("options.thinking")),
        this.thinking,
        h("div", { class: "nbchat-check" }, [this.useHistory, label(ids.hist, i18n.t("options.history"))]),
      ]),
    ]);

    this.on(this.systemPrompt, "input", this.onSystemInput);
    this.on(this.systemPrompt, "change", this.commitSystem);
    this.on(this.systemPrompt, "blur", this.commitSystem);
    this.on(this.maxTokens, "input", () => this.onDrag(this.maxTokens));
    this.on(this.maxTokens, "change", () => this.onRangeChange(this.maxTokens));
    this.on(this.temperature, "input", () => this.onDrag(this.temperature));
    this.on(this.temperature, "change", () => this.onRangeChange(this.temperature));
    this.on(this.useHistory, "change", () => commit(model, "use_history", this.useHistory.checked));
    this.on(this.thinking, "change", () => commit(model, "thinking", this.thinking.value as "default" | "on" | "off"));
    for (const name of ["system_prompt", "max_new_tokens", "max_new_tokens_limit", "temperature", "temperature_limit", "use_history", "thinking"]) {
      this.cleanups.push(listen(model, `change:${name}`, () => this.sync()));
    }
    this.sync();
  }

  /** Lock every control (the kernel is gone: changes would go nowhere). */
  setDisabled(disabled: boolean): void {
    for (const control of [this.systemPrompt, this.maxTokens, this.temperature, this.useHistory, this.thinking]) control.disabled = disabled;
  }

  dispose(): void {
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    for (const cleanup of this.cleanups.splice(0)) cleanup();
  }

  /** Bring every control up to date with the traits, skipping fields in use. */
  private sync(): void {
    const m = this.model;
    const active = this.element.ownerDocument.activeElement;
    if (active !== this.systemPrompt && this.typingTimer === null) this.systemPrompt.value = m.get("system_prompt") ?? "";

    const tokenLimit = Math.max(1, Math.round(numberOr(m.get("max_new_tokens_limit"), 4096)));
    this.maxTokens.max = String(tokenLimit);
    if (!this.dragging.has(this.maxTokens)) this.maxTokens.value = String(numberOr(m.get("max_new_tokens"), 256));

    this.temperature.max = String(numberOr(m.get("temperature_limit"), 2));
    if (!this.dragging.has(this.temperature)) this.temperature.value = String(numberOr(m.get("temperature"), 0));

    this.useHistory.checked = Boolean(m.get("use_history"));
    const thinking = m.get("thinking");
    this.thinking.value = thinking === "on" || thinking === "off" ? thinking : "default";
    this.showValues();
  }

  private showValues(): void {
    this.maxTokensValue.textContent = this.i18n.number(Number(this.maxTokens.value));
    this.temperatureValue.textContent = formatTemperature(Number(this.temperature.value), this.i18n);
  }

  private on(target: HTMLElement, event: string, handler: () => void): void {
    target.addEventListener(event, handler);
    this.cleanups.push(() => target.removeEventListener(event, handler));
  }

  private readonly onSystemInput = (): void => {
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    this.typingTimer = setTimeout(this.commitSystem, TYPING_DEBOUNCE_MS);
  };

  private readonly commitSystem = (): void => {
    if (this.typingTimer !== null) clearTimeout(this.typingTimer);
    this.typingTimer = null;
    commit(this.model, "system_prompt", this.systemPrompt.value);
  };

  private onDrag(input: HTMLInputElement): void {
    this.dragging.add(input);
    this.showValues();
  }

  private onRangeChange(input: HTMLInputElement): void {
    this.dragging.delete(input);
    if (input === this.maxTokens) {
      commit(this.model, "max_new_tokens", Math.round(Number(input.value)));
    } else {
      commit(this.model, "temperature", Math.round(Number(input.value) * 100) / 100);
    }
    this.showValues();
  }
}
