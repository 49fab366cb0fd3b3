// The keyed reconciliation both message lists share (the Chat's thread, each Compare column): committed messages by
// id, the text and reasoning streamed into a reply since (token deltas, a view's `sync`), text that arrived before
// its message did, the ids to repaint at the next animation frame, and "stick to the bottom" scrolling. A list keeps
// one DOM node per id, created once; it places nodes with `place` and paints what `LiveMessages` marks dirty.
import { nextFrame, type Scheduler } from "./dom";

/** What the store needs of a message (the Chat's `ChatMessage`, a Compare column's `CompareMessage`). */
export interface LiveMessage {
  id: string;
  status: string;
  content: string;
  reasoning?: string;
  /** A turn with tools: the rounds of calls so far, each with the text and reasoning the model wrote before it. */
  tool_rounds?: readonly { content: string; reasoning: string }[];
}

/**
 * What a reply streamed after its rounds of tool calls. Deltas (and a view's `sync`) carry everything the turn
 * streamed, round after round; once a round is in the message's `tool_rounds`, its text leaves the front of the
 * streamed text (it shows above the round's calls). Reasoning is kept without trailing spaces per round
 * (`trim`: compared without the spaces around each round's part). A round whose text is not at the front (its state
 * came before the deltas did) cuts nothing.
 */
export function afterRounds(streamed: string, rounds: readonly string[], trim = false): string {
  let rest = trim ? streamed.trimStart() : streamed;
  for (const raw of rounds) {
    const part = trim ? raw.trim() : raw;
    if (!rest.startsWith(part)) break;
    rest = rest.slice(part.length);
    if (trim) rest = rest.trimStart();
  }
  return rest;
}

/** Live text that arrived before its message did (the trait update still in flight). */
interface Early {
  text: string;
  full: boolean;
}

/** How close to the bottom (px) still counts as "at the bottom". */
export const STICK_SLACK = 32;

/** Put `node` right after `previous` in `parent` (first when `previous` is null), moving it only if it is elsewhere. */
export function place(parent: Node, node: Node, previous: Node | null): void {
  const expected: Node | null = previous ? previous.nextSibling : parent.firstChild;
  if (expected !== node) parent.insertBefore(node, expected);
}

export class LiveMessages<M extends LiveMessage, V> {
  /** The committed messages shown, by id. */
  readonly messages = new Map<string, M>();
  /** The view of each message shown (its DOM node and what it last painted), created once per id. */
  readonly views = new Map<string, V>();
  private readonly live = new Map<string, string>();
  private readonly liveReasoning = new Map<string, string>();
  private readonly early = new Map<string, Early>();
  /** Ids removed from the list (Clear): late deltas for them are dropped. */
  private readonly removed = new Set<string>();
  private readonly dirty = new Set<string>();
  private cancelFrame: (() => void) | null = null;

  /**
   * @param paint repaints a message's view (once per frame for each id marked dirty, when it is still shown)
   * @param painted runs after a frame's repaints (scrolling)
   */
  constructor(
    private readonly paint: (view: V, msg: M) => void,
    private readonly painted: () => void,
    private readonly schedule: Scheduler = nextFrame,
  ) {}

  /**
   * Reconcile with the committed `list`: each message gets its view (`create`d the first time its id is seen),
   * its live text merged, and `show(view, msg, index)` in order; the views of ids no longer listed are `drop`ped.
   */
  reconcile(
    list: readonly M[],
    create: (msg: M) => V,
    show: (view: V, msg: M, index: number) => void,
    drop: (view: V) => void,
  ): void {
    const seen = new Set<string>();
    list.forEach((msg, index) => {
      seen.add(msg.id);
      let view = this.views.get(msg.id);
      if (view === undefined) {
        view = create(msg);
        this.views.set(msg.id, view);
      }
      this.commit(msg);
      show(view, msg, index);
    });
    for (const [id, view] of this.views) {
      if (seen.has(id)) continue;
      drop(view);
      this.views.delete(id);
      this.forget(id);
    }
  }

  /** Message `id` is (again) in the list as `msg`: fold any early live text into it. */
  private commit(msg: M): void {
    this.messages.set(msg.id, msg);
    this.removed.delete(msg.id);
    this.dirty.delete(msg.id);
    const early = this.early.get(msg.id);
    this.early.delete(msg.id);
    if (msg.status !== "streaming") {
      this.live.delete(msg.id);
      return;
    }
    if (early) {
      this.live.set(msg.id, early.full ? early.text : msg.content + early.text);
      return;
    }
    const current = this.live.get(msg.id);
    if (current === undefined || msg.content.length > current.length) this.live.set(msg.id, msg.content);
  }

