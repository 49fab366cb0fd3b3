// Citation chips. A reply that used documents cites passages by their marker ("[reader.pdf p. 12]"); the kernel
// resolves each marker against the passages its request sent (nbchat/documents/_citations.py) and the result
// travels in the reply's `stats.citations`. Here: a markdown-it inline rule keeps a marker-shaped bracket as one
// token (so linkify cannot split "notes.md" out of "[notes.md §4]") and renders it as an inert span of escaped
// text; after rendering and sanitising, `linkCitations` turns each span the kernel resolved into a chip that opens
// the exact passage sent, as text. A citation of a passage that was not sent shows as unverified.
import { h } from "./dom";
import { EN, type I18n } from "./i18n";
import type { Citation } from "./types";

/** `[...]` without brackets or line breaks inside, not followed by `(` (a Markdown link). As the kernel's. */
const MARKER = /^\[([^[\]\n]{1,300})\](?!\()/;
/** A page, slide or section number in a marker (the kernel's `_LOCATOR`). */
const LOCATOR = /(?:pp?\.|pages?|slides?)\s*\d+|§\s*\d+/i;
/** The class of a marker's span: allowed by the sanitiser (js/markdown.ts `SAFE_CLASS`). */
export const MARKER_CLASS = "nbchat-cite-marker";
const BLOCK = "table, p, li, blockquote, h1, h2, h3, h4, h5, h6, pre";

/** What the rule uses of markdown-it's inline state. */
interface InlineState {
  src: string;
  pos: number;
  push(type: string, tag: string, nesting: number): { content: string };
}

/** markdown-it inline rule: a citation-shaped bracket becomes one `nbchat_cite` token (escaped text in a span). */
export function citationRule(state: InlineState, silent: boolean): boolean {
  if (state.src.charCodeAt(state.pos) !== 0x5b /* [ */) return false;
  const match = MARKER.exec(state.src.slice(state.pos, state.pos + 304));
  if (!match || !LOCATOR.test(match[1])) return false;
  if (!silent) state.push("nbchat_cite", "", 0).content = match[0];
  state.pos += match[0].length;
  return true;
}

/** A citation from the kernel's state, or null when a field is missing or of the wrong type. */
function checked(raw: unknown): Citation | null {
  if (typeof raw !== "object" || raw === null) return null;
  const c = raw as Record<string, unknown>;
  const strings = ["marker", "document", "locator", "text"].every((k) => typeof c[k] === "string");
  return strings && typeof c.verified === "boolean" ? (c as unknown as Citation) : null;
}

/** The chip's label: "reader.pdf p. 12". */
export function citationLabel(c: Citation): string {
  return `${c.document} ${c.locator}`;
}

/** Why a citation is not verified, in words. */
function reasonText(c: Citation, i18n: I18n): string {
  if (c.verified) return i18n.t("cite.sent");
  return c.reason === "no such passage" ? i18n.t("cite.noSuch", { document: c.document }) : i18n.t("cite.notSent");
}

/**
 * Turn the marker spans of `root` (a rendered, sanitised reply) that `citations` resolves into chips; idempotent
 * (spans already linked are left alone). A span the kernel did not resolve stays plain text.
 */
export function linkCitations(root: HTMLElement, citations: unknown, i18n: I18n = EN): void {
  const list = Array.isArray(citations) ? citations.map(checked).filter((c): c is Citation => c !== null) : [];
  if (list.length === 0) return;
  const byMarker = new Map(list.map((c) => [c.marker, c]));
  for (const span of root.querySelectorAll<HTMLElement>(`span.${MARKER_CLASS}:not([data-linked])`)) {
    const text = span.textContent ?? "";
    const whole = byMarker.get(text);
    const pieces = whole ? [whole] : text.slice(1, -1).split(";").map((p) => byMarker.get(`[${p.trim()}]`) ?? p);
    if (!pieces.some((p) => typeof p !== "string")) continue;
    span.dataset.linked = "true";
    span.replaceChildren(
      ...pieces.flatMap((p, i) => {
        const sep = i > 0 ? ["; "] : [];
        return typeof p === "string" ? [...sep, p.trim()] : [...sep, chip(root, p, i18n)];
      }),
    );
  }
}

/** One chip: a button that opens (and closes) the passage it cites below its paragraph. */
function chip(root: HTMLElement, c: Citation, i18n: I18n): HTMLElement {
  const label = citationLabel(c);
  const button = h("button", {
    type: "button",
    class: "nbchat-cite",
    "data-verified": String(c.verified),
    "aria-expanded": "false",
    title: reasonText(c, i18n),
    text: c.verified ? label : `⚠ ${label}`,
  });
  button.addEventListener("click", (event) => {
    event.preventDefault();
    const open = root.querySelector<HTMLElement>(".nbchat-cite-passage");
    const wasMine = open !== null && button.getAttribute("aria-expanded") === "true";
    open?.remove();
    for (const other of root.querySelectorAll(".nbchat-cite[aria-expanded='true']")) other.setAttribute("aria-expanded", "false");
    if (wasMine) return;
    const panel = passagePanel(c, i18n, () => {
      panel.remove();
      button.setAttribute("aria-expanded", "false");
      button.focus();
    });
    const block = button.closest(BLOCK);
    const anchor = block && root.contains(block) ? block : button;
    anchor.after(panel);
    button.setAttribute("aria-expanded", "true");
  });
  return button;
}

/** The passage a citation points to, as text (a document's text may hold anything: it never becomes markup). */
function passagePanel(c: Citation, i18n: I18n, close: () => void): HTMLElement {
  const closeButton = h("button", { type: "button", class: "nbchat-cite-close", "aria-label": i18n.t("cite.close"), text: "×" });
  closeButton.addEventListener("click", (event) => {
    event.preventDefault();
    close();
  });
  const head = h("div", { class: "nbchat-cite-head" }, [
    h("strong", { text: citationLabel(c) }),
    h("span", { class: "nbchat-cite-status", text: reasonText(c, i18n) }),
    closeButton,
  ]);
  const body = c.text ? [h("div", { class: "nbchat-cite-text", text: c.text })] : [];
  return h("div", { class: "nbchat-cite-passage", role: "note", "data-verified": String(c.verified), "aria-label": citationLabel(c) }, [head, ...body]);
}
