// "Compare answers": a word-level diff of two answers to the same turn (jsdiff's diffWords), because narrow
// columns are hard to compare by eye. Text only (textContent), so nothing in a reply becomes markup.
import { diffWords } from "diff";
import { h, uniqueId } from "../dom";
import type { ColumnInfo, TurnInfo } from "./types";
import { EN, type I18n } from "../i18n";

export interface DiffSource {
  columns(): ColumnInfo[];
  turns(): TurnInfo[];
  answer(column: string, turn: number): string | null;
}

/** `<del>`/`<ins>`/plain spans for the change from `before` to `after`, and the word counts. */
export function renderDiff(before: string, after: string): { nodes: Node[]; removed: number; added: number } {
  const nodes: Node[] = [];
  let removed = 0;
  let added = 0;
  const words = (text: string) => text.split(/\s+/).filter(Boolean).length;
  for (const part of diffWords(before, after)) {
    if (part.removed) {
      removed += words(part.value);
      nodes.push(h("del", { class: "nbchat-diff-del", text: part.value }));
    } else if (part.added) {
      added += words(part.value);
      nodes.push(h("ins", { class: "nbchat-diff-ins", text: part.value }));
    } else nodes.push(document.createTextNode(part.value));
  }
  return { nodes, removed, added };
}

export class DiffView {
  readonly element: HTMLElement;
  private readonly turn: HTMLSelectElement;
  private readonly first: HTMLSelectElement;
  private readonly second: HTMLSelectElement;
  private readonly summary: HTMLElement;
  private readonly output: HTMLElement;

  constructor(
    private readonly source: DiffSource,
    private readonly i18n: I18n = EN,
  ) {
    const ids = { turn: uniqueId("diff-turn"), first: uniqueId("diff-a"), second: uniqueId("diff-b") };
    this.turn = h("select", { id: ids.turn });
    this.first = h("select", { id: ids.first });
    this.second = h("select", { id: ids.second });
    this.summary = h("p", { class: "nbchat-diff-summary", role: "status" });
    this.output = h("div", { class: "nbchat-diff", "aria-label": i18n.t("cmp.differences") });
    const field = (id: string, text: string, select: HTMLSelectElement) =>
      h("div", { class: "nbchat-diff-field" }, [h("label", { for: id, text }), select]);
    this.element = h("section", { class: "nbchat-compare-diff", "aria-label": i18n.t("cmp.diff"), hidden: true }, [
      h("div", { class: "nbchat-diff-controls" }, [
        field(ids.turn, i18n.t("cmp.turn"), this.turn),
        field(ids.first, i18n.t("cmp.first"), this.first),
        field(ids.second, i18n.t("cmp.second"), this.second),
      ]),
      this.summary,
      this.output,
    ]);
    for (const select of [this.turn, this.first, this.second]) select.addEventListener("change", () => this.refresh());
  }

  get open(): boolean {
    return !this.element.hidden;
  }

  toggle(open = !this.open): void {
    this.element.hidden = !open;
    if (open) this.refresh();
  }

  /** Re-read columns, turns and answers (cheap enough to call on every update while open). */
  refresh(): void {
    if (!this.open) return;
    const turns = this.source.turns();
    const columns = this.source.columns();
    fill(this.turn, turns.map((t) => [String(t.turn), `${t.turn}: ${t.prompt.slice(0, 40)}`]), String(turns[turns.length - 1]?.turn ?? ""));
    const turn = Number(this.turn.value);
    const answered = columns.filter((c) => this.source.answer(c.id, turn) !== null);
    const options = answered.map((c): [string, string] => [c.id, c.name]);
    fill(this.first, options, answered[0]?.id ?? "");
    fill(this.second, options, answered.find((c) => c.id !== this.first.value)?.id ?? "");
    const a = this.source.answer(this.first.value, turn);
    const b = this.source.answer(this.second.value, turn);
    if (a === null || b === null || this.first.value === this.second.value) {
      this.summary.textContent = this.i18n.t("cmp.diffHint");
      this.output.replaceChildren();
      return;
    }
    const { nodes, removed, added } = renderDiff(a, b);
    const name = (id: string) => columns.find((c) => c.id === id)?.name ?? id;
    this.summary.textContent =
      removed + added === 0
        ? this.i18n.t("cmp.same", { a: name(this.first.value), b: name(this.second.value) })
        : this.i18n.t("cmp.changes", { a: name(this.first.value), b: name(this.second.value), removed, added });
    this.output.replaceChildren(...nodes);
  }
}

/** Replace `select`'s options, keeping its value if still offered, else `fallback`. */
function fill(select: HTMLSelectElement, options: [string, string][], fallback: string): void {
  const keep = select.value;
  const same =
    select.options.length === options.length && options.every(([v, t], i) => select.options[i].value === v && select.options[i].text === t);
  if (!same) select.replaceChildren(...options.map(([value, text]) => h("option", { value, text })));
  select.value = options.some(([v]) => v === keep) ? keep : fallback;
}
