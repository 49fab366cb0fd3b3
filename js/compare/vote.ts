// Blind mode (an arena): after a turn, "A is better" / "B is better" / … / "Tie", and "Reveal". Python replaces
// the model names by letters in everything it syncs until the vote (or Reveal), so there is nothing to hide here.
import { h } from "../dom";
import type { ColumnInfo, Send, TurnInfo } from "./types";
import { EN, type I18n } from "../i18n";

export class VoteBar {
  readonly element: HTMLElement;
  private readonly question: HTMLElement;
  private readonly choices: HTMLElement;
  private readonly revealButton: HTMLButtonElement;
  private key = "";

  constructor(
    private readonly send: Send,
    private readonly i18n: I18n = EN,
  ) {
    this.question = h("span", { class: "nbchat-vote-question" });
    this.choices = h("div", { class: "nbchat-vote-choices", role: "group", "aria-label": i18n.t("cmp.vote") });
    this.revealButton = h("button", { type: "button", class: "nbchat-button", text: i18n.t("cmp.reveal") });
    this.revealButton.addEventListener("click", () => this.send({ kind: "reveal" }));
    this.element = h("div", { class: "nbchat-compare-vote", hidden: true }, [this.question, this.choices, this.revealButton]);
  }

  update(turns: readonly TurnInfo[], columns: readonly ColumnInfo[], blind: boolean, revealed: boolean): void {
    const last: TurnInfo | undefined = turns[turns.length - 1];
    const key = JSON.stringify([last, columns.map((c) => [c.id, c.name]), blind, revealed]);
    if (key === this.key) return;
    this.key = key;
    this.element.hidden = !blind;
    this.revealButton.hidden = revealed;
    this.choices.replaceChildren();
    if (!blind) return;
    const t = this.i18n;
    const name = (id: string) => columns.find((c) => c.id === id)?.name ?? t.t("cmp.removedColumn");
    if (!last) {
      this.question.textContent = t.t("cmp.blindIntro");
    } else if (!last.done) {
      this.question.textContent = t.t("cmp.voteWait");
    } else if (last.vote === null) {
      this.question.textContent = t.t("cmp.whichBetter");
      const present = last.columns.filter((id) => columns.some((c) => c.id === id));
      for (const id of present) this.choices.append(this.choice(t.t("cmp.better", { name: name(id) }), last.turn, id));
      this.choices.append(this.choice(t.t("cmp.tie"), last.turn, "tie"));
    } else {
      this.question.textContent = last.vote === "tie" ? t.t("cmp.votedTie") : t.t("cmp.voted", { name: name(last.vote) });
    }
  }

  private choice(text: string, turn: number, winner: string): HTMLButtonElement {
    const button = h("button", { type: "button", class: "nbchat-button", text });
    button.addEventListener("click", () => this.send({ kind: "vote", turn, winner }));
    return button;
  }
}
