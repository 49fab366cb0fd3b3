// Markdown → sanitized HTML. markdown-it never passes raw HTML through
// (`html: false`); DOMPurify then enforces a strict allow-list on whatever it
// produced, so nothing in a model reply can run script, load a remote
// resource, or style itself out of the widget. The allow-list has no element
// that fetches anything (img, link, style, iframe, object, ...), no attribute
// that runs or fetches anything (on*, style, src, srcdoc, formaction, ...),
// and no id or name a reply could use to clobber the page's own globals.
import DOMPurify from "dompurify";
import hljs from "highlight.js/lib/core";
import bash from "highlight.js/lib/languages/bash";
import cpp from "highlight.js/lib/languages/cpp";
import css from "highlight.js/lib/languages/css";
import go from "highlight.js/lib/languages/go";
import java from "highlight.js/lib/languages/java";
import javascript from "highlight.js/lib/languages/javascript";
import json from "highlight.js/lib/languages/json";
import latex from "highlight.js/lib/languages/latex";
import markdown from "highlight.js/lib/languages/markdown";
import plaintext from "highlight.js/lib/languages/plaintext";
import python from "highlight.js/lib/languages/python";
import r from "highlight.js/lib/languages/r";
import rust from "highlight.js/lib/languages/rust";
import sql from "highlight.js/lib/languages/sql";
import typescript from "highlight.js/lib/languages/typescript";
import xml from "highlight.js/lib/languages/xml";
import yaml from "highlight.js/lib/languages/yaml";
import katex from "katex";
import MarkdownIt from "markdown-it";
import { citationRule, MARKER_CLASS } from "./citations";
import { EN, type I18n } from "./i18n";
import { markInvisible } from "./invisible";

// The languages students meet (Python, R, SQL, Bash, JS/TS, HTML/CSS, JSON/YAML, C/C++, Java, Go, Rust, LaTeX);
// registered up front: anywidget loads one ES module from a string, so chunks split off it could not be fetched.
// C is highlighted with the C++ grammar (a superset for highlighting), which saves the bytes of a second one.
const LANGUAGES = {
  bash, cpp, css, go, java, javascript, json, latex, markdown, plaintext, python, r, rust, sql, typescript, xml, yaml,
};
for (const [name, language] of Object.entries(LANGUAGES)) hljs.registerLanguage(name, language);

// highlight.js compiles a grammar on its first use (~150 ms for java): do it while the page is idle, one
// language per idle period, rather than in the middle of a reply.
function compileWhenIdle(names: string[]): void {
  const idle = globalThis.requestIdleCallback ?? ((run: () => void) => setTimeout(run, 100));
  const name = names.shift();
  if (name !== undefined) idle(() => (hljs.highlight("x", { language: name }), compileWhenIdle(names)));
}
compileWhenIdle(Object.keys(LANGUAGES));
hljs.registerAliases(["shell", "console", "zsh"], { languageName: "bash" });
hljs.registerAliases(["c", "h"], { languageName: "cpp" });

