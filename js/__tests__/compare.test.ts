import { afterEach, describe, expect, it, vi } from "vitest";
import { WHOLE_MAX } from "../chunks";
import { mountCompare } from "../compare/widget";
import { DETACH_CHECK_MS } from "../shell";
import { renderDiff } from "../compare/diff";
import type { ColumnInfo, CompareClientMessage, CompareMessage, CompareServerMessage, CompareTraits, TurnInfo } from "../compare/types";
import { manualFrames, mountPoint } from "./fake_model";
import { getButton, getTextbox, key, queryButton } from "./queries";

type Callback = (...args: any[]) => void;

/** The Compare widget's traits in a plain object; records what the view sends. */
class FakeCompareModel {
  readonly state: CompareTraits & { status: string };
  readonly sent: CompareClientMessage[] = [];
  saves = 0;
  readonly widget_manager = { get_model: async () => Promise.reject(new Error("not supported")) };
  private readonly listeners = new Map<string, Set<Callback>>();

  constructor(traits: Partial<CompareTraits> = {}) {
    this.state = { _columns: [], _messages: {}, _turns: [], blind: false, revealed: false, status: "ready", ...traits };
  }
  get(key: string): any {
    return (this.state as any)[key];
  }
  set(key: string, value: unknown): void {
    (this.state as any)[key] = value;
    this.emit(`change:${key}`);
  }
  on(event: string, callback: Callback): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(callback);
  }
  off(event?: string | null, callback?: Callback | null): void {
    if (!event) this.listeners.clear();
    else if (!callback) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(callback);
  }
  save_changes(): void {
    this.saves += 1;
  }
  send(content: any): void {
    this.sent.push(content);
  }
  update(traits: Partial<CompareTraits & { status: string }>): void {
    for (const [k, v] of Object.entries(traits)) {
      (this.state as any)[k] = v;
      this.emit(`change:${k}`);
    }
  }
  custom(message: CompareServerMessage): void {
    this.emit("msg:custom", message, []);
  }
  /** A Backbone event of the real model, e.g. "comm_live_update" when the kernel restarts. */
  trigger(event: string): void {
    this.emit(event);
  }
  listenerCount(): number {
    return [...this.listeners.values()].reduce((n, s) => n + s.size, 0);
  }
  private emit(event: string, ...args: unknown[]): void {
    for (const callback of [...(this.listeners.get(event) ?? [])]) callback(...args);
  }
}

const settings = { system_prompt: "", max_new_tokens: 64, temperature: 0.7, top_p: 1, use_history: true };

function column(id: string, name: string, extra: Partial<ColumnInfo> = {}): ColumnInfo {
  return { id, name, label: `${name} · fake`, letter: "", settings: { ...settings }, status: "ready", status_text: "ready", ...extra };
}

function msg(id: string, role: "user" | "assistant", content: string, extra: Partial<CompareMessage> = {}): CompareMessage {
  return { id, role, content, status: "done", error: null, stats: null, turn: 1, ...extra };
}

const view = mountPoint();

function mount(model: FakeCompareModel) {
  const frames = manualFrames();
  view.keep(mountCompare(model as any, view.el, { schedule: frames.schedule }));
  return frames;
}

const region = (id: string) => view.el.querySelector<HTMLElement>(`[role="region"][data-column="${id}"]`)!;
const assistantText = (id: string) =>
  [...region(id).querySelectorAll('[data-role="assistant"] .nbchat-content')].map((n) => n.textContent?.trim());
/** The input that the `<label>` reading `label` under `root` names. */
const input = (root: HTMLElement, label: string) => {
  const id = [...root.querySelectorAll("label")].find((l) => l.textContent === label)!.htmlFor;
  return root.querySelector<HTMLInputElement>(`[id="${id}"]`)!;
};

const threeColumns = () =>
  new FakeCompareModel({ _columns: [column("c1", "alpha"), column("c2", "beta"), column("c3", "gamma")] });