  /** Message `id` left the list: its live text goes, and late deltas for it are dropped. */
  private forget(id: string): void {
    this.messages.delete(id);
    this.live.delete(id);
    this.dirty.delete(id);
    this.removed.add(id);
  }

  /** Append streamed text (and reasoning) to message `id`. */
  applyDelta(id: string, text: string, reasoning = ""): void {
    const msg = this.messages.get(id);
    if (reasoning !== "" && !this.removed.has(id) && (!msg || msg.status === "streaming")) {
      this.liveReasoning.set(id, (this.liveReasoning.get(id) ?? msg?.reasoning ?? "") + reasoning);
      if (msg) this.markDirty(id);
    }
    if (text === "") return;
    if (!msg) {
      if (this.removed.has(id)) return;
      const before = this.early.get(id);
      this.early.set(id, { text: (before?.text ?? "") + text, full: before?.full ?? false });
      return;
    }
    if (msg.status !== "streaming") return; // a late delta after the reply was committed
    this.live.set(id, (this.live.get(id) ?? msg.content) + text);
    this.markDirty(id);
  }

  /** Replace the streamed text (and reasoning) of message `id` with the full partial text. */
  applySync(id: string, text: string, reasoning?: string): void {
    const msg = this.messages.get(id);
    if (reasoning !== undefined && (!msg || msg.status === "streaming")) {
      this.liveReasoning.set(id, reasoning);
      if (msg) this.markDirty(id);
    }
    if (!msg) {
      if (!this.removed.has(id)) this.early.set(id, { text, full: true });
      return;
    }
    if (msg.status !== "streaming") return;
    this.live.set(id, text);
    this.markDirty(id);
  }

  /** The text of `msg` as shown: the live text while it streams. */
  textOf(msg: M): string {
    if (msg.status !== "streaming") return msg.content;
    const live = this.live.get(msg.id) ?? msg.content;
    const rounds = msg.tool_rounds;
    return rounds && rounds.length > 0 ? afterRounds(live, rounds.map((r) => String(r.content ?? ""))) : live;
  }

  /** The reasoning of `msg` as shown: the live reasoning while it streams (forgotten once it is committed). */
  reasoningOf(msg: M): string {
    if (msg.status === "streaming") {
      const live = this.liveReasoning.get(msg.id) ?? msg.reasoning ?? "";
      const rounds = msg.tool_rounds;
      return rounds && rounds.length > 0 ? afterRounds(live, rounds.map((r) => String(r.reasoning ?? "")), true) : live;
    }
    this.liveReasoning.delete(msg.id);
    return msg.reasoning ?? "";
  }

  hasStreaming(): boolean {
    for (const msg of this.messages.values()) if (msg.status === "streaming") return true;
    return false;
  }

  /** Repaint message `id` at the next frame (with the others marked by then). */
  markDirty(id: string): void {
    this.dirty.add(id);
    if (this.cancelFrame) return;
    this.cancelFrame = this.schedule(() => {
      this.cancelFrame = null;
      const ids = [...this.dirty];
      this.dirty.clear(); // a paint with work left marks its message dirty again, for the next frame
      for (const id of ids) {
        const msg = this.messages.get(id);
        const view = this.views.get(id);
        if (msg && view !== undefined) this.paint(view, msg);
      }
      this.painted();
    });
  }

  dispose(): void {
    this.cancelFrame?.();
    this.cancelFrame = null;
  }
}

/** Keeps a scrolling list at its bottom while the user has not scrolled up. */
export class StickyScroll {
  stuck = true;

  constructor(private readonly element: HTMLElement) {
    element.addEventListener("scroll", this.onScroll);
  }

  /** Scroll to the bottom if the list was there. */
  follow(): void {
    if (this.stuck) this.element.scrollTop = this.element.scrollHeight;
  }

  dispose(): void {
    this.element.removeEventListener("scroll", this.onScroll);
  }

  private readonly onScroll = (): void => {
    const el = this.element;
    this.stuck = el.scrollHeight - el.scrollTop - el.clientHeight <= STICK_SLACK;
  };
}
