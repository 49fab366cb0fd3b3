// The thinking block (thinking.ts in the message list) and math (KaTeX in markdown.ts).
import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../markdown";
import { MessageList } from "../chat/messages";
import { thinkingSummary } from "../thinking";
import type { ChatMessage } from "../types";

function reply(over: Partial<ChatMessage> = {}): ChatMessage {
  return { id: "a1", role: "assistant", content: "", reasoning: "", status: "streaming", error: null, stats: null, ...over };
}

function listWithManualFrames(): { list: MessageList; frame: () => void } {
  let pending: (() => void) | null = null;
  const list = new MessageList({
    schedule: (fn) => {
      pending = fn;
      return () => (pending = null);
    },
  });
  document.body.append(list.element);
  return { list, frame: () => { const fn = pending; pending = null; fn?.(); } };
}

describe("thinking block", () => {
  it("streams live, collapses when the answer starts, and can be opened again", () => {
    const { list, frame } = listWithManualFrames();
    list.setMessages([{ id: "u1", role: "user", content: "hi", status: "done", error: null, stats: null }, reply()]);
    list.applyDelta("a1", "", "Let me think about **lions**.");
    frame();
    const block = list.element.querySelector<HTMLDetailsElement>(".nbchat-thinking")!;
    expect(block.hidden).toBe(false);
    expect(block.open).toBe(true);
    expect(block.querySelector("summary")!.textContent).toBe("Thinking…");
    expect(block.querySelector(".nbchat-thinking-body strong")!.textContent).toBe("lions");
    list.applyDelta("a1", "Lions live in the savanna.");
    frame();
    expect(block.open).toBe(false);
    const stats = { thinking_s: 12.2, thinking_tokens: 840, ttft_s: 0.4, first_answer_s: 12.6 };
    list.setMessages([
      { id: "u1", role: "user", content: "hi", status: "done", error: null, stats: null },
      reply({ status: "done", content: "Lions live in the savanna.", reasoning: "Let me think about **lions**.", stats }),
    ]);
    expect(block.querySelector("summary")!.textContent).toBe("Thought for 12 s · 840 tokens");
    block.querySelector("summary")!.click();
    expect(block.open).toBe(true);
    list.element.remove();
  });

  it("keeps what was thought when stopped while thinking, marked stopped", () => {
    const { list, frame } = listWithManualFrames();
    list.setMessages([reply()]);
    list.applyDelta("a1", "", "step one, step two");
    frame();
    list.setMessages([reply({ status: "stopped", reasoning: "step one, step two", stats: { thinking_s: 3 } })]);
    const block = list.element.querySelector<HTMLDetailsElement>(".nbchat-thinking")!;
    expect(block.dataset.state).toBe("stopped");
    expect(block.open).toBe(true); // no answer to show instead: the thoughts stay open
    expect(block.querySelector("summary")!.textContent).toBe("Thinking stopped after 3 s");
    expect(block.querySelector(".nbchat-thinking-body")!.textContent).toContain("step one, step two");
    list.element.remove();
  });

  it("is sanitized like the answer", () => {
    const { list } = listWithManualFrames();
    list.setMessages([reply({ status: "done", reasoning: '<img src=x onerror=alert(1)> [x](javascript:alert(1)) <script>alert(1)</script>' })]);
    const body = list.element.querySelector(".nbchat-thinking-body")!;
    expect(body.querySelector("img, script, [onerror]")).toBeNull();
    expect(body.querySelector("a[href^='javascript']")).toBeNull();
    list.element.remove();
  });

  it("says estimated token counts with a tilde", () => {
    const summary = thinkingSummary({
      text: "x", streaming: false, answered: true, status: "done",
      stats: { thinking_s: 2, thinking_tokens: 5, thinking_tokens_estimated: true },
    });
    expect(summary).toBe("Thought for 2 s · ~5 tokens");
  });
});

describe("math", () => {
  it("renders the four delimiters as MathML and keeps the TeX source", () => {
    for (const [text, display] of [["$x^2$", false], ["\\(x^2\\)", false], ["$$x^2$$", true], ["\\[x^2\\]", true]] as const) {
      const html = renderMarkdown(`Area: ${text}.`);
      const root = document.createElement("div");
      root.innerHTML = html;
      const math = root.querySelector("math");
      expect(math, text).not.toBeNull();
      expect(root.querySelector(".katex-display") !== null, text).toBe(display);
      expect(root.querySelector("annotation")!.textContent).toBe("x^2");
    }
  });

  it("leaves currency, unclosed and escaped dollars as text", () => {
    for (const text of ["It costs $5 and $10.", "Half-written $x^", "between $ 5 $ signs"]) {
      const root = document.createElement("div");
      root.innerHTML = renderMarkdown(text);
      expect(root.querySelector("math"), text).toBeNull();
    }
    const root = document.createElement("div");
    root.innerHTML = renderMarkdown("Half-written $$\\frac{1}{");
    expect(root.querySelector("math")).toBeNull();
    expect(root.textContent).toContain("$$\\frac{1}{");
  });

  it("refuses hostile TeX: no link, no data attribute, no endless expansion", () => {
    const hostile = [
      "$\\href{javascript:alert(1)}{click}$",
      "$\\url{javascript:alert(1)}$",
      "$\\htmlData{foo=bar}{x}$",
      "$\\htmlClass{nbchat-send}{x}$",
      "$\\includegraphics{https://example.com/x.png}$",
      "$$\\def\\a{\\a\\a}\\a$$",
      "$$\\def\\b#1{#1#1#1#1#1#1#1#1}\\b{\\b{\\b{\\b{\\b{\\b{\\b{x}}}}}}}$$",
    ];
    for (const text of hostile) {
      const start = performance.now();
      const root = document.createElement("div");
      root.innerHTML = renderMarkdown(text);
      expect(performance.now() - start, text).toBeLessThan(200);
      expect(root.querySelector("a, img, [data-foo], [href], [src], [style]"), text).toBeNull();
      // the TeX source stays as text (copy keeps it); no attribute anywhere carries it
      const attributes = [...root.querySelectorAll("*")].flatMap((el) => [...el.attributes].map((a) => a.value));
      expect(attributes.join(" "), text).not.toContain("javascript:");
      expect(root.querySelector(".nbchat-send"), text).toBeNull();
    }
  });

  it("renders math in the thinking block and in user-facing answers alike", () => {
    const { list } = listWithManualFrames();
    list.setMessages([reply({ status: "done", content: "So $a+b$.", reasoning: "Since $a = 1$." })]);
    list.element.querySelector<HTMLElement>(".nbchat-thinking summary")!.click(); // collapsed: rendered when opened
    list.element.querySelector(".nbchat-thinking")!.dispatchEvent(new Event("toggle"));
    expect(list.element.querySelector(".nbchat-thinking-body math")).not.toBeNull();
    expect(list.element.querySelector(".nbchat-content math")).not.toBeNull();
    list.element.remove();
  });
});