describe("Compare view", () => {
  it("renders one labelled region per column, in order, with model and settings in the header", () => {
    const model = threeColumns();
    mount(model);
    const regions = [...view.el.querySelectorAll<HTMLElement>('[role="region"][data-column]')];
    expect(regions.map((r) => r.getAttribute("aria-label"))).toEqual(["alpha", "beta", "gamma"]);
    expect(regions[0].querySelector(".nbchat-compare-label")?.textContent).toBe("alpha · fake");
    expect(regions[0].querySelector(".nbchat-compare-settings")?.textContent).toBe("temperature 0.7 · max 64 tokens");
    // reorder: the same nodes move
    const first = regions[0];
    model.update({ _columns: [column("c2", "beta"), column("c1", "alpha"), column("c3", "gamma")] });
    const after = [...view.el.querySelectorAll<HTMLElement>('[role="region"][data-column]')];
    expect(after.map((r) => r.dataset.column)).toEqual(["c2", "c1", "c3"]);
    expect(after[1]).toBe(first);
    expect(getButton(region("c2"), "Move beta left").disabled).toBe(true);
    expect(getButton(region("c3"), "Move gamma right").disabled).toBe(true);
  });

  it("routes token deltas to their column only, at most one render per frame", () => {
    const model = threeColumns();
    model.update({
      status: "generating",
      _messages: {
        c1: [msg("u1", "user", "hi"), msg("a1", "assistant", "", { status: "streaming" })],
        c2: [msg("u2", "user", "hi"), msg("a2", "assistant", "", { status: "streaming" })],
        c3: [],
      },
    });
    const frames = mount(model);
    model.custom({ kind: "delta", column: "c2", id: "a2", text: "Hello" });
    model.custom({ kind: "delta", column: "c2", id: "a2", text: " there" });
    model.custom({ kind: "delta", column: "c1", id: "a1", text: "Bonjour" });
    expect(assistantText("c2")).toEqual([""]);
    frames.run();
    expect(assistantText("c2")).toEqual(["Hello there"]);
    expect(assistantText("c1")).toEqual(["Bonjour"]);
    expect(assistantText("c3")).toEqual([]);
    expect(region("c2").querySelector('[data-role="assistant"]')?.getAttribute("data-status")).toBe("streaming");
    // the commit replaces the live text
    model.update({ _messages: { ...model.state._messages, c2: [msg("u2", "user", "hi"), msg("a2", "assistant", "Hello there!")] } });
    expect(assistantText("c2")).toEqual(["Hello there!"]);
    expect(region("c2").querySelector('[data-role="assistant"]')?.getAttribute("data-status")).toBe("done");
  });

  it("shows a column's thoughts in its own Thinking block, live, then folded under the answer", () => {
    const model = threeColumns();
    model.update({
      status: "generating",
      _messages: { c1: [msg("u1", "user", "hi"), msg("a1", "assistant", "", { status: "streaming" })], c2: [], c3: [] },
    });
    const frames = mount(model);
    model.custom({ kind: "delta", column: "c1", id: "a1", text: "", reasoning: "Let me *think*." });
    frames.run();
    const block = region("c1").querySelector<HTMLDetailsElement>(".nbchat-thinking")!;
    expect(block.hidden).toBe(false);
    expect(block.open).toBe(true);
    expect(block.querySelector("em")!.textContent).toBe("think");
    expect(region("c2").querySelector(".nbchat-thinking:not([hidden])")).toBeNull();
    model.custom({ kind: "delta", column: "c1", id: "a1", text: "Hi!" });
    frames.run();
    expect(block.open).toBe(false);
    model.update({
      _messages: { ...model.state._messages, c1: [msg("u1", "user", "hi"), msg("a1", "assistant", "Hi!", { reasoning: "Let me *think*.", stats: { thinking_s: 4 } })] },
    });
    expect(block.querySelector("summary")!.textContent).toBe("Thought for 4 s");
  });

  it("keeps deltas that arrive before their message, and shows an error in its column only", () => {
    const model = threeColumns();
    const frames = mount(model);
    model.custom({ kind: "delta", column: "c1", id: "a1", text: "early " });
    model.update({ _messages: { c1: [msg("u1", "user", "hi"), msg("a1", "assistant", "", { status: "streaming" })] } });
    model.custom({ kind: "delta", column: "c1", id: "a1", text: "text" });
    frames.run();
    expect(assistantText("c1")).toEqual(["early text"]);
    model.update({
      _messages: {
        c1: [msg("u1", "user", "hi"), msg("a1", "assistant", "early text", { status: "error", error: "server went away" })],
        c2: [msg("u2", "user", "hi"), msg("a2", "assistant", "fine")],
      },
    });
    expect(region("c1").querySelector('[role="alert"]')?.textContent).toBe("server went away");
    expect(region("c2").querySelector('[role="alert"]')).toBeNull();
  });

  it("shows a column's error in the view's language from its key", () => {
    const model = new FakeCompareModel({ _columns: [column("c1", "A")], lang: "zh" });
    mount(model);
    const error_i18n = { key: "py.err.429", params: { where: "https://api.moonshot.cn/v1", detail: "quota" } };
    model.update({ _messages: { c1: [msg("a1", "assistant", "", { status: "error", error: "(English)", error_i18n })] } });
    expect(region("c1").querySelector('[role="alert"]')?.textContent).toBe(
      "请求过于频繁或额度已用完，https://api.moonshot.cn/v1 拒绝了请求（429：quota）。请稍等一会儿，或查看你的套餐额度，然后重新发送。",
    );
  });

  it("sends the prompt once for all columns; Stop stops all, a column's Stop only that column", () => {
    const model = threeColumns();
    mount(model);
    const box = getTextbox(view.el, "Message");
    box.value = "Has math been invented or discovered?";
    getButton(view.el, "Send").click();
    expect(model.sent).toEqual([{ kind: "submit", text: "Has math been invented or discovered?" }]);
    model.update({ status: "generating", _columns: [column("c1", "alpha", { status: "generating" }), column("c2", "beta")] });
    getButton(view.el, "Stop").click();
    getButton(region("c1"), "Stop alpha").click();
    expect(getButton(region("c2"), "Stop beta").disabled).toBe(true);
    getButton(region("c2"), "Move beta left").click();
    getButton(region("c2"), "Remove beta").click();
    expect(model.sent.slice(1)).toEqual([
      { kind: "stop" },
      { kind: "stop", column: "c1" },
      { kind: "move", column: "c2", step: -1 },
      { kind: "remove", column: "c2" },
    ]);
  });

  it("adds a model from the form and shows notices from Python", () => {
    const model = threeColumns();
    mount(model);
    getButton(view.el, "Add model").click();
    const form = view.el.querySelector<HTMLFormElement>("form.nbchat-compare-add")!;
    expect(form.hidden).toBe(false);
    const field = (label: string) => {
      const id = [...form.querySelectorAll("label")].find((l) => l.textContent === label)!.htmlFor;
      return form.querySelector<HTMLInputElement>(`#${id}`)!;
    };
    getButton(form, "Add").click(); // nothing typed: a hint, nothing sent
    expect(model.sent).toEqual([]);
    field("Name").value = "srv";
    field("Model or URL").value = "http://127.0.0.1:8000/v1";
    field("Served model name").value = "qwen";
    form.requestSubmit();
    expect(model.sent).toEqual([{ kind: "add", name: "srv", spec: "http://127.0.0.1:8000/v1", model: "qwen" }]);
    expect(form.hidden).toBe(true);
    model.custom({ kind: "notice", level: "warning", text: "Unknown source 'x'" });
    expect(view.el.querySelector(".nbchat-notice")?.textContent).toBe("Unknown source 'x'");
  });

  it("blind mode: letters only, vote buttons after a finished turn, Reveal", () => {
    const turn: TurnInfo = { turn: 1, prompt: "hi", columns: ["c1", "c2"], done: false, vote: null };
    const model = new FakeCompareModel({
      blind: true,
      _columns: [column("c1", "A", { label: "" }), column("c2", "B", { label: "" })],
      _turns: [turn],
    });
    mount(model);
    expect([...view.el.querySelectorAll('[role="region"]')].map((r) => r.getAttribute("aria-label"))).toEqual(["A", "B"]);
    expect(region("c1").querySelector<HTMLElement>(".nbchat-compare-label")?.hidden).toBe(true);
    expect(queryButton(view.el, "A is better")).toBeNull(); // still streaming
    model.update({ _turns: [{ ...turn, done: true }] });
    getButton(view.el, "B is better").click();
    getButton(view.el, "Tie").click();
    getButton(view.el, "Reveal").click();
    expect(model.sent).toEqual([
      { kind: "vote", turn: 1, winner: "c2" },
      { kind: "vote", turn: 1, winner: "tie" },
      { kind: "reveal" },
    ]);
    model.update({
      revealed: true,
      _columns: [column("c1", "alpha"), column("c2", "beta")],
      _turns: [{ ...turn, done: true, vote: "c2" }],
    });
    expect(view.el.querySelector(".nbchat-compare-vote")?.textContent).toContain("You voted: beta is better.");
    expect(queryButton(view.el, "Reveal")).toBeNull();
    // the toggle writes the trait
    const toggle = view.el.querySelector<HTMLInputElement>('.nbchat-compare-toolbar input[type="checkbox"]')!;
    toggle.click();
    expect(model.state.blind).toBe(false);
    expect(model.saves).toBe(1);
  });

  it("shared settings apply to every column; a column's own settings to that column", () => {
    const model = new FakeCompareModel({
      _columns: [column("c1", "alpha"), column("c2", "beta", { settings: { ...settings, temperature: 0 } })],
    });
    mount(model);
    const shared = view.el.querySelector<HTMLElement>(".nbchat-compare > .nbchat-compare-settings-form")!;
    expect(input(shared, "Temperature").value).toBe("");
    expect(input(shared, "Temperature").placeholder).toBe("mixed");
    expect(input(shared, "Max new tokens").value).toBe("64");
    const temp = input(shared, "Temperature");
    temp.value = "1.2";
    temp.dispatchEvent(new Event("change"));
    const own = input(region("c1"), "Max new tokens");
    own.value = "12";
    own.dispatchEvent(new Event("change"));
    expect(model.sent).toEqual([
      { kind: "settings", values: { temperature: 1.2 } },
      { kind: "settings", column: "c1", values: { max_new_tokens: 12 } },
    ]);
  });

  it("settings forms show an administrator's caps and send values above them lowered", () => {
    const model = new FakeCompareModel({
      _columns: [column("c1", "alpha")],
      limits: { max_new_tokens: 100, temperature: 1.2 },
    });
    mount(model);
    const shared = view.el.querySelector<HTMLElement>(".nbchat-compare > .nbchat-compare-settings-form")!;
    for (const root of [shared, region("c1")]) {
      expect(input(root, "Max new tokens").max).toBe("100");
      expect(input(root, "Max new tokens").title).toContain("administrator");
      expect(input(root, "Temperature").max).toBe("1.2");
    }
    const tokens = input(shared, "Max new tokens");
    tokens.value = "4000";
    tokens.dispatchEvent(new Event("change"));
    expect(tokens.value).toBe("100");
    expect(model.sent).toEqual([{ kind: "settings", values: { max_new_tokens: 100 } }]);
  });

  it("diffs two answers of a turn word by word", () => {
    const model = threeColumns();
    model.update({
      _turns: [{ turn: 1, prompt: "Math?", columns: ["c1", "c2", "c3"], done: true, vote: null }],
      _messages: {
        c1: [msg("u1", "user", "Math?"), msg("a1", "assistant", "Math was discovered by people.")],
        c2: [msg("u2", "user", "Math?"), msg("a2", "assistant", "Math was invented by people.")],
        c3: [msg("u3", "user", "Math?"), msg("a3", "assistant", "Both.")],
      },
    });
    mount(model);
    getButton(view.el, "Compare answers").click();
    const diff = view.el.querySelector<HTMLElement>(".nbchat-diff")!;
    expect([...diff.querySelectorAll("del")].map((n) => n.textContent)).toEqual(["discovered"]);
    expect([...diff.querySelectorAll("ins")].map((n) => n.textContent)).toEqual(["invented"]);
    expect(view.el.querySelector(".nbchat-diff-summary")?.textContent).toContain("1 words removed, 1 added");
    const second = view.el.querySelectorAll<HTMLSelectElement>(".nbchat-diff-field select")[2];
    second.value = "c3";
    second.dispatchEvent(new Event("change"));
    expect(diff.textContent).toContain("Both.");
    // replies are text, never markup
    const { nodes } = renderDiff("a <b>x</b>", "a <i>y</i>");
    const holder = document.createElement("div");
    holder.append(...nodes);
    expect(holder.querySelector("b, i")).toBeNull();
  });

  it("asks for partial replies when opened mid-stream and cleans up its listeners", () => {
    const model = threeColumns();
    model.update({ _messages: { c1: [msg("u1", "user", "hi"), msg("a1", "assistant", "par", { status: "streaming" })] } });
    mount(model);
    expect(model.sent).toEqual([{ kind: "sync" }]);
    model.custom({ kind: "sync", column: "c1", id: "a1", text: "partial so far" });
    const box = getTextbox(view.el, "Message");
    key(box, "d"); // plain keys stay inside the widget (JupyterLab command mode)
    view.unmount();
    expect(model.listenerCount()).toBe(0);
    expect(view.el.querySelector(".nbchat-compare")).toBeNull();
  });

  it("puts a refused prompt back in the box, like Chat", () => {
    const model = threeColumns();
    mount(model);
    expect(getTextbox(view.el, "Message").value).toBe("");
    model.custom({ kind: "notice", level: "warning", text: "beta still answering", restore: "my prompt" });
    expect(getTextbox(view.el, "Message").value).toBe("my prompt");
  });

  for (const event of ["comm_live_update", "comm:close"]) {
    it(`says when the kernel is gone (${event}) and stops sending; the answers stay readable`, () => {
      const model = threeColumns();
      model.update({ _messages: { c1: [msg("u1", "user", "hi"), msg("a1", "assistant", "hello")] } });
      mount(model);
      const banner = view.el.querySelector<HTMLElement>(".nbchat-disconnected")!;
      expect(banner.hidden).toBe(true);
      model.trigger(event);
      expect(banner.hidden).toBe(false);
      expect(banner.getAttribute("role")).toBe("alert");
      expect(view.el.querySelector<HTMLElement>(".nbchat-compare")!.dataset.connected).toBe("false");
      expect(getButton(view.el, "Send").disabled).toBe(true);
      expect(getButton(view.el, "Add model").disabled).toBe(true);
      const box = getTextbox(view.el, "Message");
      box.value = "anyone?";
      key(box, "Enter");
      expect(model.sent).toEqual([]);
      expect(assistantText("c1")).toEqual(["hello"]);
    });
  }

  it("stops listening once its DOM is dropped without a dispose (an output refresh)", () => {
    vi.useFakeTimers();
    try {
      const model = threeColumns();
      mount(model);
      vi.advanceTimersByTime(DETACH_CHECK_MS); // seen in the page
      view.el.replaceChildren(); // the front-end replaced the output
      vi.advanceTimersByTime(DETACH_CHECK_MS);
      expect(model.listenerCount()).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("renders a long reply in chunks over several frames, and streams it re-rendering only the tail", () => {
    let text = "";
    for (let i = 0; text.length < 3 * WHOLE_MAX; i++) text += `Paragraph ${i}: ${"word ".repeat(150)}\n\n`;
    const paragraphs = text.split("\n\n").length - 1;
    const model = threeColumns();
    model.update({ _messages: { c1: [msg("u1", "user", "go"), msg("a1", "assistant", text)] } });
    const frames = mount(model);
    const answer = () => region("c1").querySelector<HTMLElement>('[data-role="assistant"] .nbchat-content')!;
    let rounds = 0;
    while (frames.pending) {
      frames.run();
      rounds += 1;
    }
    expect(rounds).toBeGreaterThan(1); // not all in one frame
    expect(answer().querySelector(".nbchat-rendering")).toBeNull();
    expect(answer().querySelectorAll("p").length).toBe(paragraphs);

    // streaming: the same reply arrives in deltas; the kept chunks are not rebuilt per frame
    model.update({ status: "generating", _messages: { c2: [msg("u2", "user", "go"), msg("a2", "assistant", "", { status: "streaming" })] } });
    const streamed = () => region("c2").querySelector<HTMLElement>('[data-role="assistant"] .nbchat-content')!;
    let firstChunk: Element | null = null;
    for (let at = 0; at < text.length; at += 4000) {
      model.custom({ kind: "delta", column: "c2", id: "a2", text: text.slice(at, at + 4000) });
      while (frames.pending) frames.run();
      if (at > 2 * WHOLE_MAX && !firstChunk) firstChunk = streamed().querySelector(".nbchat-chunks > .nbchat-chunk");
    }
    expect(firstChunk).not.toBeNull();
    expect(streamed().querySelector(".nbchat-chunks > .nbchat-chunk")).toBe(firstChunk); // kept, not re-rendered
    expect(streamed().querySelector(".nbchat-typing")).not.toBeNull();
  });

  it("shows starter prompts until the first turn, and sends one on a click", () => {
    const model = new FakeCompareModel({ _columns: [column("c1", "alpha")], prompts: ["What is a token?"] } as Partial<CompareTraits>);
    mount(model);
    const card = view.el.querySelector<HTMLButtonElement>('[data-testid="nbchat-prompt-0"]')!;
    expect(card.closest<HTMLElement>(".nbchat-prompts")!.hidden).toBe(false);
    card.click();
    expect(model.sent[model.sent.length - 1]).toMatchObject({ kind: "submit", text: "What is a token?" });
    model.update({ _turns: [{ turn: 1, prompt: "What is a token?", columns: ["c1"], done: false, vote: null }] });
    expect(card.closest<HTMLElement>(".nbchat-prompts")!.hidden).toBe(true);
  });

  it("asks the kernel for an export and downloads its answer", () => {
    const model = threeColumns();
    mount(model);
    const created = vi.fn(() => "blob:x");
    URL.createObjectURL = created;
    URL.revokeObjectURL = vi.fn();
    const clicked: string[] = [];
    const spy = vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicked.push(this.download);
    });
    view.el.querySelector<HTMLButtonElement>('[data-testid="nbchat-export-markdown"]')!.click();
    expect(model.sent[model.sent.length - 1]).toEqual({ kind: "export", format: "markdown" });
    model.custom({ kind: "export", format: "markdown", text: "# nbchat comparison", filename: "compare-3-models.md" });
    expect(created).toHaveBeenCalledTimes(1);
    expect(clicked).toEqual(["compare-3-models.md"]);
    spy.mockRestore();
  });
});

describe("code blocks in Compare", () => {
  afterEach(() => delete document.body.dataset.nbchatCells);
  const reply = [msg("u1", "user", "code?"), msg("a1", "assistant", "```python\nx = 1\n```")];

  it("have Copy only where no notebook extension marked the page", () => {
    const model = threeColumns();
    model.update({ _messages: { c1: reply, c2: [], c3: [] } });
    mount(model).run();
    expect(region("c1").querySelectorAll(".nbchat-code-copy")).toHaveLength(1);
    expect(region("c1").querySelector(".nbchat-code-cell")).toBeNull();
  });

  it("get Insert below and Replace active cell beside Copy where it did", () => {
    document.body.dataset.nbchatCells = "1";
    const model = threeColumns();
    model.update({ _messages: { c1: reply, c2: [], c3: [] } });
    mount(model).run();
    const labels = [...region("c1").querySelectorAll(".nbchat-code-tools button")].map((b) => b.textContent);
    expect(labels).toEqual(["Insert below", "Replace active cell", "Copy code"]);
  });
});
