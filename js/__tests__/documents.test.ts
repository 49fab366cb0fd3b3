// Documents in the widget: citation chips (verified, unverified, the passage as text), the whole/relevant switch,
// the course reader's label and switch, and a document's conversion progress and error chip.
import { afterEach, describe, expect, it } from "vitest";
import { fileKind } from "../attachments";
import { mountChat } from "../chat/widget";
import { mountCompare } from "../compare/widget";
import { renderMarkdown } from "../markdown";
import { I18n } from "../i18n";
import type { Attachment, Citation } from "../types";
import { FakeModel, manualFrames, message } from "./fake_model";

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  document.body.replaceChildren();
});

function mount(model: FakeModel, i18n?: I18n): HTMLElement {
  const el = document.createElement("div");
  document.body.append(el);
  cleanups.push(mountChat(model.asModel(), el, i18n ? { i18n } : {}));
  return el;
}

const PAGE2 = "Table 1: the mitochondria produce 42 units of ATP.";
const HOSTILE = '<script>window.__pwned = 1</script><img src="https://evil.example/x.png" onerror="window.__pwned = 2"> **bold**';

function cite(marker: string, extra: Partial<Citation> = {}): Citation {
  return { marker, document: "reader.pdf", sha256: "a".repeat(64), locator: "p. 2", page: 2, passages: ["p2"], text: PAGE2, verified: true, reason: "", ...extra };
}

function reply(content: string, citations: Citation[]) {
  return message("a1", "assistant", content, { stats: { tokens: 9, citations } });
}

function chips(el: HTMLElement): HTMLButtonElement[] {
  return [...el.querySelectorAll<HTMLButtonElement>(".nbchat-msg-assistant button.nbchat-cite")];
}

