// Tool-call cards (tools/cards.ts) and their place in a reply (chat/messages.ts, compare/column.ts, live.ts):
// every status, hostile arguments, names and results, bidi flags, grouping, the approve buttons, and the order
// round text → cards → final answer, also for a view that joins mid-turn.
import { describe, expect, it } from "vitest";
import { MessageList } from "../chat/messages";
import { ColumnView } from "../compare/column";
import type { CompareClientMessage } from "../compare/types";
import { I18n } from "../i18n";
import { afterRounds } from "../live";
import { appendMarked, prettyArguments, ToolCard, ToolRoundsView, TOOL_STATUSES, type ApproveMessage } from "../tools/cards";
import type { ChatMessage, ClientMessage, ToolCall, ToolRound } from "../types";

const PNG = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD";

function call(over: Partial<ToolCall> = {}): ToolCall {
  return {
    id: "c1",
    name: "area",
    arguments: '{"width": 2, "height": 3}',
    status: "done",
    result: "6.0",
    result_attachments: [],
    error: null,
    duration_s: 0.012,
    reason: "",
    server: "",
    ...over,
  };
}

function card(c: ToolCall, sent: ApproveMessage[] = [], i18n?: I18n): HTMLElement {
  const view = new ToolCard({ render: (t) => `<p>${t.replace(/</g, "&lt;")}</p>`, send: (m) => sent.push(m), i18n });
  view.update(c, true);
  document.body.append(view.element);
  return view.element;
}

function manualList(sent: ClientMessage[] = []): { list: MessageList; frame: () => void } {
  let pending: (() => void) | null = null;
  const list = new MessageList({
    send: (m) => sent.push(m),
    schedule: (fn) => {
      pending = fn;
      return () => (pending = null);
    },
  });
  document.body.append(list.element);
  return { list, frame: () => { const fn = pending; pending = null; fn?.(); } };
}

function reply(over: Partial<ChatMessage> = {}): ChatMessage {
  return { id: "a1", role: "assistant", content: "", reasoning: "", status: "streaming", error: null, stats: null, tool_rounds: [], ...over };
}

