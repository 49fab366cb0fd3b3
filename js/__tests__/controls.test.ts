import { describe, expect, it, vi } from "vitest";
import { DRAFT_MS } from "../controls";
import { mountChat } from "../chat/widget";
import { FakeModel, mountPoint } from "./fake_model";

const view = mountPoint({ teardown: () => vi.useRealTimers() });

function mount(model: FakeModel): void {
  view.keep(mountChat(model.asModel(), view.el));
}

/** The control a screen reader would announce under `name`. */
function byLabel<T extends HTMLElement>(name: string): T {
  const label = [...view.el.querySelectorAll("label")].find((l) => l.textContent === name);
  if (label) return view.el.ownerDocument.getElementById(label.htmlFor) as T;
  const labelled = view.el.querySelector<T>(`[aria-label="${name}"]`);
  if (!labelled) throw new Error(`no control labelled ${name}`);
  return labelled;
}

function button(name: string): HTMLButtonElement {
  const found = [...view.el.querySelectorAll("button")].find((b) => b.textContent === name);
  if (!found) throw new Error(`no button ${name}`);
  return found;
}

function type(box: HTMLTextAreaElement, text: string): void {
  box.value = text;
  box.dispatchEvent(new Event("input", { bubbles: true }));
}

function press(box: HTMLElement, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key: "Enter", bubbles: true, cancelable: true, ...init });
  box.dispatchEvent(event);
  return event;
}

describe("drafts for a model that prefills", () => {
  it("sends the text typed so far at most every DRAFT_MS, and never after it was sent", () => {
    vi.useFakeTimers();
    const model = new FakeModel({ prefill_drafts: true });
    mount(model);
    const box = byLabel<HTMLTextAreaElement>("Message");
    type(box, "Which");
    type(box, "Which ani");
    expect(model.sent).toEqual([]); // throttled: nothing yet
    vi.advanceTimersByTime(DRAFT_MS);
    expect(model.sent).toEqual([{ kind: "draft", text: "Which ani" }]);
    type(box, "Which ani"); // unchanged text: not sent again
    vi.advanceTimersByTime(DRAFT_MS);
    type(box, "Which animals");
    press(box); // sent before the next draft was due: that draft is dropped
    vi.advanceTimersByTime(5 * DRAFT_MS);
    expect(model.sent).toEqual([
      { kind: "draft", text: "Which ani" },
      { kind: "submit", text: "Which animals" },
    ]);
  });

  it("sends no drafts for a model that cannot use them, or while a reply streams", () => {
    vi.useFakeTimers();
    const plain = new FakeModel();
    mount(plain);
    type(byLabel<HTMLTextAreaElement>("Message"), "Which animals");
    vi.advanceTimersByTime(5 * DRAFT_MS);
    expect(plain.sent).toEqual([]);
    view.unmount();
    const busy = new FakeModel({ prefill_drafts: true, status: "generating" });
    mount(busy);
    type(byLabel<HTMLTextAreaElement>("Message"), "Which animals");
    vi.advanceTimersByTime(5 * DRAFT_MS);
    expect(busy.sent).toEqual([]);
  });
});

