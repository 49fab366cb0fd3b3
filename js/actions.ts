// The bar under each message: the version switcher ("‹ 2/3 ›"), the pinned and
// "not sent" markers, and the action buttons (Copy, Edit, Regenerate, Details,
// Copy as code, Pin, Exclude, Delete). Every action is a message to Python; the
// bar only changes when the synced messages say so.
import { copyFrom, setLabel } from "./clipboard";
import { h, uniqueId } from "./dom";
import { MessageEditor } from "./editor";
import { ProvenanceCard } from "./provenance";
import { messageFlags, type ChatMessage, type ClientMessage, type Provenance } from "./types";

export interface ActionContext {
  /** A reply is being generated: no edit, regenerate, delete or version switch. */
  generating: boolean;
  /** This is the last assistant message of the visible list (the one Regenerate applies to). */
  lastAssistant: boolean;
}

/** What the bar needs from the message list. */
export interface ActionHost {
  send(message: ClientMessage): void;
  /** The message's text as shown now (the live text while it streams). */
  textOf(id: string): string;
}

type Action = "copy" | "edit" | "regenerate" | "details" | "code" | "pin" | "exclude" | "delete" | "prev" | "next";

const NOT_SENT_WHY = { excluded: "excluded", dropped: "left out to fit the context window" };

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
    this.prev = button("prev", "‹", { "aria-label": "Previous version" });
    this.next = button("next", "›", { "aria-label": "Next version" });
    this.counter = h("span", { class: "nbchat-branch-count" });
    this.switcher = h("span", { class: "nbchat-branch", role: "group", "aria-label": "Versions" }, [this.prev, this.counter, this.next]);
    this.pinMark = h("span", { class: "nbchat-pinned", title: "Pinned: kept when older messages are left out", text: "pinned" });
    this.notSent = h("span", { class: "nbchat-not-sent", text: "not sent" });

    const names: [Action, string][] =
      msg.role === "user"
        ? [["edit", "Edit"], ["copy", "Copy"], ["pin", "Pin"], ["exclude", "Exclude"], ["delete", "Delete"]]
        : [["regenerate", "Regenerate"], ["copy", "Copy"], ["code", "Copy as code"], ["details", "Details"],
           ["pin", "Pin"], ["exclude", "Exclude"], ["delete", "Delete"]];
    for (const [action, text] of names) this.buttons.set(action, button(action, text));
    this.buttons.get("details")?.setAttribute("aria-expanded", "false");
    this.toolbar = h("span", { class: "nbchat-actions", role: "group", "aria-label": "Message actions" }, [...this.buttons.values()]);
    this.bar = h("div", { class: "nbchat-msg-bar" }, [this.toolbar]);
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

    this.notSent.title = flags.excluded ? NOT_SENT_WHY.excluded : NOT_SENT_WHY.dropped;
    this.node.dataset.inContext = String(flags.inContext);
    this.node.classList.toggle("nbchat-pinned-msg", flags.pinned);

    const get = (action: Action) => this.buttons.get(action);
    setLabel(get("pin")!, flags.pinned ? "Unpin" : "Pin");
    setLabel(get("exclude")!, flags.excluded ? "Include" : "Exclude");
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
    this.editor?.dispose();
    this.editor = null;
  }

  private ensureCard(): ProvenanceCard {
    if (!this.card) {
      this.card = new ProvenanceCard(this.id, (message) => this.host.send(message));
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
        void copyFrom(target, this.host.textOf(this.id));
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
      case "prev":
      case "next":
        send({ kind: "branch", id: this.id, step: target.dataset.action === "prev" ? -1 : 1 });
        break;
    }
  };

  private startEdit(): void {
    if (this.role !== "user" || this.editor || this.context.generating) return;
    this.editor = new MessageEditor(this.msg.content, { save: this.saveEdit, cancel: this.stopEdit });
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
