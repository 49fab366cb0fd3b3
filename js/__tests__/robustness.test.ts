// Long messages, a kernel that goes away, refused sends, odd text: the view
// stays responsive, says what happened, and loses nothing.
import { describe, expect, it, vi } from "vitest";
import { FRAME_CHARS, MARKDOWN_MAX, WHOLE_MAX, blockBoundaries, chunkEnds, formatSize } from "../chunks";
import { USER_PREVIEW, USER_WHOLE_MAX } from "../chat/messages";
import { renderMarkdown } from "../markdown";
import { mountChat } from "../chat/widget";
import { FakeModel, manualFrames, message, mountPoint } from "./fake_model";

const view = mountPoint({ teardown: () => vi.useRealTimers() });

function mount(model: FakeModel) {
  const frames = manualFrames();
  const render = vi.fn(renderMarkdown);
  view.keep(mountChat(model.asModel(), view.el, { render, schedule: frames.schedule }));
  return { frames, render };
}

const node = (id: string) => view.el.querySelector<HTMLElement>(`[data-id="${id}"]`)!;
const content = (id: string) => node(id).querySelector<HTMLElement>(".nbchat-content")!;
const button = (name: string) => [...view.el.querySelectorAll("button")].find((b) => b.textContent === name)!;
const box = () => view.el.querySelector<HTMLTextAreaElement>('[aria-label="Message"]')!;

function paragraphs(chars: number): string {
  let text = "";
  for (let i = 0; text.length < chars; i++) text += `Paragraph ${i} with **bold** text and \`code\`.\n\n`;
  return text;
}

describe("block boundaries", () => {
  it("splits at blank lines before unindented lines, never inside fenced code or indented blocks", () => {
    const text = "# Title\n\npara one\n\n```\ncode\n\nmore code\n```\n\n- item\n\n    indented code\n\nlast";
    const cuts = blockBoundaries(text).map((i) => text.slice(i, i + 6));
    expect(cuts).toEqual(["para o", "```\nco", "- item", "last"]);
  });

  it("knows ~~~ fences and longer closing fences", () => {
    const text = "~~~\na\n\nb\n~~~~\n\nafter";
    expect(blockBoundaries(text).map((i) => text.slice(i))).toEqual(["after"]);
  });

  it("cuts chunks of at least the minimum size, the last one to the end", () => {
    const text = paragraphs(50_000);
    const ends = chunkEnds(text, 0, 4000);
    expect(ends[ends.length - 1]).toBe(text.length);
    let start = 0;
    for (const end of ends.slice(0, -1)) {
      expect(end - start).toBeGreaterThanOrEqual(4000);
      start = end;
    }
  });

  it("formats sizes", () => {
    expect([formatSize(12), formatSize(48_200), formatSize(1_048_576)]).toEqual(["12 characters", "48 kB", "1.0 MB"]);
  });
});

describe("long replies", () => {
  it("renders a committed 300 kB reply in frames of bounded work, ending with all of it", () => {
    const text = paragraphs(300_000);
    const model = new FakeModel({ _messages: [message("a1", "assistant", text)] });
    const { frames, render } = mount(model);
    let rounds = 0;
    let biggest = Math.max(0, ...render.mock.calls.map((c) => c[0].length));
    while (frames.pending && rounds < 500) {
      render.mockClear();
      frames.run();
      const work = render.mock.calls.reduce((n, c) => n + c[0].length, 0);
      expect(work).toBeLessThanOrEqual(FRAME_CHARS + 8000);
      biggest = Math.max(biggest, work);
      rounds += 1;
    }
    expect(frames.pending).toBe(0);
    expect(rounds).toBeGreaterThan(10);
    expect(content("a1").querySelector(".nbchat-rendering")).toBeNull();
    expect(content("a1").querySelectorAll("p").length).toBe(text.split("\n\n").length - 1);
    expect(content("a1").textContent?.length).toBeGreaterThan(0.8 * text.length);
  }, 60_000);

  it("re-renders only the tail of a long streaming reply", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "go"), message("a1", "assistant", "", { status: "streaming" })], status: "generating" });
    const { frames, render } = mount(model);
    const text = paragraphs(120_000);
    const sizes: number[] = [];
    for (let at = 0; at < text.length; at += 3000) {
      render.mockClear();
      model.custom({ kind: "delta", id: "a1", text: text.slice(at, at + 3000) });
      frames.run();
      sizes.push(render.mock.calls.reduce((n, c) => n + c[0].length, 0));
    }
    // per frame: the new chunk and the tail, never the whole reply
    expect(Math.max(...sizes.slice(10))).toBeLessThan(WHOLE_MAX + 8000);
    expect(content("a1").querySelector(".nbchat-typing")).not.toBeNull();
    model.update({ _messages: [message("u1", "user", "go"), message("a1", "assistant", text)], status: "ready" });
    while (frames.pending) frames.run();
    expect(content("a1").querySelector(".nbchat-typing")).toBeNull();
    expect(content("a1").querySelectorAll("p").length).toBe(text.split("\n\n").length - 1);
  }, 60_000);

  it("shows one huge code block as plain text that still scrolls sideways", () => {
    const code = "```python\n" + "x = 1  # a long line of code ".repeat(5) + "\n".repeat(1) + "y = 2\n".repeat(MARKDOWN_MAX / 4) + "```\n";
    const model = new FakeModel({ _messages: [message("a1", "assistant", code)] });
    const { frames, render } = mount(model);
    while (frames.pending) frames.run();
    expect(render).not.toHaveBeenCalledWith(code);
    const pre = content("a1").querySelector("pre");
    expect(pre?.classList.contains("nbchat-plain-chunk")).toBe(true);
    // the code between the fences, with its language, and a Copy button that takes exactly that code
    const body = code.slice("```python\n".length, -"```\n".length);
    expect(pre?.textContent).toBe(body);
    expect(pre?.querySelector("code")?.className).toBe("language-python");
    expect(pre?.parentElement?.querySelector(".nbchat-code-copy")?.textContent).toBe("Copy code");
  });
});

