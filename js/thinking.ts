// The "Thinking…" block above a reply: a reasoning model's thoughts, streamed live, collapsed once the answer
// starts ("Thought for 12 s · 840 tokens"), expandable. Its text goes through the same Markdown + sanitizer
// pipeline as the answer (renderMarkdown), so it is exactly as safe.
import { WHOLE_MAX } from "./chunks";
import { h } from "./dom";
import { EN, type I18n } from "./i18n";
import type { Stats } from "./types";

export interface ThinkingState {
  /** The reasoning so far (streaming) or in full. */
  text: string;
  /** The reply is still being generated. */
  streaming: boolean;
  /** Answer text has started (the block collapses then, unless the user opened it). */
  answered: boolean;
  /** The message status: "stopped" while thinking marks the block stopped. */
  status: string;
  stats: Stats | null;
}

/** "Thinking…", "Thought for 12 s · 840 tokens", "Thinking stopped after 3 s". */
export function thinkingSummary(state: ThinkingState, i18n: I18n = EN): string {
  const stats = state.stats ?? {};
  if (state.streaming && !state.answered) return i18n.t("thinking.live");
  const parts: string[] = [];
  const seconds = typeof stats.thinking_s === "number" ? stats.thinking_s : null;
  const stoppedWhileThinking = state.status === "stopped" && !state.answered;
  if (seconds === null) parts.push(i18n.t(stoppedWhileThinking ? "thinking.stopped" : "thinking.done"));
  else {
    const s = i18n.seconds(Math.round(seconds), 0);
    parts.push(i18n.t(stoppedWhileThinking ? "thinking.stoppedAfter" : "thinking.doneFor", { s }));
  }
  if (typeof stats.thinking_tokens === "number") {
    const approx = stats.thinking_tokens_estimated || stats.tokens_estimated ? "~" : "";
    parts.push(approx + i18n.count("stats.tokens", stats.thinking_tokens));
  }
  return parts.join(" · ");
}

export class ThinkingBlock {
  readonly element: HTMLDetailsElement;
  private readonly summary: HTMLElement;
  private readonly body: HTMLElement;
  private shownText: string | null = null;
  /** The text to show once the block is open (a closed block renders nothing: a long history stays cheap). */
  private text = "";
  private streaming = false;
  /** The user opened or closed it: their choice wins over the automatic collapse. */
  private userToggled = false;

  constructor(
    private readonly render: (text: string) => string,
    private readonly i18n: I18n = EN,
  ) {
    this.summary = h("summary", { class: "nbchat-thinking-summary" });
    this.body = h("div", { class: "nbchat-thinking-body nbchat-markdown", dir: "auto" });
    this.element = h("details", { class: "nbchat-thinking" }, [this.summary, this.body]) as HTMLDetailsElement;
    // a click (or Enter/Space) on the summary is the user's choice; the automatic collapse leaves it alone
    this.summary.addEventListener("click", () => {
      this.userToggled = true;
    });
    this.element.addEventListener("toggle", () => this.renderBody());
  }

  update(state: ThinkingState): void {
    this.element.hidden = state.text === "";
    const live = state.streaming && !state.answered;
    this.element.dataset.state = live ? "thinking" : state.status === "stopped" && !state.answered ? "stopped" : "done";
    this.summary.textContent = thinkingSummary(state, this.i18n);
    // open while thinking, and when there is no answer to show instead (stopped while thinking)
    const open = live || !state.answered;
    if (!this.userToggled && this.element.open !== open) this.element.open = open;
    this.text = state.text;
    this.streaming = state.streaming;
    this.renderBody();
  }

  /** Render the thoughts if the block is open and they changed. Very long thoughts stream as plain text (each frame
   * would re-render all their Markdown) and get their Markdown once complete. */
  private renderBody(): void {
    if (!this.element.open || this.text === this.shownText) return;
    const plain = this.streaming && this.text.length > WHOLE_MAX;
    this.body.classList.toggle("nbchat-plain", plain);
    if (plain) this.body.textContent = this.text;
    else this.body.innerHTML = this.text === "" ? "" : this.render(this.text);
    this.shownText = plain ? null : this.text;
  }
}
