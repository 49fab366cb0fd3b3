// The bar under each message: the version switcher ("‹ 2/3 ›"), the pinned and
// "not sent" markers, and the action buttons (Copy, Edit, Regenerate, Details,
// Copy as code, Pin, Exclude, Delete). Every action is a message to Python; the
// bar only changes when the synced messages say so.
import { copyFrom, setLabel } from "../clipboard";
import { h, uniqueId } from "../dom";
import { MessageEditor } from "./editor";
import { EN, type I18n, type Key } from "../i18n";
import { ProvenanceCard } from "./provenance";
import { messageFlags, type ChatMessage, type ClientMessage, type Provenance } from "../types";

export interface ActionContext {
  /** A reply is being generated: no edit, regenerate, delete or version switch. */
  generating: boolean;
  /** This is the last assistant message of the visible list (the one Regenerate applies to). */
  lastAssistant: boolean;
  /** The kernel is gone: nothing can be sent (feedback included). Default false. */
  offline?: boolean;
}

/** What the bar needs from the message list. */
export interface ActionHost {
  send(message: ClientMessage): void;
  /** The message's text as shown now (the live text while it streams). */
  textOf(id: string): string;
  /** The view's language; English when absent. */
  i18n?: I18n;
}

type Action =
  | "copy" | "edit" | "regenerate" | "details" | "code" | "pin" | "exclude" | "delete" | "prev" | "next"
  | "rate-up" | "rate-down" | "comment";

type Rating = "up" | "down";

/** A thumbs-up outline (drawn, not an emoji: not every system has an emoji font); turned over for thumbs down. */
function thumbIcon(): SVGSVGElement {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", "14");
  svg.setAttribute("height", "14");
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("class", "nbchat-thumb");
  const path = document.createElementNS(ns, "path");
  // Material Design "thumb_up" (Apache-2.0).
  path.setAttribute(
    "d",
    "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z",
  );
  path.setAttribute("fill", "currentColor");
  svg.append(path);
  return svg;
}

/** The feedback fields of a message (`ChatMessage.feedback` on the Python side), or null. */
function feedbackOf(msg: ChatMessage): { rating: Rating | null; comment: string } | null {
  const fb = msg.feedback;
  if (!fb || typeof fb !== "object") return null;
  const rating = fb.rating === "up" || fb.rating === "down" ? fb.rating : null;
  return { rating, comment: typeof fb.comment === "string" ? fb.comment : "" };
}

function button(action: Action, text: string, extra: Record<string, string> = {}): HTMLButtonElement {
  return h("button", { type: "button", class: `nbchat-action nbchat-action-${action}`, "data-action": action, text, ...extra });
}

/**
 * Keep the optional elements that are wanted, in the listed order, right before
 * `anchor`; remove the others. Elements already in place are not moved (moving
 * a node would take the keyboard focus away from a button inside it).
 */
function arrange(optional: [HTMLElement, boolean][], anchor: HTMLElement): void {
  let before: Node = anchor;
  for (const [child, wanted] of [...optional].reverse()) {
    if (!wanted) {
      child.remove();
      continue;
    }
    if (child.nextSibling !== before || child.parentNode !== anchor.parentNode) anchor.parentNode?.insertBefore(child, before);
    before = child;
  }
}

export class MessageActions {
  readonly bar: HTMLElement;
  private readonly id: string;
  private readonly role: ChatMessage["role"];
  private readonly switcher: HTMLElement;
  private readonly prev: HTMLButtonElement;
  private readonly next: HTMLButtonElement;
  private readonly counter: HTMLElement;
  private readonly pinMark: HTMLElement;
  private readonly notSent: HTMLElement;
  private readonly toolbar: HTMLElement;
  private readonly buttons = new Map<Action, HTMLButtonElement>();
  private card: ProvenanceCard | null = null;
  private editor: MessageEditor | null = null;
  private msg: ChatMessage;
  private context: ActionContext = { generating: false, lastAssistant: false };
  private readonly i18n: I18n;
  /** Thumbs up/down and the comment form (assistant messages only). */
  private readonly rating: HTMLElement | null = null;
  private commentForm: HTMLFormElement | null = null;
  /** The comment sent and not yet confirmed by the kernel (null: none). */
  private awaitedComment: string | null = null;