describe("citation chips", () => {
  it("a resolved marker becomes a chip that opens the exact passage sent, and closes again", () => {
    const model = new FakeModel({ _messages: [message("u1", "user", "How much ATP?"), reply("It is 42 units [reader.pdf p. 2].", [cite("[reader.pdf p. 2]")])] });
    const el = mount(model);
    const [chip] = chips(el);
    expect(chip.textContent).toBe("reader.pdf p. 2");
    expect(chip.dataset.verified).toBe("true");
    expect(el.querySelector(".nbchat-cite-passage")).toBeNull();
    chip.click();
    const panel = el.querySelector(".nbchat-cite-passage")!;
    expect(panel.querySelector(".nbchat-cite-text")!.textContent).toBe(PAGE2);
    expect(panel.textContent).toContain("sent with this question");
    expect(chip.getAttribute("aria-expanded")).toBe("true");
    chip.click();
    expect(el.querySelector(".nbchat-cite-passage")).toBeNull();
    expect(chip.getAttribute("aria-expanded")).toBe("false");
  });

  it("a citation of a passage that was not sent shows as unverified; a bracket the kernel did not resolve stays text", () => {
    const notSent = cite("[reader.pdf p. 7]", { locator: "p. 7", page: 7, verified: false, reason: "not sent", text: "Page seven." });
    const noSuch = cite("[reader.pdf p. 99]", { locator: "p. 99", page: 99, verified: false, reason: "no such passage", text: "", passages: [] });
    const content = "See [reader.pdf p. 7] and [reader.pdf p. 99], also [see p. 3 of the manual].";
    const el = mount(new FakeModel({ _messages: [reply(content, [notSent, noSuch])] }));
    const found = chips(el);
    expect(found.map((c) => [c.textContent, c.dataset.verified])).toEqual([["⚠ reader.pdf p. 7", "false"], ["⚠ reader.pdf p. 99", "false"]]);
    found[0].click();
    expect(el.querySelector(".nbchat-cite-passage")!.textContent).toContain("Unverified: this passage was not sent");
    found[1].click(); // one passage open at a time
    expect(el.querySelectorAll(".nbchat-cite-passage")).toHaveLength(1);
    expect(el.querySelector(".nbchat-cite-passage")!.textContent).toContain("reader.pdf has no such passage");
    expect(el.querySelector(".nbchat-msg-assistant .nbchat-content")!.textContent).toContain("[see p. 3 of the manual]");
  });

  it("hostile passage text stays text: no element, no script, no image request", () => {
    const el = mount(new FakeModel({ _messages: [reply("Per [reader.pdf p. 2].", [cite("[reader.pdf p. 2]", { text: HOSTILE, document: 'x"><img src=y onerror=alert(1)>.pdf' })])] }));
    const [chip] = chips(el);
    chip.click();
    const panel = el.querySelector(".nbchat-cite-passage")!;
    expect(panel.querySelector(".nbchat-cite-text")!.textContent).toBe(HOSTILE);
    expect(panel.querySelectorAll("script, img, strong.bold")).toHaveLength(0);
    expect(el.querySelectorAll(".nbchat-msg-assistant img, .nbchat-msg-assistant script")).toHaveLength(0);
    expect((window as any).__pwned).toBeUndefined();
  });

  it("markers are found after Markdown and sanitising: linkify does not split a name, links and code stay as they are", () => {
    const html = renderMarkdown("A [notes.md §4] B [a link](https://example.org) `[x.pdf p. 1]` [1]");
    const box = document.createElement("div");
    box.innerHTML = html;
    expect([...box.querySelectorAll("span.nbchat-cite-marker")].map((s) => s.textContent)).toEqual(["[notes.md §4]"]);
    expect(box.querySelector("a")!.getAttribute("href")).toBe("https://example.org");
    expect(box.querySelector("code")!.textContent).toBe("[x.pdf p. 1]");
    // a reply cannot forge a chip: only the kernel's citations make one
    const el = mount(new FakeModel({ _messages: [reply("Fake [notes.md §4].", [])] }));
    expect(chips(el)).toHaveLength(0);
  });

  it("a bracket citing two passages gets a chip for each", () => {
    const second = cite("[reader.pdf p. 3]", { locator: "p. 3", page: 3, text: "Page three." });
    const el = mount(new FakeModel({ _messages: [reply("Both [reader.pdf p. 2; reader.pdf p. 3].", [cite("[reader.pdf p. 2]"), second])] }));
    expect(chips(el).map((c) => c.textContent)).toEqual(["reader.pdf p. 2", "reader.pdf p. 3"]);
  });

  it("chips appear when the citations arrive after the text, and in a Compare column", () => {
    const model = new FakeModel({ _messages: [message("a1", "assistant", "Per [reader.pdf p. 2].", { stats: { tokens: 3 } })] });
    const el = mount(model);
    expect(chips(el)).toHaveLength(0);
    model.update({ _messages: [reply("Per [reader.pdf p. 2].", [cite("[reader.pdf p. 2]")])] });
    expect(chips(el)).toHaveLength(1);

    const settings = { temperature: 0.7, max_new_tokens: 64, top_p: 1, system_prompt: "", thinking: null };
    const compare = new FakeModel() as any;
    Object.assign(compare.state, {
      _columns: [{ id: "c1", name: "alpha", label: "alpha · fake", letter: "", settings, status: "ready", status_text: "ready" }],
      _messages: { c1: [{ ...reply("Per [reader.pdf p. 2].", [cite("[reader.pdf p. 2]")]), turn: 1 }] },
      _turns: [],
      blind: false,
      revealed: false,
    });
    const host = document.createElement("div");
    document.body.append(host);
    const frames = manualFrames();
    cleanups.push(mountCompare(compare, host, { schedule: frames.schedule }));
    frames.run();
    const chip = host.querySelector<HTMLButtonElement>("button.nbchat-cite");
    expect(chip?.textContent).toBe("reader.pdf p. 2");
    chip!.click();
    expect(host.querySelector(".nbchat-cite-text")!.textContent).toBe(PAGE2);
  });

  it("speak Chinese", () => {
    const el = mount(new FakeModel({ _messages: [reply("[reader.pdf p. 7]", [cite("[reader.pdf p. 7]", { verified: false, reason: "not sent" })])] }), new I18n("zh"));
    chips(el)[0].click();
    expect(el.querySelector(".nbchat-cite-status")!.textContent).toBe("未核实：该段落没有随问题发送");
  });
});

const DOC: Attachment = {
  kind: "document",
  media_type: "application/pdf",
  name: "reader.pdf",
  sha256: "b".repeat(64),
  note: "",
  mode: "",
  passages: [],
  document: { unit: "page", pages: 40, passages: 40, tokens: 9000, converter: "pypdfium2" },
};

async function attachPdf(model: FakeModel, el: HTMLElement): Promise<string> {
  const drop = new Event("drop", { cancelable: true, bubbles: true }) as DragEvent;
  const file = new File([new Uint8Array([37, 80, 68, 70])], "reader.pdf", { type: "application/pdf" });
  Object.defineProperty(drop, "dataTransfer", { value: { files: [file], types: ["Files"] } });
  el.querySelector("textarea")!.dispatchEvent(drop);
  for (let i = 0; i < 100 && !model.sent.some((m) => m.kind === "attach"); i++) await new Promise((r) => setTimeout(r, 20));
  return (model.sent.find((m) => m.kind === "attach") as any).token;
}

