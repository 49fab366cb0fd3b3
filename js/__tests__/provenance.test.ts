import { beforeEach, describe, expect, it, vi } from "vitest";
import { formatFinishReason } from "../chat/provenance";
import type { Provenance } from "../types";
import { mountChat } from "../chat/widget";
import { FakeModel, manualFrames, message, mountPoint } from "./fake_model";
import { getButton, queryButton, settle } from "./queries";

const view = mountPoint({ teardown: () => vi.unstubAllGlobals() });
let writeText: ReturnType<typeof vi.fn>;

beforeEach(() => {
  writeText = vi.fn(async (_text: string) => {});
  vi.stubGlobal("navigator", { clipboard: { writeText } });
});

function mount(model: FakeModel) {
  const frames = manualFrames();
  view.keep(mountChat(model.asModel(), view.el, { schedule: frames.schedule }));
  return frames;
}

const node = (id: string) => view.el.querySelector<HTMLElement>(`[data-id="${id}"]`)!;

/** The definition list as {term: value}. */
function definitions(root: ParentNode): Record<string, string> {
  const out: Record<string, string> = {};
  for (const dt of root.querySelectorAll("dt")) out[dt.textContent ?? ""] = dt.nextElementSibling?.textContent ?? "";
  return out;
}

const PROVENANCE: Provenance = {
  backend: "openai-compatible",
  model: "tiny-model",
  settings: { max_new_tokens: 256, temperature: 0.7, top_p: 0.95, stop: ["\nUser:"] },
  system_prompt: "Be brief.",
  messages: [
    { role: "system", content: "Be brief." },
    { role: "user", content: "<script>alert(1)</script> and <b>bold</b>" },
  ],
  prompt: null,
  stats: { tokens: 42, prompt_tokens: 17, ttft_s: 0.314, tokens_per_s: 28.43, duration_s: 1.8, finish_reason: "length" },
};

const chat = () => [message("u1", "user", "Hi"), message("a1", "assistant", "Hello")];

describe("details (provenance card)", () => {
  it("asks the kernel once, however often it is toggled", () => {
    const model = new FakeModel({ _messages: chat() });
    mount(model);
    const details = getButton(node("a1"), "Details");
    expect(details.getAttribute("aria-expanded")).toBe("false");
    expect(queryButton(node("u1"), "Details")).toBeNull();
    details.click();
    expect(details.getAttribute("aria-expanded")).toBe("true");
    expect(model.sent).toEqual([{ kind: "provenance", id: "a1" }]);
    const card = node("a1").querySelector<HTMLElement>(".nbchat-card")!;
    expect(card.hidden).toBe(false);
    expect(card.textContent).toContain("Loading details");
    expect(details.getAttribute("aria-controls")).toBe(card.id);

    details.click();
    expect(card.hidden).toBe(true);
    details.click();
    expect(card.hidden).toBe(false);
    expect(model.sent).toEqual([{ kind: "provenance", id: "a1" }]);
  });

  it("renders the settings, timings, finish reason and the request as text", () => {
    const model = new FakeModel({ _messages: chat() });
    mount(model);
    getButton(node("a1"), "Details").click();
    model.custom({ kind: "provenance", id: "a1", data: PROVENANCE });
    const card = node("a1").querySelector<HTMLElement>(".nbchat-card")!;
    expect(definitions(card)).toEqual({
      Backend: "openai-compatible",
      Model: "tiny-model",
      "Max new tokens": "256",
      Temperature: "0.7",
      "Top p": "0.95",
      "Stop sequences": '"\\nUser:"',
      Thinking: "model default",
      "System message": "Be brief.",
      "Tokens in": "17",
      "Tokens out": "42",
      TTFT: "0.31 s",
      Speed: "28.4 tok/s",
      Duration: "1.80 s",
      "Finish reason": "max new tokens reached",
    });
    const request = card.querySelector("details")!;
    expect(request.querySelector("summary")?.textContent).toBe("Request");
    expect(request.open).toBe(false);
    const texts = [...request.querySelectorAll("pre")].map((pre) => pre.textContent);
    expect(texts).toEqual(["Be brief.", "<script>alert(1)</script> and <b>bold</b>"]);
    expect([...request.querySelectorAll(".nbchat-request-role")].map((r) => r.textContent)).toEqual(["system", "user"]);
    expect(card.querySelector("script, b")).toBeNull();
  });

  it("shows the rendered prompt when the backend took one string", () => {
    const model = new FakeModel({ _messages: chat() });
    mount(model);
    getButton(node("a1"), "Details").click();
    const prompt = "<|user|>\n<img src=x onerror=alert(1)>\n<|assistant|>\n";
    model.custom({ kind: "provenance", id: "a1", data: { ...PROVENANCE, prompt, stats: { finish_reason: "stopped" } } });
    const pres = node("a1").querySelectorAll(".nbchat-card details pre");
    expect([...pres].map((p) => p.textContent)).toEqual([prompt]);
    expect(node("a1").querySelector(".nbchat-card img")).toBeNull();
    expect(definitions(node("a1"))["Finish reason"]).toBe("stopped by user");
    expect(definitions(node("a1"))["Tokens out"]).toBe("—");
  });

  it("names every finish reason", () => {
    expect(["stop", "length", "stopped", "error", "other", null].map((r) => formatFinishReason(r))).toEqual([
      "stop", "max new tokens reached", "stopped by user", "error", "other", "—",
    ]);
  });

  it("asks again when it was loaded while the reply streamed", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "Hi"), message("a1", "assistant", "", { status: "streaming" })] });
    mount(model);
    model.sent.length = 0; // the mid-stream sync request
    getButton(node("a1"), "Details").click();
    model.update({ _messages: chat() });
    expect(model.sent).toEqual([{ kind: "provenance", id: "a1" }, { kind: "provenance", id: "a1" }]);
  });

  it("ignores answers for messages that are gone", () => {
    const model = new FakeModel({ _messages: chat() });
    mount(model);
    model.custom({ kind: "provenance", id: "zzz", data: PROVENANCE });
    model.custom({ kind: "code", id: "zzz", code: "x" });
    expect(view.el.querySelector(".nbchat-card")).toBeNull();
  });
});

