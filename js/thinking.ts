// The "Thinking…" block above a reply: a reasoning model's thoughts, streamed live, collapsed once the answer
// starts ("Thought for 12 s · 840 tokens"), expandable. Its text goes through the same Markdown + sanitizer
// pipeline as the answer (renderMarkdown), so it is exactly as safe.
import { WHOLE_MAX } from "./chunks";
import { h } from "./dom";
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

function plural(n: number, one: string, many: string): string {
  return `${n.toLocaleString("en-US")} ${n === 1 ? one : many}`;
}

/** "Thinking…", "Thought for 12 s · 840 tokens", "Thinking stopped after 3 s". */
export function thinkingSummary(state: ThinkingState): string {
  const stats = state.stats ?? {};
  if (state.streaming && !state.answered) return "Thinking…";
  const parts: string[] = [];
  const seconds = typeof stats.thinking_s === "number" ? stats.thinking_s : null;
  const stoppedWhileThinking = state.status === "stopped" && !state.answered;
  let head = stoppedWhileThinking ? "Thinking stopped" : "Thought";
  if (seconds !== null) head += stoppedWhileThinking ? ` after ${Math.round(seconds)} s` : ` for ${Math.round(seconds)} s`;
  parts.push(head);
  if (typeof stats.thinking_tokens === "number") {
    const approx = stats.thinking_tokens_estimated || stats.tokens_estimated ? "~" : "";
    parts.push(`${approx}${plural(stats.thinking_tokens, "token", "tokens")}`);
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

  constructor(private readonly render: (text: string) => string) {
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
    this.summary.textContent = thinkingSummary(state);
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
