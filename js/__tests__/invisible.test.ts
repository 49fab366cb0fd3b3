import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { addCodeCopyButtons, codeToCopy } from "../clipboard";
import { INVISIBLE, markInvisible, stripInvisible } from "../invisible";
import { HIGHLIGHT_BUDGET, renderMarkdown } from "../markdown";

const RLO = "\u202E";
const LRI = "\u2066";
const PDI = "\u2069";
const TAG_I = "\u{E0069}";

function rendered(markdown: string): HTMLElement {
  const host = document.createElement("div");
  host.innerHTML = renderMarkdown(markdown);
  addCodeCopyButtons(host);
  document.body.append(host);
  return host;
}

// the highlighting budget is per task: start each test in a new one
beforeEach(async () => await new Promise((resolve) => setTimeout(resolve, 0)));

afterEach(() => {
  document.body.replaceChildren();
  vi.restoreAllMocks();
});

describe("invisible characters in code", () => {
  it("covers bidi controls, isolates, marks and tag characters, and nothing else", () => {
    for (const cp of [0x202a, 0x202b, 0x202c, 0x202d, 0x202e, 0x2066, 0x2067, 0x2068, 0x2069, 0xe0000, 0xe007f]) {
      expect(String.fromCodePoint(cp).match(INVISIBLE), cp.toString(16)).not.toBeNull();
    }
    for (const text of ["plain ascii", "émoji 👩‍💻 and CJK 漢字", "arabic مرحبا", "\u200D"]) {
      expect(text.match(INVISIBLE)).toBeNull();
    }
  });

  it("marks each one visibly in a code block, in every language", () => {
    for (const fence of ["js", "python", "unknown-lang", ""]) {
      const host = rendered(`\`\`\`${fence}\nif (role !== "user${RLO} ${LRI}// admin${PDI} ${LRI}") {}${TAG_I}\n\`\`\``);
      const code = host.querySelector("pre code");
      const badges = [...(code?.querySelectorAll(".nbchat-invisible") ?? [])].map((b) => b.textContent);
      expect(badges).toEqual(["U+202E", "U+2066", "U+2069", "U+2066", "U+E0069"]);
      expect(code?.textContent?.match(INVISIBLE)).toBeNull(); // the characters themselves no longer act on the text
    }
  });

  it("Copy code leaves them out and says so", async () => {
    const writeText = vi.fn(async () => undefined);
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const host = rendered(`\`\`\`js\nlet a = "x${RLO}y";${TAG_I}\n\`\`\``);
    const button = host.querySelector<HTMLButtonElement>(".nbchat-code-copy");
    button?.click();
    await vi.waitFor(() => expect(writeText).toHaveBeenCalled());
    expect(writeText).toHaveBeenCalledWith('let a = "xy";\n');
    await vi.waitFor(() => expect(button?.textContent).toBe("Copied (2 invisible characters left out)"));
  });

  it("strips characters that arrived without a badge too", () => {
    const code = document.createElement("code");
    code.textContent = `a${RLO}b${TAG_I}c`;
    expect(codeToCopy(code)).toEqual({ text: "abc", removed: 2 });
    expect(stripInvisible("clean")).toEqual({ text: "clean", removed: 0 });
    expect(markInvisible(`x${RLO}`)).toContain('class="nbchat-invisible"');
  });
});

describe("highlighting budget", () => {
  it("is a constant: pieces of whole lines, a time budget per task", () => {
    expect(HIGHLIGHT_BUDGET).toEqual({ ms: 25, pieceChars: 1_000, lineChars: 1_000, blockChars: 20_000 });
  });

  it("shows a line longer than the budget, and everything after it, as plain code", async () => {
    for (const lang of ["cpp", "java", "typescript"]) {
      await new Promise((resolve) => setTimeout(resolve, 0)); // each in a task of its own (a fresh budget)
      const body = `return 1;\n${"a ".repeat(4_000)}\nreturn 0;`; // a pathological 8 kB line
      const code = rendered(`\`\`\`${lang}\n${body}\n\`\`\``).querySelector("pre code");
      expect(code?.textContent).toBe(`${body}\n`); // every character is there
      const marked = [...(code?.querySelectorAll("[class^=hljs-]") ?? [])].map((s) => s.textContent);
      expect(marked, lang).toEqual(["return", "1"]); // the lines before it are highlighted, the long one and after not
    }
  });

  it("stops highlighting when the task's time budget is spent, in every block, and resumes in the next task", async () => {
    let clock = 0;
    vi.spyOn(performance, "now").mockImplementation(() => {
      clock += 7; // every piece "takes" 7 ms: the budget (25 ms) lasts a few pieces
      return clock;
    });
    const line = `int f${"x".repeat(150)}(int a) { return a; }\n`;
    const body = line.repeat(100); // ~18 kB (under blockChars), 18 pieces
    const first = rendered(`\`\`\`cpp\n${body}\`\`\`\n\n\`\`\`python\ndef g(): pass\n\`\`\``);
    const [big, small] = first.querySelectorAll("pre code");
    expect(big?.textContent).toBe(body);
    const highlighted = big?.querySelectorAll(".hljs-keyword").length ?? 0;
    expect(highlighted).toBeGreaterThan(0); // the first pieces
    expect(highlighted).toBeLessThan(100); // not all of them
    expect(small?.querySelector(".hljs-keyword")).toBeNull(); // the budget is the task's, not the block's
    await new Promise((resolve) => setTimeout(resolve, 0));
    const next = rendered("```python\ndef g(): pass\n```");
    expect(next.querySelector(".hljs-keyword")?.textContent).toBe("def");
  });

  it("shows a block over blockChars as plain code and highlights ordinary code", () => {
    const huge = `x = 1\n`.repeat(HIGHLIGHT_BUDGET.blockChars / 6 + 1);
    const fence = rendered(`\`\`\`cpp\n${"a ".repeat(24_500)}\n\`\`\``).querySelector("pre code"); // the issue's
    expect(fence?.querySelector("[class^=hljs-]")).toBeNull();
    expect(fence?.textContent).toBe(`${"a ".repeat(24_500)}\n`);
    expect(rendered(`\`\`\`python\n${huge}\`\`\``).querySelector("[class^=hljs-]")).toBeNull();
    const small = rendered("```python\ndef f():\n    return 1\n```");
    expect(small.querySelector(".hljs-keyword")?.textContent).toBe("def");
  });
});
