// Human-readable text for the stats line under an assistant reply.
import type { Stats } from "./types";

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

function plural(n: number, one: string, many: string): string {
  return `${n} ${n === 1 ? one : many}`;
}

/** The visible stats line, e.g. `42 tokens · TTFT 0.31 s · 28.4 tok/s`. */
export function formatStats(stats: Stats | null | undefined): string {
  if (!stats) return "";
  const parts: string[] = [];
  if (isNumber(stats.tokens)) parts.push((stats.tokens_estimated ? "~" : "") + plural(stats.tokens, "token", "tokens"));
  if (isNumber(stats.ttft_s)) parts.push(`TTFT ${stats.ttft_s.toFixed(2)} s`);
  // a reasoning reply: the first token was a thought; say when the answer began
  if (isNumber(stats.first_answer_s) && isNumber(stats.thinking_s)) parts.push(`answer at ${stats.first_answer_s.toFixed(2)} s`);
  if (isNumber(stats.tokens_per_s)) parts.push(`${stats.tokens_per_s.toFixed(1)} tok/s`);
  if (stats.finish_reason === "length") parts.push("stopped at max new tokens");
  if (isNumber(stats.left_out) && stats.left_out > 0) {
    const n = stats.left_out;
    parts.push(`${plural(n, "earlier message", "earlier messages")} left out to fit the context window`);
  }
  return parts.join(" · ");
}

/** Details for the stats line's tooltip: model, backend, prompt size, duration. */
export function formatStatsTitle(stats: Stats | null | undefined): string {
  if (!stats) return "";
  const parts: string[] = [];
  if (stats.model) parts.push(stats.model);
  if (stats.backend) parts.push(stats.backend);
  if (isNumber(stats.prompt_tokens)) parts.push(`${plural(stats.prompt_tokens, "prompt token", "prompt tokens")}`);
  if (isNumber(stats.duration_s)) parts.push(`${stats.duration_s.toFixed(2)} s in total`);
  if (isNumber(stats.thinking_s)) parts.push(`thinking ${stats.thinking_s.toFixed(2)} s`);
  if (isNumber(stats.thinking_tokens)) {
    const approx = stats.thinking_tokens_estimated || stats.tokens_estimated ? "~" : "";
    parts.push(`${approx}${plural(stats.thinking_tokens, "thinking token", "thinking tokens")}`);
  }
  if (stats.tokens_estimated) parts.push("token counts estimated: the server reported no usage");
  if (stats.finish_reason) parts.push(`finish reason: ${stats.finish_reason}`);
  return parts.join(" · ");
}
