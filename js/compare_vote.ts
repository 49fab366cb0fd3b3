// Blind mode (an arena): after a turn, "A is better" / "B is better" / … / "Tie", and "Reveal". Python replaces
// the model names by letters in everything it syncs until the vote (or Reveal), so there is nothing to hide here.
import { h } from "./dom";
import type { ColumnInfo, Send, TurnInfo } from "./compare_types";

export class VoteBar {
  readonly element: HTMLElement;
  private readonly question: HTMLElement;
  private readonly choices: HTMLElement;
  private readonly revealButton: HTMLButtonElement;
  private key = "";

  constructor(private readonly send: Send) {
    this.question = h("span", { class: "nbchat-vote-question" });
    this.choices = h("div", { class: "nbchat-vote-choices", role: "group", "aria-label": "Vote" });
    this.revealButton = h("button", { type: "button", class: "nbchat-button", text: "Reveal" });
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
    const name = (id: string) => columns.find((c) => c.id === id)?.name ?? "a removed column";
    if (!last) {
      this.question.textContent = "Blind mode: model names are hidden. Send a prompt, then vote for the better answer.";
    } else if (!last.done) {
      this.question.textContent = "Vote when every column has answered.";
    } else if (last.vote === null) {
      this.question.textContent = "Which answer is better?";
      const present = last.columns.filter((id) => columns.some((c) => c.id === id));
      for (const id of present) this.choices.append(this.choice(`${name(id)} is better`, last.turn, id));
      this.choices.append(this.choice("Tie", last.turn, "tie"));
    } else {
      this.question.textContent = last.vote === "tie" ? "You voted: tie." : `You voted: ${name(last.vote)} is better.`;
    }
  }

  private choice(text: string, turn: number, winner: string): HTMLButtonElement {
    const button = h("button", { type: "button", class: "nbchat-button", text });
    button.addEventListener("click", () => this.send({ kind: "vote", turn, winner }));
    return button;
  }
}