describe("stats of a reasoning reply", () => {
  it("says when the answer began, marks estimates, shows a notice", () => {
    const { list } = listWithManualFrames();
    const stats = {
      tokens: 42, tokens_estimated: true, ttft_s: 0.2, first_answer_s: 3.5, thinking_s: 3.3, thinking_tokens: 30,
      notice: "thinking=True was not applied: SenseNova has no switch for thinking; the model decides.",
    };
    list.setMessages([reply({ status: "done", content: "ok", reasoning: "hm", stats })]);
    const line = list.element.querySelector(".nbchat-stats")!;
    expect(line.textContent).toBe("~42 tokens · TTFT 0.20 s · answer at 3.50 s");
    expect(line.getAttribute("title")).toContain("token counts estimated");
    expect(list.element.querySelector(".nbchat-note")!.textContent).toContain("SenseNova has no switch");
    list.element.remove();
  });
});

describe("details of a reasoning reply", () => {
  it("shows the thinking setting, how it reached the model, and the thinking figures", async () => {
    const { renderProvenance } = await import("../chat/provenance");
    const [list] = renderProvenance({
      backend: "openai", model: "deepseek-chat", system_prompt: "", messages: [], prompt: null,
      settings: { max_new_tokens: 256, temperature: 0.7, top_p: 1, stop: [], thinking: true },
      thinking_switch: "model choice: deepseek-reasoner (on) / deepseek-chat (off)",
      stats: { ttft_s: 0.3, first_answer_s: 9.5, thinking_s: 9.2, thinking_tokens: 840 },
    });
    const text = list.textContent ?? "";
    expect(text).toContain("Thinkingon (model choice: deepseek-reasoner (on) / deepseek-chat (off))");
    expect(text).toContain("Time thinking9.20 s · 840 tokens");
    expect(text).toContain("First answer token9.50 s");
  });
});

describe("math in user messages", () => {
  it("renders only the math; the rest stays plain text, every space and tag as typed", async () => {
    const { renderUserMath } = await import("../markdown");
    expect(renderUserMath("no math here, just **stars** and $5 and $10")).toBeNull();
    const root = document.createElement("div");
    root.innerHTML = renderUserMath("Why is  $e^{i\\pi} = -1$?\n<b>not bold</b> **not bold** \\[x\\]")!;
    expect(root.querySelectorAll("math").length).toBe(2);
    expect(root.querySelector("b, strong")).toBeNull();
    expect(root.textContent).toContain("Why is  ");
    expect(root.textContent).toContain("<b>not bold</b> **not bold**");
  });

  it("shows in the message list", () => {
    const { list } = listWithManualFrames();
    list.setMessages([{ id: "u1", role: "user", content: "Solve $x^2 = 4$ please", status: "done", error: null, stats: null }]);
    const content = list.element.querySelector('[data-role="user"] .nbchat-content')!;
    expect(content.querySelector("math annotation")!.textContent).toBe("x^2 = 4");
    list.element.remove();
  });
});

describe("thinking block cost", () => {
  it("renders collapsed thoughts only when opened", () => {
    let renders = 0;
    const list = new MessageList({ render: (t) => { renders += 1; return `<p>${t.length}</p>`; }, schedule: (fn) => { fn(); return () => {}; } });
    document.body.append(list.element);
    const many = Array.from({ length: 20 }, (_, i) => reply({ id: `a${i}`, status: "done", content: "answer", reasoning: `thought ${i}` }));
    list.setMessages(many);
    const answers = renders;
    expect(answers).toBe(20); // the answers; no thoughts yet
    list.element.querySelector<HTMLElement>(".nbchat-thinking summary")!.click();
    list.element.querySelector<HTMLDetailsElement>(".nbchat-thinking")!.dispatchEvent(new Event("toggle"));
    expect(renders).toBe(answers + 1);
    list.element.remove();
  });
});

describe("math and code", () => {
  it("leaves TeX in inline code and code blocks alone", () => {
    const root = document.createElement("div");
    root.innerHTML = renderMarkdown("Run `echo $HOME and $x$` then:\n\n```bash\nprice=$5; echo $x^2$\n```\n\nbut $x^2$ here.");
    expect(root.querySelectorAll("code math").length).toBe(0);
    expect(root.querySelector("code")!.textContent).toBe("echo $HOME and $x$");
    expect(root.querySelector("pre code")!.textContent).toContain("echo $x^2$");
    expect(root.querySelectorAll("p math").length).toBe(1);
  });
});