describe("a tool card", () => {
  it("shows each status in both languages, with name, duration and arguments as pretty JSON", () => {
    for (const lang of ["en", "zh"] as const) {
      const i18n = new I18n(lang);
      for (const status of TOOL_STATUSES) {
        const el = card(call({ status }), [], i18n);
        expect(el.dataset.status).toBe(status);
        expect(el.querySelector(".nbchat-tool-status")!.textContent).toBe(i18n.t(`tool.status.${status}`));
        expect(el.querySelector(".nbchat-tool-name")!.textContent).toBe("area");
        expect(el.querySelector(".nbchat-tool-args")!.textContent).toBe('{\n  "width": 2,\n  "height": 3\n}');
        expect(el.querySelector(".nbchat-tool-duration")!.textContent).toBe(i18n.seconds(0.012, 2));
        expect(el.querySelectorAll("button").length).toBe(status === "pending" ? 3 : 0);
        expect(el.querySelector(".nbchat-tool-result") !== null).toBe(status === "done");
        el.remove();
      }
    }
    expect(new I18n("zh").t("tool.status.declined")).toBe("已拒绝");
  });

  it("sends each decision for the waiting call, the reason only with Decline, once", () => {
    for (const [label, decision] of [["Allow once", "once"], ["Allow for this chat", "chat"], ["Decline", "decline"]] as const) {
      const sent: ApproveMessage[] = [];
      const el = card(call({ id: "call_9", status: "pending", duration_s: null, result: "" }), sent);
      el.querySelector<HTMLInputElement>(".nbchat-tool-reason-input")!.value = "  not now  ";
      const button = [...el.querySelectorAll("button")].find((b) => b.textContent === label)!;
      button.click();
      button.click(); // a second click sends nothing: one answer per card
      expect(sent).toEqual([{ kind: "approve", id: "call_9", decision, reason: decision === "decline" ? "not now" : "" }]);
      expect([...el.querySelectorAll("button")].every((b) => b.disabled)).toBe(true);
      el.remove();
    }
  });

  it("keeps the reason being typed when the waiting call's state comes again, and disables without a kernel", () => {
    const view = new ToolCard({ render: (t) => t, send: () => {} });
    const pending = call({ status: "pending", result: "", duration_s: null });
    view.update(pending, true);
    view.element.querySelector<HTMLInputElement>("input")!.value = "too big";
    view.update({ ...pending }, true);
    expect(view.element.querySelector<HTMLInputElement>("input")!.value).toBe("too big");
    view.update({ ...pending }, false);
    expect([...view.element.querySelectorAll("button")].every((b) => b.disabled)).toBe(true);
  });

  it("shows the arguments exactly as written when they are not JSON, and flags bidi and invisible characters", () => {
    const el = card(call({ arguments: '{"path": "a\u202Etxt.exe", "x": ', status: "pending" }));
    expect(el.querySelector(".nbchat-tool-args")!.textContent).toBe('{"path": "aU+202Etxt.exe", "x": ');
    expect(el.querySelector(".nbchat-tool-args .nbchat-invisible")!.textContent).toBe("U+202E");
    expect(el.querySelector(".nbchat-tool-args")!.textContent).not.toContain("\u202E"); // never acts on the text
    const notes = [...el.querySelectorAll(".nbchat-tool-note")].map((n) => n.textContent);
    expect(notes).toEqual(["Not valid JSON: shown exactly as the model wrote it.", "1 invisible character is marked in the arguments."]);
    // escaped in JSON (\u2066) is the same character once parsed: flagged too; so is a tag character in the name
    const parsed = card(call({ name: "area\u{E0041}", arguments: '{"s": "\\u2066hidden\\u2069"}' }));
    expect(parsed.querySelectorAll(".nbchat-tool-args .nbchat-invisible").length).toBe(2);
    expect(parsed.querySelector(".nbchat-tool-name .nbchat-invisible")!.textContent).toBe("U+E0041");
    expect(parsed.getAttribute("aria-label")).toBe("Tool call: area");
  });

  it("renders hostile names, arguments, errors and results as text, never as HTML", () => {
    const hostile = '<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>';
    const el = card(call({ name: hostile, arguments: JSON.stringify({ q: hostile }), status: "error", error: hostile }));
    expect(el.querySelector("img, script")).toBeNull();
    expect(el.querySelector(".nbchat-tool-name")!.textContent).toBe(hostile);
    expect(el.querySelector(".nbchat-tool-error")!.textContent).toBe(hostile);
    // a result goes through the list's real renderer: Markdown without HTML, then DOMPurify
    const { list } = manualList();
    const result = `# Title\n\n${hostile}\n\n[x](javascript:alert(1)) ![t](https://example.com/t.png)`;
    list.setMessages([reply({ status: "done", content: "ok", tool_rounds: [{ content: "", reasoning: "", calls: [call({ result })] }] })]);
    const details = list.element.querySelector<HTMLDetailsElement>(".nbchat-tool-result")!;
    details.open = true;
    details.dispatchEvent(new Event("toggle"));
    const body = details.querySelector(".nbchat-tool-result-text")!;
    expect(body.querySelector("h1")!.textContent).toBe("Title");
    expect(body.textContent).toContain("<script>window.__pwned=1</script>");
    expect(body.querySelector("img, script, [onerror]")).toBeNull();
    expect(body.querySelector("a[href^='javascript'], [href^='https://example.com/t.png']")).toBeNull();
    expect((window as unknown as { __pwned?: number }).__pwned).toBeUndefined();
    list.element.remove();
  });

  it("shows images from the kernel's preview inline, never from a remote or script address", () => {
    const images = [
      { kind: "image" as const, media_type: "image/png", name: "figure", sha256: "a", thumbnail: PNG, preview: PNG, width: 640, height: 480 },
      { kind: "image" as const, media_type: "image/png", name: "evil", sha256: "b", thumbnail: "https://evil.example/x.png", preview: "javascript:alert(1)" },
    ];
    const el = card(call({ result: "[figure]", result_attachments: images }));
    const details = el.querySelector<HTMLDetailsElement>(".nbchat-tool-result")!;
    expect(details.open).toBe(true); // a figure shows at once
    const shown = [...el.querySelectorAll("img")];
    expect(shown.map((i) => i.getAttribute("src"))).toEqual([PNG]);
    expect(el.querySelector(".nbchat-tool-images")!.textContent).toContain("evil");
    expect(details.querySelector("summary")!.textContent).toBe("Result · 8 characters · 2 images");
  });

  it("says why a call was declined and shows a stopped call's note", () => {
    const declined = card(call({ status: "declined", reason: "too costly", result: "", duration_s: null }));
    expect(declined.querySelector(".nbchat-tool-reason")!.textContent).toBe("Reason given to the model: too costly");
    const stopped = card(call({ status: "stopped", error: "stopped while running; the function may still be running" }));
    expect(stopped.querySelector(".nbchat-tool-error")!.textContent).toContain("may still be running");
  });
});