  constructor(
    private readonly node: HTMLElement,
    private readonly bubble: HTMLElement,
    private readonly content: HTMLElement,
    msg: ChatMessage,
    private readonly host: ActionHost,
  ) {
    this.id = msg.id;
    this.role = msg.role;
    this.msg = msg;
    const i18n = (this.i18n = host.i18n ?? EN);
    const t = (key: Key) => i18n.t(key);
    this.prev = button("prev", "‹", { "aria-label": t("action.prev") });
    this.next = button("next", "›", { "aria-label": t("action.next") });
    this.counter = h("span", { class: "nbchat-branch-count" });
    this.switcher = h("span", { class: "nbchat-branch", role: "group", "aria-label": t("action.versions") }, [this.prev, this.counter, this.next]);
    this.pinMark = h("span", { class: "nbchat-pinned", title: t("mark.pinnedTitle"), text: t("mark.pinned") });
    this.notSent = h("span", { class: "nbchat-not-sent", text: t("mark.notSent") });

    const names: [Action, Key][] =
      msg.role === "user"
        ? [["edit", "action.edit"], ["copy", "action.copy"], ["pin", "action.pin"], ["exclude", "action.exclude"], ["delete", "action.delete"]]
        : [["regenerate", "action.regenerate"], ["copy", "action.copy"], ["code", "action.code"], ["details", "action.details"],
           ["pin", "action.pin"], ["exclude", "action.exclude"], ["delete", "action.delete"]];
    for (const [action, key] of names) this.buttons.set(action, button(action, t(key), { "data-testid": `nbchat-action-${action}` }));
    this.buttons.get("details")?.setAttribute("aria-expanded", "false");
    this.toolbar = h("span", { class: "nbchat-actions", role: "group", "aria-label": t("action.group") }, [...this.buttons.values()]);
    this.bar = h("div", { class: "nbchat-msg-bar" }, [this.toolbar]);
    if (msg.role === "assistant") {
      // Thumbs up/down: toggle buttons (aria-pressed), so a screen reader says which one is chosen.
      const thumb = (action: Action, key: Key) => {
        const b = button(action, "", { "aria-label": t(key), title: t(key), "aria-pressed": "false", "data-testid": `nbchat-${action}` });
        b.append(thumbIcon());
        return b;
      };
      this.buttons.set("rate-up", thumb("rate-up", "feedback.up"));
      this.buttons.set("rate-down", thumb("rate-down", "feedback.down"));
      this.rating = h("span", { class: "nbchat-rating", role: "group", "aria-label": t("feedback.group") }, [
        this.buttons.get("rate-up")!,
        this.buttons.get("rate-down")!,
      ]);
      this.bar.prepend(this.rating); // first: always visible, under the answer (the actions show on hover)
    }
    this.bar.addEventListener("click", this.onClick);
  }

  /** Bring the bar up to date with the message and the list around it. */
  update(msg: ChatMessage, context: ActionContext): void {
    this.msg = msg;
    this.context = context;
    const flags = messageFlags(msg);
    const { generating } = context;

    arrange([[this.switcher, flags.branchCount > 1], [this.pinMark, flags.pinned], [this.notSent, !flags.inContext]], this.toolbar);
    this.counter.textContent = `${flags.branchIndex}/${flags.branchCount}`;
    this.prev.disabled = generating || flags.branchIndex <= 1;
    this.next.disabled = generating || flags.branchIndex >= flags.branchCount;

    this.notSent.title = this.i18n.t(flags.excluded ? "mark.excluded" : "mark.dropped");
    this.node.dataset.inContext = String(flags.inContext);
    this.node.classList.toggle("nbchat-pinned-msg", flags.pinned);

    const get = (action: Action) => this.buttons.get(action);
    setLabel(get("pin")!, this.i18n.t(flags.pinned ? "action.unpin" : "action.pin"));
    setLabel(get("exclude")!, this.i18n.t(flags.excluded ? "action.include" : "action.exclude"));
    this.updateFeedback(msg, context);
    get("delete")!.disabled = generating;
    const edit = get("edit");
    if (edit) edit.disabled = generating;
    this.editor?.setDisabled(generating);
    const regenerate = get("regenerate");
    if (regenerate) {
      if (!context.lastAssistant) regenerate.remove();
      else if (regenerate.parentNode !== this.toolbar) this.toolbar.prepend(regenerate);
      regenerate.disabled = generating;
    }
  }

  showProvenance(data: Provenance | null): void {
    this.ensureCard().showProvenance(data);
  }

  showCode(code: string): void {
    this.ensureCard().showCode(code, this.buttons.get("code") ?? null);
  }

  /** The reply's text or stats changed in a way that makes loaded details stale. */
  invalidate(): void {
    this.card?.invalidate();
  }

  dispose(): void {
    this.bar.removeEventListener("click", this.onClick);
    this.closeComment();
    this.editor?.dispose();
    this.editor = null;
  }

  private ensureCard(): ProvenanceCard {
    if (!this.card) {
      this.card = new ProvenanceCard(this.id, (message) => this.host.send(message), this.i18n);
      this.card.element.id = uniqueId("card");
      this.buttons.get("details")?.setAttribute("aria-controls", this.card.element.id);
      this.node.append(this.card.element);
    }
    return this.card;
  }