// The MathML elements KaTeX emits (output: "mathml"), and nothing else of MathML: no mglyph (it loads images),
// no maction, no semantics annotations other than the TeX source.
const MATHML_TAGS = [
  "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
  "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
  "mphantom", "menclose", "merror", "mmultiscripts", "mprescripts", "none",
];
const MATHML_ATTR = [
  "xmlns", "display", "encoding", "mathvariant", "stretchy", "fence", "separator", "lspace", "rspace", "width",
  "height", "depth", "voffset", "columnalign", "rowalign", "columnspacing", "rowspacing", "columnlines", "rowlines",
  "frame", "framespacing", "equalrows", "equalcolumns", "accent", "accentunder", "linethickness", "minsize",
  "maxsize", "movablelimits", "symmetric", "largeop", "displaystyle", "scriptlevel", "notation", "mathcolor",
  "mathbackground",
];
const ALLOWED_TAGS = [
  "a", "blockquote", "br", "code", "del", "em", "h1", "h2", "h3", "h4", "h5", "h6", "hr",
  "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup",
  "table", "tbody", "td", "th", "thead", "tr", "ul",
  ...MATHML_TAGS,
];
const ALLOWED_ATTR = ["href", "title", "class", "start", ...MATHML_ATTR];
// Never allowed, whatever the allow-list above says (belt and braces against a future edit of it).
const FORBID_TAGS = [
  "style", "img", "svg", "mglyph", "maction", "form", "iframe", "frame", "frameset", "script", "noscript", "template", "input",
  "button", "textarea", "select", "option", "object", "embed", "applet", "base", "meta", "link", "video", "audio",
  "source", "track", "picture", "canvas", "dialog", "portal", "slot",
];
const FORBID_ATTR = [
  "style", "src", "srcset", "srcdoc", "id", "name", "action", "formaction", "background", "poster", "xlink:href",
  "ping", "download", "target", "rel", "is",
];
// Class names markdown-it and highlight.js produce, and nothing else: a reply
// cannot borrow the widget's own classes.
const SAFE_CLASS = /^(?:hljs(?:-[\w-]+)?|language-[\w+#.-]+|nbchat-(?:code|invisible|align-(?:left|center|right)|img-placeholder|math-source|cite-marker)|katex(?:-display|-error|-mathml)?|[a-z]+_{1,2})$/;
const SAFE_HREF = /^(?:https?:|mailto:)/i;
/** Where a link may point: the web and e-mail; no javascript:, data:, vbscript:, file:, relative paths. */
const ALLOWED_URI_REGEXP = /^(?:https?:|mailto:)/i;

function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");
}

/**
 * How much highlighting one task (one render of the page) may do. highlight.js cannot be interrupted, some inputs
 * take seconds (long identifiers in js/ts/java, `a a a …` in cpp), and thousands of highlighted spans make the
 * layout slow: a block over `blockChars` is shown plain (escaped); smaller ones are highlighted in pieces of whole
 * lines (at most `pieceChars`) while the task has spent less than `ms` on it, and the rest of the block (also a
 * line over `lineChars` and everything after it) is plain. One piece costs a few ms even on pathological input.
 */
export const HIGHLIGHT_BUDGET = { ms: 25, pieceChars: 1_000, lineChars: 1_000, blockChars: 20_000 };

let spentMs = 0; // highlighting time of the current task; reset when the task ends
let resetPending = false;

function highlightWithinBudget(code: string, language: string): string {
  if (code.length > HIGHLIGHT_BUDGET.blockChars) return escapeHtml(code);
  let out = "";
  let start = 0;
  while (start < code.length) {
    let end = Math.min(code.length, start + HIGHLIGHT_BUDGET.pieceChars);
    if (end < code.length) {
      const newline = code.lastIndexOf("\n", end - 1);
      const next = code.indexOf("\n", start); // a line longer than a piece is one piece (and measured whole)
      end = newline >= start ? newline + 1 : next < 0 ? code.length : next + 1;
    }
    const piece = code.slice(start, end);
    const longest = Math.max(...piece.split("\n").map((line) => line.length));
    if (spentMs >= HIGHLIGHT_BUDGET.ms || longest > HIGHLIGHT_BUDGET.lineChars) break;
    const began = performance.now();
    out += hljs.highlight(piece, { language, ignoreIllegals: true }).value;
    spentMs += performance.now() - began;
    if (!resetPending) {
      resetPending = true;
      setTimeout(() => {
        spentMs = 0;
        resetPending = false;
      }, 0);
    }
    start = end;
  }
  return out + escapeHtml(code.slice(start));
}

/** The catalogue of the view whose Markdown is being rendered (markdown-it's highlight callback gets no env). */
let rendering: I18n = EN;

function highlight(code: string, info: string): string {
  const lang = info.trim().split(/\s+/)[0]?.toLowerCase() ?? "";
  const known = lang !== "" && hljs.getLanguage(lang) !== undefined;
  const describe = (name: string) => escapeHtml(rendering.t("code.invisible", { name }));
  const body = markInvisible(known ? highlightWithinBudget(code, lang) : escapeHtml(code), describe);
  const langClass = known ? ` language-${escapeHtml(lang)}` : "";
  return `<pre class="nbchat-code"><code class="hljs${langClass}">${body}</code></pre>`;
}

const md = new MarkdownIt({ html: false, linkify: true, breaks: false, typographer: false, highlight });

// Images never load: a placeholder with the alt text takes their place, so no
// request leaves the page (a remote image is a tracking pixel waiting to happen).
md.renderer.rules.image = (tokens, idx, _options, env) => {
  const token = tokens[idx];
  const alt = token.children ? md.renderer.renderInlineAsText(token.children, md.options, {}) : token.content;
  const i18n = (env as { i18n?: I18n } | undefined)?.i18n ?? EN;
  const label = alt.trim() === "" ? i18n.t("md.imageNotLoaded") : i18n.t("md.imageAlt", { alt: alt.trim() });
  return `<span class="nbchat-img-placeholder" title="${escapeHtml(label)}">${escapeHtml(label)}</span>`;
};

// Table cell alignment arrives as inline `style`; turn it into a class so the
// sanitizer can drop every style attribute.
md.core.ruler.push("nbchat_align", (state) => {
  for (const token of state.tokens) {
    if (token.type !== "th_open" && token.type !== "td_open") continue;
    const style = token.attrGet("style");
    if (style === null) continue;
    const match = /text-align:\s*(left|center|right)/.exec(String(style));
    token.attrs = (token.attrs ?? []).filter(([name]) => name !== "style");
    if (match) token.attrSet("class", `nbchat-align-${match[1]}`);
  }
  return true;
});

// Citation markers of documents ("[reader.pdf p. 12]") stay one piece of escaped text, which js/citations.ts turns
// into a chip once the reply is sanitised (linkify would otherwise split "notes.md" out of "[notes.md §4]").
md.inline.ruler.before("link", "nbchat_cite", citationRule);
md.renderer.rules.nbchat_cite = (tokens, idx) => `<span class="${MARKER_CLASS}">${escapeHtml(tokens[idx].content)}</span>`;

// ---------------------------------------------------------------------------------------------------- math
// KaTeX renders TeX between $…$, $$…$$, \(…\) and \[…\]. This rule only finds the delimiters and hands the TeX
// to KaTeX (no TeX parsing here). Output is MathML: the browser draws it with the page's own fonts, so there are
// no KaTeX font files or CSS to load and nothing requested off the page (bundled fonts would add ~300 kB and a
// stylesheet). trust: false refuses \href, \url, \htmlData, \includegraphics and friends; maxExpand and maxSize
// bound macro expansion and sizes, so a hostile \def loop ends in an error, not a frozen page. Math that is not
// closed yet (a reply still streaming) stays text until its closing delimiter arrives. "$5 and $10" stays text:
// an inline $ must touch its content on both sides and the closing $ must not be followed by a digit (pandoc's rule).
const KATEX_OPTIONS = {
  output: "mathml" as const,
  trust: false,
  strict: "ignore" as const,
  throwOnError: false,
  maxExpand: 500,
  maxSize: 20,
  errorColor: "inherit",
};

/** TeX rendered by KaTeX; on any failure the source as code, so nothing is lost. */
export function renderTex(tex: string, display: boolean): string {
  try {
    const html = katex.renderToString(tex, { ...KATEX_OPTIONS, displayMode: display });
    return display ? `<span class="katex-display">${html}</span>` : html;
  } catch {
    return `<code class="nbchat-math-source">${escapeHtml(tex)}</code>`;
  }
}

const PAIRS: [string, string, boolean][] = [
  ["$$", "$$", true],
  ["\\[", "\\]", true],
  ["\\(", "\\)", false],
];

/** What the rule uses of markdown-it's inline state. */
interface InlineState {
  src: string;
  pos: number;
  push(type: string, tag: string, nesting: number): { content: string; meta: unknown };
}

function mathRule(state: InlineState, silent: boolean): boolean {
  const src = state.src;
  const start = state.pos;
  if (src.charCodeAt(start) !== 0x24 /* $ */ && src.charCodeAt(start) !== 0x5c /* \ */) return false;
  for (const [open, close, display] of PAIRS) {
    if (!src.startsWith(open, start)) continue;
    const end = src.indexOf(close, start + open.length);
    if (end < 0) return false; // not closed (yet): text
    const tex = src.slice(start + open.length, end);
    if (tex.trim() === "") return false;
    if (!silent) {
      const token = state.push("math", "", 0);
      token.content = tex;
      token.meta = { display };
    }
    state.pos = end + close.length;
    return true;
  }
  if (src.charCodeAt(start) !== 0x24) return false;
  // inline $…$: content starts and ends with a non-space, the closing $ is not followed by a digit
  const after = src.charAt(start + 1);
  if (after === "" || /\s/.test(after) || after === "$") return false;
  let end = start + 1;
  for (;;) {
    end = src.indexOf("$", end);
    if (end < 0) return false;
    if (src.charCodeAt(end - 1) === 0x5c) {
      end += 1; // \$ is a dollar sign inside the math
      continue;
    }
    break;
  }
  if (/\s/.test(src.charAt(end - 1)) || /\d/.test(src.charAt(end + 1))) return false;
  if (!silent) {
    const token = state.push("math", "", 0);
    token.content = src.slice(start + 1, end);
    token.meta = { display: false };
  }
  state.pos = end + 1;
  return true;
}

md.inline.ruler.before("escape", "nbchat_math", mathRule);
md.renderer.rules.math = (tokens, idx) => {
  const token = tokens[idx];
  return renderTex(token.content, Boolean((token.meta as { display?: boolean } | null)?.display));
};

let purifier: ReturnType<typeof DOMPurify> | null = null;

function getPurifier(): ReturnType<typeof DOMPurify> {
  if (purifier) return purifier;
  const instance = DOMPurify(window);
  instance.addHook("afterSanitizeAttributes", (node) => {
    if (!(node instanceof Element)) return;
    const classes = node.getAttribute("class");
    if (classes !== null) {
      const kept = classes.split(/\s+/).filter((c) => SAFE_CLASS.test(c));
      if (kept.length > 0) node.setAttribute("class", kept.join(" "));
      else node.removeAttribute("class");
    }
    if (node.tagName === "A") {
      const href = node.getAttribute("href");
      if (href !== null && !SAFE_HREF.test(href.trim())) node.removeAttribute("href");
      // Opens only on click, in a new tab that cannot reach back into this page and is told nothing about it.
      node.setAttribute("target", "_blank");
      node.setAttribute("rel", "noopener noreferrer");
      node.setAttribute("referrerpolicy", "no-referrer");
      // Show where it really goes: link text may claim another address.
      const target = node.getAttribute("href");
      if (target !== null) {
        const title = node.getAttribute("title");
        node.setAttribute("title", title && title !== target ? `${title} — ${target}` : target);
      }
    }
  });
  purifier = instance;
  return instance;
}

const PURIFY_CONFIG = {
  ALLOWED_TAGS,
  ALLOWED_ATTR,
  ALLOWED_URI_REGEXP,
  ALLOW_DATA_ATTR: false,
  ALLOW_ARIA_ATTR: false,
  ALLOW_UNKNOWN_PROTOCOLS: false,
  ALLOW_SELF_CLOSE_IN_ATTR: false,
  FORBID_TAGS,
  FORBID_ATTR,
  // DOM clobbering: no id/name survives (see FORBID_ATTR), and if one ever did it would be prefixed.
  SANITIZE_DOM: true,
  SANITIZE_NAMED_PROPS: true,
  KEEP_CONTENT: true,
  WHOLE_DOCUMENT: false,
  RETURN_DOM: false,
  RETURN_DOM_FRAGMENT: false,
};

/** Sanitize an HTML string with the widget's allow-list. */
export function sanitizeHtml(html: string): string {
  return getPurifier().sanitize(html, PURIFY_CONFIG) as string;
}

/** Render untrusted Markdown (a model reply) to sanitized HTML. */
export function renderMarkdown(text: string, i18n: I18n = EN): string {
  rendering = i18n;
  try {
    return sanitizeHtml(md.render(text, { i18n }));
  } finally {
    rendering = EN;
  }
}

// User messages are plain text, never Markdown: only their math is rendered. A parser with every rule off but the
// math rule splits the text into text and TeX; the text keeps every character and space (escaped), the TeX goes to
// KaTeX, and the whole goes through the same sanitizer.
const mathOnly = new MarkdownIt("zero");
mathOnly.inline.ruler.before("text", "nbchat_math", mathRule);
const MAYBE_MATH = /\$|\\\(|\\\[/;

/** A user message with its math rendered (sanitized HTML), or null when it has no math: show it as plain text. */
export function renderUserMath(text: string): string | null {
  if (!MAYBE_MATH.test(text)) return null;
  const children = mathOnly.parseInline(text, {})[0]?.children ?? [];
  if (!children.some((t: { type: string }) => t.type === "math")) return null;
  const html = children
    .map((t: { type: string; content: string; meta: unknown }) =>
      t.type === "math" ? renderTex(t.content, Boolean((t.meta as { display?: boolean } | null)?.display)) : escapeHtml(t.content),
    )
    .join("");
  return sanitizeHtml(html);
}