describe("composer", () => {
  it("has the labelled message box and buttons", () => {
    mount(new FakeModel());
    const box = byLabel<HTMLTextAreaElement>("Message");
    expect(box.tagName).toBe("TEXTAREA");
    expect(box.placeholder).toBe("Ask something… (Enter to send, Shift+Enter for a new line)");
    for (const name of ["Send", "Stop", "Clear"]) expect(button(name).type).toBe("button");
  });

  it("sends on Enter and clears the box", () => {
    const model = new FakeModel();
    mount(model);
    const box = byLabel<HTMLTextAreaElement>("Message");
    type(box, "What is 2+2?");
    const event = press(box);
    expect(event.defaultPrevented).toBe(true);
    expect(model.sent).toEqual([{ kind: "submit", text: "What is 2+2?" }]);
    expect(box.value).toBe("");
  });

  it("sends on the Send button", () => {
    const model = new FakeModel();
    mount(model);
    const box = byLabel<HTMLTextAreaElement>("Message");
    type(box, "hello");
    button("Send").click();
    expect(model.sent).toEqual([{ kind: "submit", text: "hello" }]);
    expect(box.value).toBe("");
  });

  it("inserts a newline on Shift+Enter instead of sending", () => {
    const model = new FakeModel();
    mount(model);
    const box = byLabel<HTMLTextAreaElement>("Message");
    type(box, "line one");
    const event = press(box, { shiftKey: true });
    expect(event.defaultPrevented).toBe(false);
    expect(model.sent).toEqual([]);
    expect(box.value).toBe("line one");
  });

  it("does not send during IME composition", () => {
    const model = new FakeModel();
    mount(model);
    const box = byLabel<HTMLTextAreaElement>("Message");
    type(box, "にほんご");
    press(box, { isComposing: true });
    expect(model.sent).toEqual([]);
  });

  it("does not send whitespace only", () => {
    const model = new FakeModel();
    mount(model);
    const box = byLabel<HTMLTextAreaElement>("Message");
    type(box, "  \n\t ");
    press(box);
    button("Send").click();
    expect(model.sent).toEqual([]);
  });

  it("while generating: Enter keeps the text, Send disabled, Stop enabled and sends stop", () => {
    const model = new FakeModel({ status: "ready" });
    mount(model);
    expect(button("Send").disabled).toBe(false);
    expect(button("Stop").disabled).toBe(true);
    model.update({ status: "generating" });
    expect(button("Send").disabled).toBe(true);
    expect(button("Stop").disabled).toBe(false);

    const box = byLabel<HTMLTextAreaElement>("Message");
    type(box, "next question");
    press(box);
    expect(model.sent).toEqual([]);
    expect(box.value).toBe("next question");

    button("Stop").click();
    expect(model.sent).toEqual([{ kind: "stop" }]);

    model.update({ status: "ready" });
    expect(button("Send").disabled).toBe(false);
    expect(button("Stop").disabled).toBe(true);
  });

  it("sends clear", () => {
    const model = new FakeModel();
    mount(model);
    button("Clear").click();
    expect(model.sent).toEqual([{ kind: "clear" }]);
  });

  it("shows a notice in a polite live region and hides it after a while", () => {
    vi.useFakeTimers();
    const model = new FakeModel();
    mount(model);
    model.custom({ kind: "notice", level: "warning", text: "A reply is still being generated…" });
    const notice = view.el.querySelector<HTMLElement>('.nbchat-notice[role="status"]');
    expect(notice?.getAttribute("aria-live")).toBe("polite");
    expect(notice?.textContent).toBe("A reply is still being generated…");
    expect(notice?.dataset.level).toBe("warning");
    vi.advanceTimersByTime(10_000);
    expect(notice?.textContent).toBe("");
  });
});

describe("advanced options", () => {
  it("is a collapsed <details> with labelled controls", () => {
    mount(new FakeModel({ max_new_tokens: 300, max_new_tokens_limit: 2048, temperature: 0.7, use_history: false }));
    const details = view.el.querySelector<HTMLDetailsElement>("details.nbchat-options");
    expect(details?.open).toBe(false);
    expect(details?.querySelector("summary")?.textContent).toBe("Advanced options");
    expect(byLabel("System message").tagName).toBe("TEXTAREA");
    const tokens = byLabel<HTMLInputElement>("Max new tokens");
    expect([tokens.type, tokens.min, tokens.max, tokens.value]).toEqual(["range", "1", "2048", "300"]);
    const temperature = byLabel<HTMLInputElement>("Temperature");
    expect([temperature.type, temperature.min, temperature.max, temperature.step, temperature.value]).toEqual([
      "range", "0", "2", "0.05", "0.7",
    ]);
    const history = byLabel<HTMLInputElement>("Use history");
    expect([history.type, history.checked]).toEqual(["checkbox", false]);
    expect(view.el.textContent).toContain("300");
  });

  it("uses ids unique to each view of the same model", () => {
    const model = new FakeModel();
    mount(model);
    const second = document.createElement("div");
    document.body.append(second);
    const cleanupSecond = mountChat(model.asModel(), second);
    const ids = [...document.querySelectorAll("[id]")].map((n) => n.id);
    expect(new Set(ids).size).toBe(ids.length);
    // 10 per view: system, max new tokens, temperature, thinking, history, notebook context, documents, course reader,
    // @name list, shortcuts
    expect(ids.length).toBe(20);
    cleanupSecond();
    second.remove();
  });

  it("writes the max new tokens slider back to the trait", () => {
    const model = new FakeModel({ max_new_tokens: 256 });
    mount(model);
    const tokens = byLabel<HTMLInputElement>("Max new tokens");
    tokens.value = "512";
    tokens.dispatchEvent(new Event("input", { bubbles: true }));
    tokens.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.state.max_new_tokens).toBe(512);
    expect(model.saves).toBe(1);
    expect(tokens.parentElement?.querySelector("output")?.textContent).toBe("512");
  });

  it("writes temperature, shows 'greedy' at 0, and writes use_history", () => {
    const model = new FakeModel({ temperature: 0.7, use_history: true });
    mount(model);
    const temperature = byLabel<HTMLInputElement>("Temperature");
    temperature.value = "0";
    temperature.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.state.temperature).toBe(0);
    expect(temperature.parentElement?.textContent).toContain("greedy");
    const history = byLabel<HTMLInputElement>("Use history");
    history.click();
    expect(model.state.use_history).toBe(false);
    expect(model.saves).toBe(2);
  });

  it("commits the system message on change and after a typing pause", () => {
    vi.useFakeTimers();
    const model = new FakeModel({ system_prompt: "" });
    mount(model);
    const system = byLabel<HTMLTextAreaElement>("System message");
    type(system, "Be brief.");
    expect(model.state.system_prompt).toBe("");
    vi.advanceTimersByTime(1000);
    expect(model.state.system_prompt).toBe("Be brief.");
    type(system, "Be very brief.");
    system.dispatchEvent(new Event("change", { bubbles: true }));
    expect(model.state.system_prompt).toBe("Be very brief.");
    expect(model.saves).toBe(2);
  });

  it("follows trait changes from Python without clobbering a field being edited", () => {
    const model = new FakeModel({ system_prompt: "old", max_new_tokens: 100 });
    mount(model);
    const system = byLabel<HTMLTextAreaElement>("System message");
    const tokens = byLabel<HTMLInputElement>("Max new tokens");
    model.update({ system_prompt: "from python", max_new_tokens: 200, max_new_tokens_limit: 4096, temperature_limit: 1.5 });
    expect(system.value).toBe("from python");
    expect(tokens.value).toBe("200");
    expect(tokens.max).toBe("4096");
    expect(byLabel<HTMLInputElement>("Temperature").max).toBe("1.5");

    system.focus();
    type(system, "my draft");
    model.update({ system_prompt: "python again" });
    expect(system.value).toBe("my draft");
  });
});