describe("document attachments", () => {
  it("are taken by the tray (PDF, Word, slides, spreadsheets, notebooks)", () => {
    for (const name of ["a.pdf", "b.docx", "c.pptx", "d.xlsx", "e.ipynb"]) expect(fileKind({ name, type: "" })).toBe("document");
    expect(fileKind({ name: "x", type: "application/pdf" })).toBe("document");
  });

  it("show conversion progress, then what the next message sends against the budget, and switch it", async () => {
    const model = new FakeModel({ documents_mode: "auto", documents_info: { budget_tokens: 4096, window: 8192, budget: 0.5, reader: [] } });
    const el = mount(model);
    const token = await attachPdf(model, el);
    model.custom({ kind: "attach-progress", token, name: "reader.pdf", done: 0, total: null });
    expect(el.querySelector(".nbchat-tray")!.textContent).toContain("reader.pdf: converting…");
    model.custom({ kind: "attach-progress", token, name: "reader.pdf", done: 12, total: 40 });
    expect(el.querySelector(".nbchat-tray")!.textContent).toContain("12 / 40 pages");
    expect((el.querySelector(".nbchat-attach-progress") as HTMLProgressElement).value).toBe(12);
    model.custom({ kind: "attach-progress", token, name: "reader.pdf", done: 0, total: null }); // late: ignored
    expect(el.querySelector(".nbchat-tray")!.textContent).toContain("12 / 40 pages");
    model.custom({ kind: "attached", token, attachment: DOC });
    const plan = () => el.querySelector<HTMLElement>(".nbchat-tray .nbchat-doc-plan")!;
    expect(plan().dataset.plan).toBe("relevant"); // 9,000 tokens > 4,096
    expect(plan().textContent).toContain("over the budget of 4,096");
    plan().querySelector<HTMLButtonElement>(".nbchat-doc-switch")!.click();
    expect(model.get("documents_mode")).toBe("whole");
    expect(plan().dataset.plan).toBe("whole");
    expect((el.querySelector(".nbchat-documents-select") as HTMLSelectElement).value).toBe("whole");
    // the choice under Advanced options is the same switch
    const select = el.querySelector(".nbchat-documents-select") as HTMLSelectElement;
    select.value = "relevant";
    select.dispatchEvent(new Event("change"));
    expect(model.get("documents_mode")).toBe("relevant");
    expect(plan().dataset.plan).toBe("relevant");
    el.querySelector("textarea")!.value = "How much ATP?";
    (el.querySelector(".nbchat-primary") as HTMLButtonElement).click();
    expect(model.sent[model.sent.length - 1]).toEqual({ kind: "submit", text: "How much ATP?", attachments: [token] });
  });

  it("a failed conversion leaves an error chip saying why, and the message box keeps its text", async () => {
    const model = new FakeModel();
    const el = mount(model);
    el.querySelector("textarea")!.value = "Summarise it";
    const token = await attachPdf(model, el);
    model.custom({ kind: "attached", token, error: "reader.pdf is encrypted: remove the password and attach it again." });
    const chip = el.querySelector(".nbchat-tray .nbchat-attach-error")!;
    expect(chip.textContent).toContain("reader.pdf is encrypted");
    expect(chip.getAttribute("role")).toBe("alert");
    expect(el.querySelector("textarea")!.value).toBe("Summarise it");
    expect((el.querySelector(".nbchat-tray") as HTMLElement).hidden).toBe(false);
    chip.querySelector("button")!.click();
    expect((el.querySelector(".nbchat-tray") as HTMLElement).hidden).toBe(true);
  });

  it("a sent document says how it went", () => {
    const sent = { ...DOC, mode: "relevant" as const, passages: ["p2", "p3", "p9"], note: "relevant: 3 of 40 passages (budget 4,096 tokens)" };
    const el = mount(new FakeModel({ _messages: [message("u1", "user", "How much ATP?", { attachments: [sent] })] }));
    const chip = el.querySelector<HTMLElement>(".nbchat-msg-user .nbchat-document")!;
    expect(chip.querySelector(".nbchat-doc-mode")!.textContent).toBe("relevant passages: 3 of 40");
    expect(chip.title).toContain("budget 4,096 tokens");
  });
});

describe("the course reader", () => {
  it("is named above the box with a per-chat off switch; hidden when the administrator set none", () => {
    const model = new FakeModel({ course_reader: true, documents_info: { budget_tokens: 4096, reader: ["a.pdf", "b.pdf", "c.docx"], reader_problems: [] } });
    const el = mount(model);
    const reader = el.querySelector<HTMLElement>(".nbchat-course-reader")!;
    expect(reader.hidden).toBe(false);
    expect(reader.textContent).toBe("Course reader: 3 documents");
    expect(reader.title).toContain("c.docx");
    const toggle = reader.querySelector("input")!;
    expect(toggle.checked).toBe(true);
    toggle.checked = false;
    toggle.dispatchEvent(new Event("change"));
    expect(model.get("course_reader")).toBe(false);
    expect(reader.textContent).toBe("Course reader: 3 documents (off for this chat)");
    model.update({ documents_info: { reader: [] } });
    expect(reader.hidden).toBe(true);
  });
});
