// Human-readable text for the stats line under an assistant reply.
import { EN, type I18n } from "./i18n";
import type { Stats } from "./types";

function isNumber(value: unknown): value is number {
  return typeof value === "number" && Number.isFinite(value);
}

/** The visible stats line, e.g. `42 tokens · TTFT 0.31 s · 28.4 tok/s`. */
export function formatStats(stats: Stats | null | undefined, i18n: I18n = EN): string {
  if (!stats) return "";
  const parts: string[] = [];
  if (isNumber(stats.tokens)) parts.push((stats.tokens_estimated ? "~" : "") + i18n.count("stats.tokens", stats.tokens));
  if (isNumber(stats.ttft_s)) parts.push(i18n.t("stats.ttft", { s: i18n.seconds(stats.ttft_s) }));
  // a reasoning reply: the first token was a thought; say when the answer began
  if (isNumber(stats.first_answer_s) && isNumber(stats.thinking_s)) {
    parts.push(i18n.t("stats.answerAt", { s: i18n.seconds(stats.first_answer_s) }));
  }
  if (isNumber(stats.tokens_per_s)) parts.push(i18n.t("stats.rate", { rate: i18n.number(stats.tokens_per_s, 1) }));
  if (stats.finish_reason === "length") parts.push(i18n.t("stats.length"));
  if (isNumber(stats.left_out) && stats.left_out > 0) parts.push(i18n.count("stats.leftOut", stats.left_out));
  return parts.join(" · ");
}

/** Details for the stats line's tooltip: model, backend, prompt size, duration. */
export function formatStatsTitle(stats: Stats | null | undefined, i18n: I18n = EN): string {
  if (!stats) return "";
  const parts: string[] = [];
  if (stats.model) parts.push(stats.model);
  if (stats.backend) parts.push(stats.backend);
  if (isNumber(stats.prompt_tokens)) parts.push(i18n.count("stats.promptTokens", stats.prompt_tokens));
  if (isNumber(stats.duration_s)) parts.push(i18n.t("stats.total", { s: i18n.seconds(stats.duration_s) }));
  if (isNumber(stats.thinking_s)) parts.push(i18n.t("stats.thinking", { s: i18n.seconds(stats.thinking_s) }));
  if (isNumber(stats.thinking_tokens)) {
    const approx = stats.thinking_tokens_estimated || stats.tokens_estimated ? "~" : "";
    parts.push(approx + i18n.count("stats.thinkingTokens", stats.thinking_tokens));
  }
  if (stats.tokens_estimated) parts.push(i18n.t("stats.estimated"));
  if (stats.finish_reason) parts.push(i18n.t("stats.finish", { reason: stats.finish_reason }));
  return parts.join(" · ");
}