describe("widget", () => {
  it("shows the model label, status text and a progress bar while loading", () => {
    const model = new FakeModel({ status: "loading", status_text: "loading tiny… ", progress: 0.25, model_label: "tiny · fake" });
    mount(model);
    expect(view.el.querySelector(".nbchat")).not.toBeNull();
    expect(view.el.querySelector(".nbchat-title")?.textContent).toBe("tiny · fake");
    expect(view.el.querySelector(".nbchat-status-text")?.textContent).toBe("loading tiny… ");
    const progress = view.el.querySelector("progress");
    expect(progress?.hidden).toBe(false);
    expect(progress?.value).toBe(0.25);
    model.update({ status: "ready", progress: null, status_text: "tiny · fake · cpu" });
    expect(progress?.hidden).toBe(true);
    expect(view.el.querySelector<HTMLElement>(".nbchat")?.dataset.status).toBe("ready");
  });

  it("keeps plain keys from reaching notebook shortcuts, but lets chords through", () => {
    mount(new FakeModel());
    const seen: string[] = [];
    const record = (event: KeyboardEvent) => seen.push(`${event.ctrlKey ? "Ctrl+" : ""}${event.key}`);
    document.addEventListener("keydown", record);
    const slider = byLabel<HTMLInputElement>("Max new tokens");
    for (const key of ["ArrowRight", "d", "x"]) slider.dispatchEvent(new KeyboardEvent("keydown", { key, bubbles: true }));
    button("Clear").dispatchEvent(new KeyboardEvent("keydown", { key: "s", ctrlKey: true, bubbles: true }));
    document.removeEventListener("keydown", record);
    expect(seen).toEqual(["Ctrl+s"]);
  });

  it("cleans up: no listeners left, DOM removed", () => {
    const model = new FakeModel();
    mount(model);
    expect(model.listenerCount()).toBeGreaterThan(0);
    view.unmount();
    expect(model.listenerCount()).toBe(0);
    expect(view.el.querySelector(".nbchat")).toBeNull();
  });

  it("is an anywidget module whose render returns the cleanup", async () => {
    const widget = (await import("../chat/widget")).default;
    const model = new FakeModel();
    const render = typeof widget === "function" ? (await widget()).render : widget.render;
    const dispose = await render!({ model: model.asModel(), el: view.el } as any);
    expect(view.el.querySelector(".nbchat")).not.toBeNull();
    expect(typeof dispose).toBe("function");
    await (dispose as () => void)();
    expect(model.listenerCount()).toBe(0);
  });
});
