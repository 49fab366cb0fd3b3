// Starter prompts, keyboard shortcuts, Export and ratings in the chat view (fake model; the browser tests drive
// the same in JupyterLab).
import { afterEach, describe, expect, it, vi } from "vitest";
import { I18n } from "../i18n";
import { renderMarkdown } from "../markdown";
import { placeholderRange } from "../prompts";
import { mountChat } from "../chat/widget";
import { FakeModel, message, mountPoint } from "./fake_model";
import { key, settle } from "./queries";

const view = mountPoint();

function mount(traits: ConstructorParameters<typeof FakeModel>[0] = {}): FakeModel {
  const model = new FakeModel(traits);
  view.keep(mountChat(model.asModel(), view.el));
  return model;
}

const byTestId = <T extends HTMLElement = HTMLButtonElement>(id: string): T => {
  const el = view.el.querySelector<T>(`[data-testid="${id}"]`);
  if (!el) throw new Error(`no [data-testid="${id}"]`);
  return el;
};
const box = () => byTestId<HTMLTextAreaElement>("nbchat-input");

describe("starter prompts", () => {
  it("finds the {…} placeholder to complete", () => {
    expect(placeholderRange("Explain {a concept} simply")).toEqual([8, 19]);
    expect(placeholderRange("解释{概念}")).toEqual([2, 6]);
    expect(placeholderRange("No placeholder")).toBeNull();
  });

  it("shows cards while the chat is empty; a click sends, a placeholder fills the box", () => {
    const model = mount({ prompts: ["What is a token?", "Explain {topic} simply"] });
    const cards = view.el.querySelector<HTMLElement>(".nbchat-prompts")!;
    expect(cards.hidden).toBe(false);
    byTestId("nbchat-prompt-0").click();
    expect(model.sent).toEqual([{ kind: "submit", text: "What is a token?" }]);

    byTestId("nbchat-prompt-1").click();
    expect(model.sent).toHaveLength(1); // filled, not sent
    expect(box().value).toBe("Explain {topic} simply");
    expect([box().selectionStart, box().selectionEnd]).toEqual([8, 15]);
    expect(document.activeElement).toBe(box());

    model.update({ _messages: [message("u1", "user", "What is a token?")] });
    expect(cards.hidden).toBe(true);
    model.update({ _messages: [] }); // Clear: the cards come back
    expect(cards.hidden).toBe(false);
  });

  it("cannot send while a reply is generating or the model is loading", () => {
    const model = mount({ prompts: ["Hi"], status: "loading" });
    expect(byTestId("nbchat-prompt-0").disabled).toBe(true);
    model.update({ status: "ready" });
    expect(byTestId("nbchat-prompt-0").disabled).toBe(false);
  });
});

