import { afterEach, describe, expect, it } from "vitest";
import { INSERT_EVENT, cellFor, readRequest } from "../../labextension/src/cell";
import { addCodeButtons, cellsAvailable, codeLanguage, requestCell } from "../cells";
import { mountChat } from "../chat/widget";
import { I18n } from "../i18n";
import { FakeModel, manualFrames, message, mountPoint } from "./fake_model";

const view = mountPoint({ teardown: () => delete document.body.dataset.nbchatCells });
const reply = "Run:\n\n```python\nprint('hi')\n```\n\nthen\n\n```bash\nls\n```";

function mountReply(content = reply): HTMLElement {
  const model = new FakeModel({ _messages: [message("a1", "assistant", content)] });
  view.keep(mountChat(model.asModel(), view.el, { schedule: manualFrames().schedule }));
  return view.el.querySelector<HTMLElement>('[data-id="a1"]')!;
}

const labels = (root: ParentNode) => [...root.querySelectorAll("button")].map((b) => b.textContent);

/** Every `nbchat:insert-cell` event that reaches the document while `run` runs. */
function events(run: () => void): CustomEvent[] {
  const seen: CustomEvent[] = [];
  const listener = (event: Event) => seen.push(event as CustomEvent);
  document.addEventListener(INSERT_EVENT, listener);
  try {
    run();
  } finally {
    document.removeEventListener(INSERT_EVENT, listener);
  }
  return seen;
}

describe("insert buttons", () => {
  afterEach(() => delete document.body.dataset.nbchatCells);

  it("are not shown where no extension marked the page: Copy stays alone", () => {
    expect(cellsAvailable()).toBe(false);
    const node = mountReply();
    expect(labels(node).filter((l) => l === "Copy code")).toHaveLength(2);
    expect(labels(node)).not.toContain("Insert below");
    expect(labels(node)).not.toContain("Replace active cell");
    expect(node.querySelector(".nbchat-code-cell")).toBeNull();
    expect(node.querySelector(".nbchat-code-tools")).toBeNull();
  });

  it("are shown beside Copy on every code block where the page is marked", () => {
    document.body.dataset.nbchatCells = "1";
    const node = mountReply();
    const tools = [...node.querySelectorAll(".nbchat-code-tools")];
    expect(tools).toHaveLength(2);
    for (const box of tools) expect(labels(box)).toEqual(["Insert below", "Replace active cell", "Copy code"]);
    const below = tools[0].querySelector<HTMLButtonElement>('[data-mode="below"]')!;
    expect(below.title).toContain("below the cell that holds the chat");
    // the buttons are beside the code, never part of its text
    for (const pre of node.querySelectorAll("pre")) expect(pre.querySelector("button")).toBeNull();
  });

  it("are labelled in the widget's language", () => {
    document.body.dataset.nbchatCells = "1";
    const root = document.createElement("div");
    root.innerHTML = "<pre><code>x = 1\n</code></pre>";
    addCodeButtons(root, new I18n("zh"));
    expect(labels(root)).toEqual(["插入到下方", "替换当前单元格", "复制代码"]);
    expect(root.querySelector<HTMLButtonElement>('[data-mode="below"]')!.title).toContain("聊天所在单元格下方");
  });

  it("do nothing on a click that is not the user's (untrusted): no event leaves the widget", () => {
    document.body.dataset.nbchatCells = "1";
    const node = mountReply();
    const buttons = [...node.querySelectorAll<HTMLButtonElement>(".nbchat-code-cell")];
    expect(buttons).toHaveLength(4);
    const seen = events(() => {
      for (const button of buttons) {
        button.click(); // a script's click: isTrusted is false
        button.dispatchEvent(new MouseEvent("click", { bubbles: true }));
      }
    });
    expect(seen).toEqual([]);
    for (const button of buttons) expect(button.dataset.flash).toBeUndefined();
  });

  it("adds the buttons once however often a block is decorated again", () => {
    document.body.dataset.nbchatCells = "1";
    const root = document.createElement("div");
    root.innerHTML = "<pre><code>x = 1\n</code></pre>";
    addCodeButtons(root);
    addCodeButtons(root);
    expect(root.querySelectorAll(".nbchat-code-cell")).toHaveLength(2);
    expect(root.querySelectorAll(".nbchat-code-copy")).toHaveLength(1);
  });
});

describe("the request a real click sends", () => {
  it("carries the text Copy would copy, the fence language and the mode; handled means preventDefault", () => {
    const root = document.createElement("div");
    root.innerHTML = '<pre><code class="language-python">x = "a\u202Eb"\n</code></pre>';
    document.body.append(root);
    const code = root.querySelector("code")!;
    expect(codeLanguage(code)).toBe("python");
    const seen = events(() => expect(requestCell(root, code, "below")).toBe(false));
    expect(seen).toHaveLength(1);
    expect(seen[0].detail).toEqual({ text: 'x = "ab"\n', language: "python", mode: "below" });
    expect(seen[0].bubbles).toBe(true);
    const handler = (event: Event) => event.preventDefault();
    document.addEventListener(INSERT_EVENT, handler);
    expect(requestCell(root, code, "replace")).toBe(true);
    document.removeEventListener(INSERT_EVENT, handler);
    root.remove();
  });
});

describe("the extension's reading of a request", () => {
  it("takes exactly {text, language, mode} with strings and a known mode", () => {
    expect(readRequest({ text: "x", language: "py", mode: "below" })).toEqual({ text: "x", language: "py", mode: "below" });
    expect(readRequest({ text: "x", language: "py", mode: "run" })).toBeNull();
    expect(readRequest({ text: { toString: () => "x" }, language: "py", mode: "below" })).toBeNull();
    expect(readRequest({ text: "x", mode: "replace" })).toBeNull();
    expect(readRequest("x")).toBeNull();
    expect(readRequest(null)).toBeNull();
  });

  it("maps the fence language to the cell: markdown cell, %%bash, else the text as it is", () => {
    expect(cellFor("print(1)\n", "python")).toEqual({ cell_type: "code", source: "print(1)" });
    expect(cellFor("# Title\n", "Markdown")).toEqual({ cell_type: "markdown", source: "# Title" });
    expect(cellFor("ls -l\n", "bash")).toEqual({ cell_type: "code", source: "%%bash\nls -l" });
    expect(cellFor("ls\n", "sh")).toEqual({ cell_type: "code", source: "%%bash\nls" });
    expect(cellFor("%%bash\nls\n", "bash")).toEqual({ cell_type: "code", source: "%%bash\nls" });
    // never a magic that would run a model's HTML or JavaScript in the page
    expect(cellFor("<script>alert(1)</script>\n", "html")).toEqual({ cell_type: "code", source: "<script>alert(1)</script>" });
    expect(cellFor("alert(1)\n", "javascript")).toEqual({ cell_type: "code", source: "alert(1)" });
    expect(cellFor("x\n\n", "")).toEqual({ cell_type: "code", source: "x\n" });
  });
});