  private readonly onClick = (event: MouseEvent): void => {
    const target = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-action]");
    if (!target || target.disabled || !this.bar.contains(target)) return;
    const send = (message: ClientMessage) => this.host.send(message);
    const flags = messageFlags(this.msg);
    switch (target.dataset.action as Action) {
      case "copy":
        void copyFrom(target, this.host.textOf(this.id), this.i18n);
        break;
      case "edit":
        this.startEdit();
        break;
      case "regenerate":
        send({ kind: "regenerate", id: this.id });
        break;
      case "details": {
        const open = this.ensureCard().toggleDetails();
        target.setAttribute("aria-expanded", String(open));
        break;
      }
      case "code":
        send({ kind: "code", id: this.id });
        break;
      case "pin":
        send({ kind: "pin", id: this.id, value: !flags.pinned });
        break;
      case "exclude":
        send({ kind: "exclude", id: this.id, value: !flags.excluded });
        break;
      case "delete":
        send({ kind: "delete", id: this.id });
        break;
      case "rate-up":
      case "rate-down": {
        const rating: Rating = target.dataset.action === "rate-up" ? "up" : "down";
        const current = feedbackOf(this.msg);
        // Pressing the chosen thumb again takes the rating back; the comment form opens with a rating.
        const next = current?.rating === rating ? null : rating;
        send({ kind: "feedback", id: this.id, rating: next, comment: current?.comment ?? "" });
        if (next) this.openComment(next, current?.comment ?? "");
        else this.closeComment();
        break;
      }
      case "prev":
      case "next":
        send({ kind: "branch", id: this.id, step: target.dataset.action === "prev" ? -1 : 1 });
        break;
    }
  };

  /** Show the rating saved in the message; thumbs are disabled while the reply streams or the kernel is gone. */
  private updateFeedback(msg: ChatMessage, context: ActionContext): void {
    if (!this.rating) return;
    const rating = feedbackOf(msg)?.rating ?? null;
    const off = msg.status === "streaming" || context.offline === true;
    for (const [action, value] of [["rate-up", "up"], ["rate-down", "down"]] as const) {
      const b = this.buttons.get(action)!;
      b.setAttribute("aria-pressed", String(rating === value));
      b.disabled = off;
    }
    this.node.dataset.feedback = rating ?? "";
    const form = this.commentForm;
    if (form && this.awaitedComment !== null && feedbackOf(msg)?.comment === this.awaitedComment) {
      this.awaitedComment = null;
      form.replaceChildren(h("span", { class: "nbchat-feedback-saved", role: "status", text: this.i18n.t("feedback.saved") }));
      setTimeout(() => {
        if (this.commentForm === form) this.closeComment();
      }, 3000);
    }
  }

  /** The optional comment on a rating: a small form under the message, saved with the rating. */
  private openComment(rating: Rating, comment: string): void {
    this.closeComment();
    const id = uniqueId("feedback");
    const box = h("textarea", {
      id,
      class: "nbchat-feedback-comment",
      rows: 2,
      placeholder: this.i18n.t("feedback.commentPlaceholder"),
      "data-testid": "nbchat-feedback-comment",
    });
    box.value = comment;
    const save = h("button", { type: "submit", class: "nbchat-button", text: this.i18n.t("feedback.save"), "data-testid": "nbchat-feedback-save" });
    const form = h("form", { class: "nbchat-feedback-form" }, [
      h("label", { for: id, text: this.i18n.t("feedback.comment") }),
      box,
      save,
    ]);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.host.send({ kind: "feedback", id: this.id, rating: feedbackOf(this.msg)?.rating ?? rating, comment: box.value });
      // "Saved" once the kernel has it: the message's feedback comes back with this comment (updateFeedback).
      this.awaitedComment = box.value;
      save.disabled = true;
    });
    box.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.closeComment();
      }
    });
    this.commentForm = form;
    this.node.append(form);
  }

  private closeComment(): void {
    this.commentForm?.remove();
    this.commentForm = null;
    this.awaitedComment = null;
  }

  private startEdit(): void {
    if (this.role !== "user" || this.editor || this.context.generating) return;
    this.editor = new MessageEditor(this.msg.content, { save: this.saveEdit, cancel: this.stopEdit }, this.i18n);
    this.editor.setDisabled(this.context.generating);
    this.content.hidden = true;
    this.node.classList.add("nbchat-editing");
    this.bubble.append(this.editor.element);
    this.editor.focus();
  }

  private readonly saveEdit = (text: string): void => {
    if (this.context.generating || text.trim() === "") return;
    if (text !== this.msg.content) this.host.send({ kind: "edit", id: this.id, text });
    this.stopEdit();
  };

  private readonly stopEdit = (): void => {
    if (!this.editor) return;
    const hadFocus = this.editor.element.contains(this.node.ownerDocument.activeElement);
    this.editor.dispose();
    this.editor = null;
    this.content.hidden = false;
    this.node.classList.remove("nbchat-editing");
    if (hadFocus) this.buttons.get("edit")?.focus();
  };
}