describe("keyboard", () => {
  it("Esc stops the reply being generated, from anywhere in the chat", () => {
    const model = mount({ status: "generating" });
    const event = key(view.el.querySelector<HTMLElement>(".nbchat-messages")!, "Escape");
    expect(model.sent).toEqual([{ kind: "stop" }]);
    expect(event.defaultPrevented).toBe(true);
    model.update({ status: "ready" });
    key(box(), "Escape");
    expect(model.sent).toHaveLength(1); // nothing to stop
  });

  it("Esc that closes an editor does not also stop the reply", () => {
    const model = mount({ _messages: [message("u1", "user", "q"), message("a1", "assistant", "", { status: "streaming" })] });
    view.el.querySelector<HTMLButtonElement>('[data-action="edit"]')?.click();
    model.update({ status: "generating" });
    const editor = view.el.querySelector<HTMLTextAreaElement>(".nbchat-edit-input");
    expect(editor).not.toBeNull();
    key(editor!, "Escape");
    expect(view.el.querySelector(".nbchat-edit-input")).toBeNull(); // the editor closed
    expect(model.sent.filter((m) => m.kind === "stop")).toEqual([]);
    key(box(), "Escape"); // a second Esc stops the reply
    expect(model.sent.filter((m) => m.kind === "stop")).toEqual([{ kind: "stop" }]);
  });

  it("↑ in an empty box recalls the last question; not when the box has text", () => {
    const model = mount({ _messages: [message("u1", "user", "first"), message("a1", "assistant", "a"), message("u2", "user", "second")] });
    const up = key(box(), "ArrowUp");
    expect(up.defaultPrevented).toBe(true);
    expect(box().value).toBe("second");
    box().value = "draft";
    expect(key(box(), "ArrowUp").defaultPrevented).toBe(false);
    expect(box().value).toBe("draft");
    expect(model.sent).toEqual([]);
  });

  it("Ctrl+Enter and Cmd+Enter send a message of several lines, and do not reach the notebook", () => {
    const model = mount();
    const outside = vi.fn();
    document.addEventListener("keydown", outside);
    try {
      box().value = "line one\nline two";
      key(box(), "Enter", { ctrlKey: true });
      box().value = "again";
      key(box(), "Enter", { metaKey: true });
      expect(model.sent).toEqual([
        { kind: "submit", text: "line one\nline two" },
        { kind: "submit", text: "again" },
      ]);
      expect(outside).not.toHaveBeenCalled();
      key(box(), "Enter", { shiftKey: true });
      expect(model.sent).toHaveLength(2);
    } finally {
      document.removeEventListener("keydown", outside);
    }
  });

  it("lists the shortcuts in a help popover", () => {
    mount();
    const button = byTestId("nbchat-shortcuts");
    const panel = view.el.querySelector<HTMLElement>(".nbchat-shortcuts")!;
    expect(panel.hidden).toBe(true);
    button.click();
    expect(panel.hidden).toBe(false);
    expect(button.getAttribute("aria-expanded")).toBe("true");
    expect([...panel.querySelectorAll("kbd")].map((k) => k.textContent)).toEqual(["Enter", "Shift+Enter", "Ctrl+Enter", "Esc", "↑"]);
    key(panel, "Escape");
    expect(panel.hidden).toBe(true);
  });
});

describe("export", () => {
  afterEach(() => vi.restoreAllMocks());

  it("asks the kernel for the text and downloads what it answers", () => {
    const model = mount();
    const urls: Blob[] = [];
    URL.createObjectURL = vi.fn((blob: Blob) => {
      urls.push(blob);
      return "blob:nbchat-test";
    });
    URL.revokeObjectURL = vi.fn();
    const clicked: string[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    });
    byTestId("nbchat-export-json").click();
    expect(model.sent).toEqual([{ kind: "export", format: "json" }]);
    model.custom({ kind: "export", format: "json", text: '{"format": "nbchat.conversation"}', filename: "chat-x.json" });
    expect(clicked).toEqual(["chat-x.json"]);
    expect(urls[0].type).toBe("application/json");
    expect(view.el.querySelector("a[download]")).toBeNull(); // the link is gone again
  });

  it("copies the whole chat as Markdown", async () => {
    const model = mount();
    const writeText = vi.fn(async () => {});
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    byTestId("nbchat-export-copy").click();
    expect(model.sent).toEqual([{ kind: "export", format: "markdown" }]);
    model.custom({ kind: "export", format: "markdown", text: "**User:**\n\nhi\n", filename: "chat.md" });
    await settle();
    expect(writeText).toHaveBeenCalledWith("**User:**\n\nhi\n");
    expect(byTestId("nbchat-export-copy").textContent).toBe("Copied");
  });
});