describe("copy as code", () => {
  it("sends {kind: 'code', id}, copies the answer and shows it", async () => {
    const model = new FakeModel({ _messages: chat() });
    mount(model);
    const button = getButton(node("a1"), "Copy as code");
    button.click();
    expect(model.sent).toEqual([{ kind: "code", id: "a1" }]);
    const code = 'import nbchat\nchat = nbchat.Chat("tiny-model")\nprint("<b>hi</b>")\n';
    model.custom({ kind: "code", id: "a1", code });
    await settle();
    expect(writeText).toHaveBeenCalledWith(code);
    const pre = node("a1").querySelector<HTMLElement>(".nbchat-card pre.nbchat-code-snippet");
    expect(pre?.textContent).toBe(code);
    expect(pre?.querySelector("b")).toBeNull();
    expect(button.textContent).toBe("Copied");
    // The details stay closed; only the code shows.
    expect(node("a1").querySelector<HTMLElement>(".nbchat-card-details")?.hidden).toBe(true);
    expect(model.sent).toEqual([{ kind: "code", id: "a1" }]);

    getButton(node("a1"), "Hide code").click();
    expect(node("a1").querySelector<HTMLElement>(".nbchat-card")?.hidden).toBe(true);
  });

  it("still shows the code when the clipboard is denied", async () => {
    writeText.mockRejectedValue(new Error("denied"));
    const model = new FakeModel({ _messages: chat() });
    mount(model);
    getButton(node("a1"), "Copy as code").click();
    model.custom({ kind: "code", id: "a1", code: "print(1)" });
    await settle();
    expect(node("a1").querySelector(".nbchat-code-snippet")?.textContent).toBe("print(1)");
    expect(getButton(node("a1"), "Copy failed")).toBeTruthy();
  });
});

describe("copy code blocks", () => {
  const reply = "Try this:\n\n```python\ndef f(x):\n    return x < 1\n```\n\nand\n\n```\nplain\n```";

  it("gives every code block a 'Copy code' button that copies exactly its code", async () => {
    const model = new FakeModel({ _messages: [message("a1", "assistant", reply)] });
    mount(model);
    const copy = [...node("a1").querySelectorAll<HTMLButtonElement>("button")].filter((b) => b.textContent === "Copy code");
    expect(copy).toHaveLength(2);
    copy[0].click();
    await settle();
    expect(writeText).toHaveBeenLastCalledWith("def f(x):\n    return x < 1\n");
    expect(copy[0].textContent).toBe("Copied");
    copy[1].click();
    await settle();
    expect(writeText).toHaveBeenLastCalledWith("plain\n");
    // The button is beside the code, not in it.
    for (const pre of node("a1").querySelectorAll("pre")) expect(pre.querySelector("button")).toBeNull();
  });

  it("re-adds the buttons on every render of a streaming reply", async () => {
    const model = new FakeModel({ _messages: [message("a1", "assistant", "", { status: "streaming" })] });
    const frames = mount(model);
    model.custom({ kind: "delta", id: "a1", text: "```js\nlet a = 1;\n" });
    frames.run();
    expect(node("a1").querySelectorAll(".nbchat-code-copy")).toHaveLength(1);
    model.custom({ kind: "delta", id: "a1", text: "let b = 2;\n```\n\n```\nx\n```" });
    frames.run();
    const buttons = node("a1").querySelectorAll<HTMLButtonElement>(".nbchat-code-copy");
    expect(buttons).toHaveLength(2);
    buttons[0].click();
    await settle();
    expect(writeText).toHaveBeenLastCalledWith("let a = 1;\nlet b = 2;\n");
  });

  it("adds nothing to user messages (plain text) or replies without code", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "```\nx\n```"), message("a1", "assistant", "no code")] });
    mount(model);
    expect(view.el.querySelector(".nbchat-code-copy")).toBeNull();
  });
});