describe("long user messages", () => {
  it("show their start and a 'Show all' button; Copy and the button give everything", () => {
    const text = "pasted line\n".repeat(Math.ceil((USER_WHOLE_MAX + 10) / 12));
    mount(new FakeModel({ _messages: [message("u1", "user", text)] }));
    const shown = content("u1");
    expect(shown.textContent!.length).toBeLessThan(USER_PREVIEW + 100);
    const all = shown.querySelector<HTMLButtonElement>(".nbchat-show-all")!;
    expect(all.textContent).toBe(`Show all (${formatSize(text.length)})`);
    all.click();
    expect(content("u1").textContent).toBe(text);
  });
});

describe("a kernel that goes away", () => {
  it("keeps the chat readable, shows a banner and disables sending", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "hi"), message("a1", "assistant", "hello")] });
    mount(model);
    const banner = view.el.querySelector<HTMLElement>(".nbchat-disconnected")!;
    expect(banner.hidden).toBe(true);
    box().value = "draft";
    model.trigger("comm_live_update");
    expect(banner.hidden).toBe(false);
    expect(banner.getAttribute("role")).toBe("alert");
    expect(banner.textContent).toContain("run the cell again");
    expect(view.el.querySelector<HTMLElement>(".nbchat")!.dataset.connected).toBe("false");
    expect(view.el.querySelector(".nbchat-status-text")?.textContent).toBe("disconnected");
    expect(button("Send").disabled).toBe(true);
    expect(button("Clear").disabled).toBe(true);
    expect(box().readOnly).toBe(true);
    expect(box().value).toBe("draft");
    box().dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    button("Send").click();
    expect(model.sent).toEqual([]);
    expect(content("a1").textContent?.trim()).toBe("hello");
    expect(node("u1").querySelector<HTMLButtonElement>('[data-action="edit"]')!.disabled).toBe(true);
    expect(node("a1").querySelector<HTMLButtonElement>('[data-action="copy"]')!.disabled).toBe(false);
    for (const input of view.el.querySelectorAll<HTMLInputElement>(".nbchat-options input, .nbchat-options textarea")) {
      expect(input.disabled).toBe(true);
    }
    // a status change arriving late does not re-enable anything
    model.update({ status: "ready" });
    expect(button("Send").disabled).toBe(true);
    expect(view.el.querySelector(".nbchat-status-text")?.textContent).toBe("disconnected");
  });

  it("also on comm:close", () => {
    const model = new FakeModel();
    mount(model);
    model.trigger("comm:close");
    expect(view.el.querySelector<HTMLElement>(".nbchat-disconnected")!.hidden).toBe(false);
  });
});

describe("refused sends", () => {
  it("put the text back in the box with the notice", () => {
    const model = new FakeModel();
    mount(model);
    box().value = "";
    model.custom({ kind: "notice", level: "warning", text: "A reply is still being generated", restore: "my question" });
    expect(box().value).toBe("my question");
    expect(view.el.querySelector(".nbchat-notice")?.textContent).toContain("still being generated");
    // typed something new meanwhile: both kept, the refused text first
    box().value = "newer";
    model.custom({ kind: "notice", level: "warning", text: "busy", restore: "older" });
    expect(box().value).toBe("older\nnewer");
    model.custom({ kind: "notice", level: "warning", text: "busy", restore: "older" });
    expect(box().value).toBe("older\nnewer");
  });

  it("double-click and Enter twice send one message", () => {
    const model = new FakeModel();
    mount(model);
    box().value = "once";
    button("Send").click();
    button("Send").click();
    box().dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true }));
    expect(model.sent).toEqual([{ kind: "submit", text: "once" }]);
  });
});

describe("odd text", () => {
  it("isolates direction controls in their bubble and round-trips control characters, emoji and CJK", () => {
    const texts = ["\u202eevil override", "emoji 🦁👩‍🔬 CJK 你好 한국어", "ctrl \u0007\u001b[31m\u0000 end"];
    mount(new FakeModel({ _messages: texts.flatMap((t, i) => [message(`u${i}`, "user", t), message(`a${i}`, "assistant", t)]) }));
    texts.forEach((t, i) => {
      expect(content(`u${i}`).textContent).toBe(t);
      expect(content(`u${i}`).getAttribute("dir")).toBe("auto");
      expect(content(`a${i}`).getAttribute("dir")).toBe("auto");
    });
    expect(content("a1").textContent).toContain("🦁👩‍🔬 CJK 你好 한국어");
  });

  it("marks a failed reply that kept text as incomplete", () => {
    mount(new FakeModel({ _messages: [message("a1", "assistant", "half a rep", { status: "error", error: "The connection broke." })] }));
    expect(node("a1").querySelector(".nbchat-badge")?.textContent).toBe("incomplete");
    expect(node("a1").querySelector('[role="alert"]')?.textContent).toBe("The connection broke.");
  });
});