describe("ratings", () => {
  it("thumbs send a rating, show it pressed, and open a comment form", () => {
    const model = mount({ _messages: [message("u1", "user", "q"), message("a1", "assistant", "answer")] });
    expect(view.el.querySelector('[data-id="u1"] [data-testid="nbchat-rate-up"]')).toBeNull(); // answers only
    byTestId("nbchat-rate-up").click();
    expect(model.sent).toEqual([{ kind: "feedback", id: "a1", rating: "up", comment: "" }]);
    const comment = byTestId<HTMLTextAreaElement>("nbchat-feedback-comment");
    comment.value = "Clear and short.";
    byTestId("nbchat-feedback-save").click();
    expect(model.sent[1]).toEqual({ kind: "feedback", id: "a1", rating: "up", comment: "Clear and short." });

    expect(view.el.querySelector(".nbchat-feedback-saved")).toBeNull(); // not before the kernel has it
    model.update({ _messages: [message("u1", "user", "q"), message("a1", "assistant", "answer", { feedback: { rating: "up", comment: "Clear and short." } })] });
    expect(view.el.querySelector(".nbchat-feedback-saved")?.textContent).toBe("Thanks, your feedback is saved.");
    expect(byTestId("nbchat-rate-up").getAttribute("aria-pressed")).toBe("true");
    expect(byTestId("nbchat-rate-down").getAttribute("aria-pressed")).toBe("false");
    byTestId("nbchat-rate-up").click(); // pressing it again takes the rating back
    expect(model.sent[2]).toEqual({ kind: "feedback", id: "a1", rating: null, comment: "Clear and short." });
  });

  it("cannot rate a reply while it streams, nor once the kernel is gone", () => {
    const model = mount({ _messages: [message("u1", "user", "q"), message("a1", "assistant", "", { status: "streaming" })] });
    expect(byTestId("nbchat-rate-up").disabled).toBe(true);
    model.update({ _messages: [message("u1", "user", "q"), message("a1", "assistant", "done")] });
    expect(byTestId("nbchat-rate-up").disabled).toBe(false);
    model.trigger("comm_live_update");
    expect(byTestId("nbchat-rate-up").disabled).toBe(true);
  });
});

describe("markdown in the view's language", () => {
  it("says in Chinese that an image was not loaded", () => {
    expect(renderMarkdown("![狮子](http://example.com/lion.png)", new I18n("zh"))).toContain("狮子（图片未加载）");
    expect(renderMarkdown("![](http://example.com/lion.png)", new I18n("zh"))).toContain("图片未加载");
    expect(renderMarkdown("![lion](http://example.com/lion.png)")).toContain("lion (image not loaded)");
    expect(renderMarkdown("```\na\u202Eb\n```", new I18n("zh"))).toContain("U+202E：不可见的控制字符（复制时会去掉）");
    expect(renderMarkdown("```\na\u202Eb\n```")).toContain("U+202E: an invisible control character (not copied)");
  });
});

describe("code blocks", () => {
  const samples: Record<string, string> = {
    python: "def f(x):\n    return x",
    r: "x <- c(1, 2)\nprint(mean(x))",
    sql: "SELECT name FROM t WHERE id = 1;",
    bash: "for f in *.txt; do echo $f; done",
    js: "const x = () => 1;",
    ts: "let n: number = 1;",
    html: "<div class=\"a\">hi</div>",
    css: "body { color: red; }",
    json: "{\"a\": 1}",
    yaml: "a: 1\nb: [x, y]",
    c: "int main(void) { return 0; }",
    cpp: "std::vector<int> v;",
    java: "public class A { }",
    go: "func main() { fmt.Println(1) }",
    rust: "fn main() { let x: i32 = 1; }",
    latex: "\\begin{equation} x^2 \\end{equation}",
  };
  it.each(Object.entries(samples))("highlights %s", async (lang, code) => {
    await new Promise((resolve) => setTimeout(resolve, 0)); // a new task: a fresh highlighting budget (markdown.ts)
    const html = renderMarkdown(`\`\`\`${lang}\n${code}\n\`\`\``);
    expect(html).toContain(`language-${lang}`);
    expect(html).toMatch(/class="hljs-[\w-]+"/);
  });
});
