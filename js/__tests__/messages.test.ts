import { describe, expect, it, vi } from "vitest";
import { renderMarkdown } from "../markdown";
import { mountChat } from "../chat/widget";
import { FakeModel, manualFrames, message, mountPoint } from "./fake_model";

const view = mountPoint();

function mount(model: FakeModel) {
  const frames = manualFrames();
  const render = vi.fn(renderMarkdown);
  view.keep(mountChat(model.asModel(), view.el, { render, schedule: frames.schedule }));
  return { frames, render };
}

const node = (id: string) => view.el.querySelector<HTMLElement>(`[data-id="${id}"]`);
const content = (id: string) => node(id)?.querySelector(".nbchat-content")?.textContent?.trim() ?? null;

const streaming = (id: string, content = "") => message(id, "assistant", content, { status: "streaming" });

describe("message list", () => {
  it("renders one node per committed message, with role, id and status", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi *there*"), message("a1", "assistant", "Hello **you**")] });
    mount(model);
    const log = view.el.querySelector('[role="log"]');
    expect(log?.classList.contains("nbchat-messages")).toBe(true);
    expect(log?.getAttribute("aria-live")).toBe("polite");
    const nodes = view.el.querySelectorAll("[data-role]");
    expect([...nodes].map((n) => n.getAttribute("data-role"))).toEqual(["user", "assistant"]);
    expect(node("u1")?.dataset.status).toBe("done");
    // User text is plain text; the reply is markdown.
    expect(content("u1")).toBe("Hi *there*");
    expect(node("a1")?.querySelector("strong")?.textContent).toBe("you");
  });

  it("never sets user text as HTML", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "<img src=x onerror=alert(1)>\n  indented")] });
    mount(model);
    expect(node("u1")?.querySelector("img")).toBeNull();
    expect(content("u1")).toBe("<img src=x onerror=alert(1)>\n  indented");
  });

  it("appends deltas to the streaming message and shows a typing indicator", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi"), streaming("a1")], status: "generating" });
    const { frames } = mount(model);
    expect(node("a1")?.querySelector(".nbchat-typing")).not.toBeNull();
    expect(node("a1")?.getAttribute("aria-busy")).toBe("true");
    model.custom({ kind: "delta", id: "a1", text: "Hello" });
    model.custom({ kind: "delta", id: "a1", text: ", world" });
    frames.run();
    expect(content("a1")).toBe("Hello, world");
    expect(node("a1")?.querySelector(".nbchat-typing")).not.toBeNull();
    expect(node("a1")?.querySelector(".nbchat-stats")).toBeNull();
  });

  it("renders 50 deltas in one frame with a single markdown render", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi"), message("a0", "assistant", "Earlier"), streaming("a1")] });
    const { frames, render } = mount(model);
    render.mockClear();
    for (let i = 0; i < 50; i++) model.custom({ kind: "delta", id: "a1", text: `t${i} ` });
    expect(render).not.toHaveBeenCalled();
    expect(frames.pending).toBe(1);
    frames.run();
    expect(render).toHaveBeenCalledTimes(1);
    expect(render.mock.calls[0][0]).toBe(Array.from({ length: 50 }, (_, i) => `t${i} `).join(""));
    expect(frames.pending).toBe(0);
  });

  it("keeps earlier nodes (same DOM objects) across deltas and added messages", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi"), message("a1", "assistant", "Hello")] });
    const { frames, render } = mount(model);
    const [u1, a1] = [node("u1"), node("a1")];
    const a1Content = a1?.querySelector(".nbchat-content")?.innerHTML;
    render.mockClear();

    model.update({ _messages: [...model.state._messages, message("u2", "user", "More"), streaming("a2")] });
    for (let i = 0; i < 5; i++) model.custom({ kind: "delta", id: "a2", text: "x" });
    frames.run();

    expect(node("u1")).toBe(u1);
    expect(node("a1")).toBe(a1);
    expect(node("a1")?.querySelector(".nbchat-content")?.innerHTML).toBe(a1Content);
    // Only the streaming reply was rendered: never the earlier one.
    expect(render.mock.calls.map((call) => call[0])).toEqual(["xxxxx"]);
    expect([...view.el.querySelectorAll("[data-id]")].map((n) => n.getAttribute("data-id"))).toEqual(["u1", "a1", "u2", "a2"]);
  });

  it("commits the reply: final text, stats line, no typing indicator", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi"), streaming("a1")] });
    const { frames } = mount(model);
    model.custom({ kind: "delta", id: "a1", text: "Hel" });
    frames.run();
    const a1 = node("a1");
    const stats = { tokens: 42, ttft_s: 0.314, tokens_per_s: 28.43, duration_s: 1.8, prompt_tokens: null, finish_reason: "stop" };
    model.update({ _messages: [message("u1", "user", "Hi"), message("a1", "assistant", "Hello", { stats })] });
    expect(node("a1")).toBe(a1);
    expect(a1?.dataset.status).toBe("done");
    expect(content("a1")).toBe("Hello");
    expect(a1?.querySelector(".nbchat-typing")).toBeNull();
    expect(a1?.hasAttribute("aria-busy")).toBe(false);
    expect(a1?.querySelector(".nbchat-stats")?.textContent).toBe("42 tokens · TTFT 0.31 s · 28.4 tok/s");
    // A late delta after the commit changes nothing.
    model.custom({ kind: "delta", id: "a1", text: "!!!" });
    frames.run();
    expect(content("a1")).toBe("Hello");
  });

  it("omits missing stats and reports messages left out of the context", () => {
    const stats = { tokens: 7, ttft_s: null, tokens_per_s: null, left_out: 3 };
    const model = new FakeModel({ _messages: [message("a1", "assistant", "ok", { stats })] });
    mount(model);
    expect(node("a1")?.querySelector(".nbchat-stats")?.textContent).toBe(
      "7 tokens · 3 earlier messages left out to fit the context window",
    );
  });

  it("shows a 'stopped' badge and an 'incomplete' badge", () => {
    const model = new FakeModel({
      _messages: [
        message("a1", "assistant", "Partial", { status: "stopped", stats: { tokens: 3 } }),
        message("a2", "assistant", "Cut", { status: "incomplete" }),
      ],
    });
    mount(model);
    expect(node("a1")?.querySelector(".nbchat-badge")?.textContent).toBe("stopped");
    expect(content("a1")).toBe("Partial");
    expect(node("a2")?.querySelector(".nbchat-badge")?.textContent).toBe("incomplete");
  });

  it("shows the explanation of an incomplete reply as a note, not an alert", () => {
    const model = new FakeModel({
      _messages: [message("a1", "assistant", "Cut", { status: "incomplete", error: "The stream ended early." })],
    });
    mount(model);
    expect(node("a1")?.querySelector(".nbchat-note")?.textContent).toBe("The stream ended early.");
    expect(node("a1")?.querySelector(".nbchat-error")).toBeNull();
    model.update({ _messages: [message("a1", "assistant", "Cut", { status: "done" })] });
    expect(node("a1")?.querySelector(".nbchat-note")).toBeNull();
  });

  it("shows an error box with the partial text", () => {
    const model = new FakeModel({
      _messages: [message("a1", "assistant", "Half an ans", { status: "error", error: "Connection reset by peer" })],
    });
    mount(model);
    const box = node("a1")?.querySelector(".nbchat-error");
    expect(box?.getAttribute("role")).toBe("alert");
    expect(box?.textContent).toBe("Connection reset by peer");
    expect(content("a1")).toBe("Half an ans");
  });

  const refused = {
    error:
      "Could not connect to http://127.0.0.1:9/v1 (connection refused). Check that the server is running and that the URL (usually ending in /v1) is right, then send again.",
    error_i18n: { key: "py.err.connect", params: { where: "http://127.0.0.1:9/v1", cause: "connection refused" } },
  };

  it("shows a failed reply's error in the view's language from its key and parameters", () => {
    const model = new FakeModel({ lang: "zh", _messages: [message("a1", "assistant", "", { status: "error", ...refused })] });
    mount(model);
    expect(node("a1")?.querySelector(".nbchat-error")?.textContent).toBe(
      "无法连接到 http://127.0.0.1:9/v1（connection refused）。请确认服务器已经启动，并且 URL 正确（通常以 /v1 结尾），然后重新发送。",
    );
  });

  it("shows the English text as written in an English view", () => {
    const en = new FakeModel({ lang: "en", _messages: [message("a1", "assistant", "", { status: "error", ...refused })] });
    mount(en);
    expect(node("a1")?.querySelector(".nbchat-error")?.textContent).toBe(refused.error);
  });

  it("falls back to the English text for a key this catalogue lacks", () => {
    const unknown = { key: "py.err.fromANewerKernel", params: { where: "x" } };
    const zh = new FakeModel({
      lang: "zh",
      _messages: [message("a2", "assistant", "", { status: "error", error: "A newer kernel's error.", error_i18n: unknown })],
    });
    mount(zh);
    expect(node("a2")?.querySelector(".nbchat-error")?.textContent).toBe("A newer kernel's error.");
  });

  it("fills nested keys: a retried error with its own key, the note of an incomplete reply", () => {
    const tried = {
      key: "py.err.tried",
      params: { where: "http://h/v1", status: "502", detail: "Bad gateway", n: "3", error: "…", error_key: "py.err.gateway" },
    };
    const model = new FakeModel({
      lang: "zh",
      _messages: [
        message("a1", "assistant", "", { status: "error", error: "… (Tried 3 times.)", error_i18n: tried }),
        message("a2", "assistant", "Cut", { status: "incomplete", error: "The reply ended…", error_i18n: { key: "py.err.incomplete", params: {} } }),
      ],
    });
    mount(model);
    const box = node("a1")?.querySelector(".nbchat-error")?.textContent ?? "";
    expect(box.startsWith("http://h/v1 返回 HTTP 502（Bad gateway）：")).toBe(true);
    expect(box.endsWith("（共尝试了 3 次。）")).toBe(true);
    expect(box).not.toMatch(/\{\w+\}/);
    expect(node("a2")?.querySelector(".nbchat-note")?.textContent).toBe("回复没有正常结束（缺少 finish reason），内容可能被截断了。请重新发送。");
  });

  it("removes every node after Clear (empty array)", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi"), message("a1", "assistant", "Hello")] });
    mount(model);
    model.update({ _messages: [] });
    expect(view.el.querySelectorAll("[data-id]")).toHaveLength(0);
    expect(view.el.querySelector<HTMLElement>(".nbchat-empty")?.hidden).toBe(false);
  });

  it("replaces the text on sync instead of appending", () => {
    const model = new FakeModel({ _messages: [streaming("a1", "")] });
    const { frames } = mount(model);
    model.custom({ kind: "delta", id: "a1", text: "Hello" });
    model.custom({ kind: "sync", id: "a1", text: "Hello there" });
    frames.run();
    expect(content("a1")).toBe("Hello there");
    model.custom({ kind: "delta", id: "a1", text: ", friend" });
    frames.run();
    expect(content("a1")).toBe("Hello there, friend");
  });

  it("asks for the partial reply when rendered mid-stream", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi"), streaming("a1", "")], status: "generating" });
    mount(model);
    expect(model.sent).toEqual([{ kind: "sync" }]);
  });

  it("sends no sync when nothing is streaming", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi")] });
    mount(model);
    expect(model.sent).toEqual([]);
  });

  it("keeps deltas that arrive before their message", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi")] });
    const { frames } = mount(model);
    model.custom({ kind: "delta", id: "a1", text: "Early " });
    model.custom({ kind: "delta", id: "a1", text: "bird" });
    expect(node("a1")).toBeNull();
    model.update({ _messages: [message("u1", "user", "Hi"), streaming("a1")] });
    frames.run();
    expect(content("a1")).toBe("Early bird");
  });

  it("shows a failed load as an error in the chat", () => {
    const model = new FakeModel({ status: "error", status_text: "Could not load model foo: not found" });
    mount(model);
    const box = view.el.querySelector(".nbchat-messages .nbchat-status-error");
    expect(box?.getAttribute("role")).toBe("alert");
    expect(box?.textContent).toBe("Could not load model foo: not found");
    model.update({ status: "ready", status_text: "ok" });
    expect(view.el.querySelector(".nbchat-status-error")).toBeNull();
  });

  it("renders the streaming message with requestAnimationFrame by default", async () => {
    const model = new FakeModel({ _messages: [streaming("a1")] });
    view.keep(mountChat(model.asModel(), view.el));
    model.custom({ kind: "delta", id: "a1", text: "Hello" });
    expect(content("a1")).toBe("");
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(content("a1")).toBe("Hello");
  });

  it("drops late deltas for a message removed by Clear", () => {
    const model = new FakeModel({ _messages: [streaming("a1", "")] });
    const { frames } = mount(model);
    model.update({ _messages: [] });
    model.custom({ kind: "delta", id: "a1", text: "late" });
    frames.run();
    expect(view.el.querySelectorAll("[data-id]")).toHaveLength(0);
  });

  it("follows new text at the bottom, but not after the user scrolled up", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi"), streaming("a1")] });
    const { frames } = mount(model);
    const log = view.el.querySelector<HTMLElement>(".nbchat-messages")!;
    let top = 0;
    let height = 1000;
    Object.defineProperty(log, "clientHeight", { configurable: true, get: () => 400 });
    Object.defineProperty(log, "scrollHeight", { configurable: true, get: () => height });
    Object.defineProperty(log, "scrollTop", { configurable: true, get: () => top, set: (v: number) => { top = Math.min(v, height - 400); } });

    model.custom({ kind: "delta", id: "a1", text: "one" });
    frames.run();
    expect(top).toBe(600); // at the bottom: follows

    top = 100; // the user scrolls up to read
    log.dispatchEvent(new Event("scroll"));
    height = 1400;
    model.custom({ kind: "delta", id: "a1", text: " two" });
    frames.run();
    expect(top).toBe(100); // not yanked back down

    top = 1000; // back at the bottom
    log.dispatchEvent(new Event("scroll"));
    height = 1600;
    model.custom({ kind: "delta", id: "a1", text: " three" });
    frames.run();
    expect(top).toBe(1200);
  });

  it("cancels a pending frame on cleanup", () => {
    const model = new FakeModel({ _messages: [streaming("a1")] });
    const { frames } = mount(model);
    model.custom({ kind: "delta", id: "a1", text: "x" });
    expect(frames.pending).toBe(1);
    view.unmount();
    expect(frames.pending).toBe(0);
  });
});