describe("tool rounds in a reply", () => {
  it("groups a round's several calls under a heading, and a single call stands alone", () => {
    const view = new ToolRoundsView({ render: (t) => t, send: () => {} });
    expect(view.element.hidden).toBe(true);
    view.update([{ content: "", reasoning: "", calls: [call()] }]);
    expect(view.element.hidden).toBe(false);
    expect(view.element.querySelector<HTMLElement>(".nbchat-tool-group-head")!.hidden).toBe(true);
    const three: ToolRound = { content: "", reasoning: "", calls: [call(), call({ id: "c2" }), call({ id: "c3", status: "running" })], dropped: 2 };
    view.update([three]);
    const group = view.element.querySelector<HTMLElement>(".nbchat-tool-group")!;
    expect(group.getAttribute("aria-label")).toBe("3 tool calls");
    expect(view.element.querySelector<HTMLElement>(".nbchat-tool-group-head")!.hidden).toBe(false);
    expect([...group.querySelectorAll<HTMLElement>(".nbchat-tool-card")].map((c) => c.dataset.callId)).toEqual(["c1", "c2", "c3"]);
    expect(group.querySelector(".nbchat-tool-dropped")!.textContent).toBe("2 more calls in this reply were not run (limit per reply).");
    const first = group.querySelector(".nbchat-tool-card");
    view.update([{ ...three, calls: three.calls.map((c) => ({ ...c, status: "done" as const })) }]);
    expect(group.querySelector(".nbchat-tool-card")).toBe(first); // keyed by call id: the same nodes
  });

  it("shows round text, cards, then the final answer, in order, while streaming and when done", () => {
    const sent: ClientMessage[] = [];
    const { list, frame } = manualList(sent);
    list.setMessages([reply()]);
    list.applyDelta("a1", "Let me **compute**. ");
    frame();
    expect(list.element.querySelector(".nbchat-msg > .nbchat-bubble > .nbchat-content")!.textContent).toContain("Let me compute.");
    // the round arrives: its text moves above the card, out of the streaming answer
    const round: ToolRound = { content: "Let me **compute**. ", reasoning: "", calls: [call({ status: "pending", result: "", duration_s: null })] };
    list.setMessages([reply({ tool_rounds: [round] })]);
    frame();
    const bubble = list.element.querySelector(".nbchat-bubble")!;
    const answer = bubble.querySelector(":scope > .nbchat-content")!;
    expect(answer.textContent).toBe("");
    expect(bubble.querySelector(".nbchat-tool-round-text strong")!.textContent).toBe("compute");
    [...bubble.querySelectorAll("button")].find((b) => b.textContent === "Allow once")!.click();
    expect(sent).toEqual([{ kind: "approve", id: "c1", decision: "once", reason: "" }]);
    // the next round streams after the card
    list.applyDelta("a1", "The area is 6.");
    frame();
    expect(answer.textContent).toContain("The area is 6.");
    expect(answer.textContent).not.toContain("compute");
    const order = [...bubble.querySelectorAll(".nbchat-tool-round-text, .nbchat-tool-card, :scope > .nbchat-content")];
    const names = ["nbchat-tool-round-text", "nbchat-tool-card", "nbchat-content"];
    expect(order.map((e) => names.find((c) => e.classList.contains(c)))).toEqual([
      "nbchat-tool-round-text",
      "nbchat-tool-card",
      "nbchat-content",
    ]);
    list.setMessages([reply({ status: "done", content: "The area is 6.", tool_rounds: [{ ...round, calls: [call()] }] })]);
    expect(answer.textContent).toContain("The area is 6.");
    expect(bubble.querySelector<HTMLElement>(".nbchat-tool-card")!.dataset.status).toBe("done");
    list.element.remove();
  });

  it("a view that joins mid-turn shows the same from its sync: rounds' text cut off the front", () => {
    const { list, frame } = manualList();
    const round: ToolRound = { content: "First. ", reasoning: "hmm ", calls: [call()] };
    list.setMessages([reply({ tool_rounds: [round] })]);
    list.applySync("a1", "First. Then the answer", "hmm \n\nnow sure");
    frame();
    const bubble = list.element.querySelector(".nbchat-bubble")!;
    expect(bubble.querySelector(":scope > .nbchat-content")!.textContent!.trim()).toBe("Then the answer");
    expect(bubble.querySelector(".nbchat-tool-round-text")!.textContent).toContain("First.");
    list.element.remove();
  });

  it("cuts the rounds' text only where it is at the front", () => {
    expect(afterRounds("AB", ["A"])).toBe("B");
    expect(afterRounds("AB", ["A", "B"])).toBe("");
    expect(afterRounds("B", ["A"])).toBe("B"); // state before deltas: nothing cut
    expect(afterRounds("think  \n more", ["think"], true)).toBe("more");
  });

  it("marks invisible characters as badges in text nodes", () => {
    const el = document.createElement("div");
    expect(appendMarked(el, "a\u200Fb\u{E0020}")).toBe(2);
    expect(el.innerHTML).toBe('a<span class="nbchat-invisible" title="U+200F: an invisible control character (not copied)">U+200F</span>b<span class="nbchat-invisible" title="U+E0020: an invisible control character (not copied)">U+E0020</span>');
    expect(prettyArguments("")).toEqual({ text: "{}", json: true });
  });

  it("in a Compare column, a card's click names its column", () => {
    const sent: CompareClientMessage[] = [];
    const info = { id: "c7", name: "one", label: "", letter: "", settings: { system_prompt: "", max_new_tokens: 10, temperature: 0 }, status: "generating" as const, status_text: "" };
    const column = new ColumnView(info, (m) => sent.push(m), { schedule: (fn) => (fn(), () => {}) });
    column.setMessages([{ ...reply({ tool_rounds: [{ content: "", reasoning: "", calls: [call({ status: "pending", result: "" })] }] }), turn: 1 }]);
    [...column.element.querySelectorAll("button")].find((b) => b.textContent === "Decline")!.click();
    expect(sent).toEqual([{ kind: "approve", id: "c1", decision: "decline", reason: "", column: "c7" }]);
    column.dispose();
  });
});
