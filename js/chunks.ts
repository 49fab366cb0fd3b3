// Long messages, rendered in pieces so the page never freezes. A reply is cut
// into chunks at block boundaries (a blank line followed by an unindented
// line, outside fenced code); each chunk is rendered once and kept. While a
// reply streams, only the text after the last boundary (the tail) is rendered
// again per frame, so a frame costs the same at 1 kB and at 1 MB. A chunk too
// big to render as Markdown in one frame (a 1 MB code block) is shown as plain
// text. Short messages never come here: they are rendered whole, as before.
import { h } from "./dom";
import { EN, type I18n } from "./i18n";

/** Messages up to this many characters are rendered whole; longer ones in chunks. */
export const WHOLE_MAX = 16_000;
/** A chunk is at least this long (except the last), so most chunks hold several blocks. */
export const MIN_CHUNK = 4_000;
/** At most this many characters of new chunks are rendered per frame (the rest the next frames)... */
export const FRAME_CHARS = 16_000;
/** ...and no more chunks once this much time went by in the frame (at least one chunk is always rendered). */
export const FRAME_MS = 12;
/** A chunk or tail longer than this is shown as plain text, not Markdown. */
export const MARKDOWN_MAX = 50_000;

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})/;
const now = (): number => (typeof performance !== "undefined" ? performance.now() : Date.now());
const FENCE_CLOSE = /^ {0,3}(`{3,}|~{3,})\s*$/;
/** A closing fence at the very end of a code block's body (group 1: the newline before it, or ""). */
const CLOSING_FENCE = /(^|\n) {0,3}(?:`{3,}|~{3,})\s*$/;

/**
 * Offsets in `text` (after `from`, which must itself be a boundary or 0) where a
 * chunk may start: the first character of an unindented line that follows a
 * blank line, outside fenced code. Markdown before such an offset renders the
 * same whatever comes after it (link reference definitions aside).
 */
export function blockBoundaries(text: string, from = 0): number[] {
  return [...boundaries(text, from)];
}

/** `blockBoundaries`, lazily: the caller reads only as far as it needs. */
function* boundaries(text: string, from: number): Generator<number> {
  let fence: string | null = null;
  let blank = false;
  let pos = from;
  while (pos < text.length) {
    const newline = text.indexOf("\n", pos);
    const end = newline === -1 ? text.length : newline;
    const line = text.slice(pos, end);
    if (fence === null) {
      if (blank && pos > from && line.length > 0 && !/^\s/.test(line)) yield pos;
      const open = FENCE_OPEN.exec(line);
      if (open) fence = open[1];
    } else {
      const close = FENCE_CLOSE.exec(line);
      if (close && close[1][0] === fence[0] && close[1].length >= fence.length) fence = null;
    }
    blank = line.trim() === "";
    if (newline === -1) break;
    pos = newline + 1;
  }
}

/** Chunk ends after `from`: each chunk at least `min` characters where boundaries allow; the last is `text.length`. */
export function chunkEnds(text: string, from = 0, min = MIN_CHUNK): number[] {
  const ends: number[] = [];
  for (let start = from; start < text.length; ) {
    const end = nextChunkEnd(text, start, min);
    ends.push(end);
    start = end;
  }
  return ends;
}

/**
 * The end of the chunk that starts at `from` (a boundary): the first boundary at least `min` characters on, else
 * `text.length`. Reads only as far as it needs.
 */
export function nextChunkEnd(text: string, from: number, min = MIN_CHUNK): number {
  for (const pos of boundaries(text, from)) if (pos - from >= min) return pos;
  return text.length;
}

/** A human size: "812 characters", "48 kB", "1.0 MB". */
export function formatSize(chars: number, i18n: I18n = EN): string {
  if (chars < 1000) return i18n.count("size.chars", chars);
  if (chars < 1_000_000) return i18n.t("size.kb", { n: i18n.number(Math.round(chars / 1000)) });
  return i18n.t("size.mb", { n: i18n.number(chars / 1_000_000, 1) });
}

export interface ChunkOptions {
  /** Markdown → sanitized HTML. */
  render: (text: string) => string;
  /** Called with each element whose content was just rendered (adds the "Copy code" buttons). */
  decorate: (element: HTMLElement) => void;
  /** The view's language (the "rendering…" line); English when absent. */
  i18n?: I18n;
}

/** A plain block grows in pieces of about this many characters (cut after a newline), each laid out alone. */
export const PIECE_CHARS = 16_000;

/**
 * Plain text too big for Markdown, as a stack of pieces (whole lines each), so that growing it lays out only the
 * last piece and pieces outside the visible part of the list are skipped. Code keeps its lines and scrolls sideways.
 */
class PlainBlock {
  readonly element: HTMLElement;
  private readonly holder: HTMLElement;
  private text = "";
  private node: Text | null = null;
  private pieceLength = 0;

  constructor(readonly code: boolean) {
    this.holder = code ? h("code") : h("div");
    this.element = code
      ? h("pre", { class: "nbchat-code nbchat-plain-chunk" }, [this.holder])
      : h("div", { class: "nbchat-plain-chunk" }, [this.holder]);
  }

  /**
   * Show `text`; when it extends what is shown, only the new part is added. A code block shows what is between its
   * fences, with the fence's language as `language-…` (as Markdown's code blocks do), so Copy and Insert take the code.
   */
  set(source: string): void {
    const text = this.code ? this.fenced(source) : source;
    if (!text.startsWith(this.text)) {
      this.holder.replaceChildren();
      this.text = "";
      this.node = null;
    }
    this.add(text.slice(this.text.length));
    this.text = text;
  }

  /** The code between a block's opening fence line and its closing fence (when it has come). */
  private fenced(source: string): string {
    const newline = source.indexOf("\n");
    if (newline === -1) return "";
    const language = source.slice(0, newline).replace(FENCE_OPEN, "").trim().split(/\s/)[0];
    if (language !== "" && this.holder.className === "") this.holder.className = `language-${language}`;
    const body = source.slice(newline + 1);
    const close = CLOSING_FENCE.exec(body);
    return close ? body.slice(0, close.index + close[1].length) : body;
  }

  private add(more: string): void {
    while (more !== "") {
      if (this.node === null || (this.pieceLength >= PIECE_CHARS && this.node.data.endsWith("\n"))) {
        this.node = document.createTextNode("");
        this.pieceLength = 0;
        this.holder.append(h("span", { class: "nbchat-plain-piece" }, [this.node]));
      }
      let take = more.length;
      if (this.pieceLength + take > PIECE_CHARS) {
        const newline = more.indexOf("\n", Math.max(0, PIECE_CHARS - this.pieceLength));
        if (newline !== -1) take = newline + 1;
      }
      this.node.appendData(more.slice(0, take));
      this.pieceLength += take;
      more = more.slice(take);
    }
  }
}

/**
 * Renders one long message into `content`: kept chunks, then the tail.
 * `show(text, final)` returns true while work is left for the next frame.
 */
export class ChunkedRenderer {
  private readonly kept: HTMLElement;
  private readonly tail: HTMLElement;
  private text = "";
  private done = 0;
  private tailText: string | null = null;
  /** The tail as plain text (one block too big for Markdown), grown in place while the reply streams. */
  private tailBlock: PlainBlock | null = null;

  constructor(
    private readonly content: HTMLElement,
    private readonly options: ChunkOptions,
  ) {
    this.kept = h("div", { class: "nbchat-chunk nbchat-chunks" });
    this.tail = h("div", { class: "nbchat-chunk nbchat-tail" });
    content.replaceChildren(this.kept, this.tail);
  }

  /** True if `content` still holds this renderer's nodes. */
  get attached(): boolean {
    return this.kept.parentNode === this.content;
  }

  /** Show `text` (the whole message so far); `final`: no more text will come. */
  show(text: string, final: boolean): boolean {
    if (!text.startsWith(this.text.slice(0, this.done))) {
      this.kept.replaceChildren();
      this.done = 0;
    }
    this.text = text;
    let budget = FRAME_CHARS;
    let more = false;
    const started = now();
    while (this.done < text.length) {
      const end = nextChunkEnd(text, this.done);
      if (end === text.length && !final) break; // the last piece may still grow: it stays the tail
      if (budget <= 0 || (budget < FRAME_CHARS && now() - started > FRAME_MS)) {
        more = true;
        break;
      }
      this.kept.append(this.piece(text.slice(this.done, end)));
      budget -= end - this.done;
      this.done = end;
    }
    this.showTail(text.slice(this.done), more);
    return more;
  }

  private piece(source: string): HTMLElement {
    if (source.length > MARKDOWN_MAX) {
      const block = new PlainBlock(FENCE_OPEN.test(source));
      block.set(source);
      const element = h("div", { class: "nbchat-chunk" }, [block.element]);
      if (block.code) this.options.decorate(element); // Copy (and Insert) on the code block
      return element;
    }
    const element = h("div", { class: "nbchat-chunk" });
    element.innerHTML = this.options.render(source);
    this.options.decorate(element);
    return element;
  }

  private showTail(source: string, pending: boolean): void {
    if (pending) {
      // Not rendered yet (the next frames will): show its start as plain text, cheaply.
      this.tailText = null;
      this.tailBlock = null;
      const i18n = this.options.i18n ?? EN;
      const rest = formatSize(Math.max(0, source.length - FRAME_CHARS), i18n);
      this.tail.replaceChildren(
        h("div", { class: "nbchat-plain-chunk", text: source.slice(0, FRAME_CHARS) }),
        h("div", { class: "nbchat-rendering", text: i18n.t("msg.rendering", { size: rest }) }),
      );
      return;
    }
    if (source === this.tailText) return;
    this.tailText = source;
    if (source.length > MARKDOWN_MAX) {
      // One block too big for Markdown (a huge code block): plain text, grown in place while it streams.
      const code = FENCE_OPEN.test(source);
      if (this.tailBlock === null || this.tailBlock.code !== code) {
        this.tailBlock = new PlainBlock(code);
        this.tail.replaceChildren(this.tailBlock.element);
        this.tailBlock.set(source);
        if (code) this.options.decorate(this.tail); // the buttons read the code when clicked: later text included
      } else this.tailBlock.set(source);
      return;
    }
    this.tailBlock = null;
    if (source === "") this.tail.replaceChildren();
    else {
      this.tail.innerHTML = this.options.render(source);
      this.options.decorate(this.tail);
    }
  }
}
