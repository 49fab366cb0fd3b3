import { describe, expect, it } from "vitest";
import { mountChat } from "../chat/widget";
import { askText } from "../chat/notebook";
import { FakeModel, mountPoint } from "./fake_model";

const view = mountPoint();

function mount(model: FakeModel): void {
  view.keep(mountChat(model.asModel(), view.el));
}

const PREVIEW = { first: 12, last: 17, cells: 4, tokens: 812, text: "notebook (text/x-python):\n```\n# In [17]:\nx = 1\n```" };

function send(text: string): void {
  const box = view.el.querySelector<HTMLTextAreaElement>("[data-testid=nbchat-input]")!;
  box.value = text;
  box.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
}

describe("the notebook context chip", () => {
  it("is hidden while the context is off and says the cells and tokens when on", () => {
    const model = new FakeModel({ notebook_context: "off", context_preview: {} });
    mount(model);
    const chip = view.el.querySelector<HTMLDetailsElement>(".nbchat-context-chip")!;
    expect(chip.hidden).toBe(true);
    model.update({ notebook_context: "notebook", context_preview: PREVIEW });
    expect(chip.hidden).toBe(false);
    expect(chip.querySelector(".nbchat-context-chip-text")!.textContent).toBe("Context: cells 12–17 · 812 tokens");
    expect(chip.querySelector("pre")!.textContent).toBe(PREVIEW.text); // exactly what the kernel will send
  });

  it("removed, sends the next message without the context, then comes back", () => {
    const model = new FakeModel({ status: "ready", notebook_context: "notebook", context_preview: PREVIEW });
    mount(model);
    view.el.querySelector<HTMLButtonElement>(".nbchat-context-remove")!.click();
    expect(view.el.querySelector(".nbchat-context-chip-text")!.textContent).toBe("Context removed for the next message");
    send("first");
    send("second");
    const submits = model.sent.filter((m) => m.kind === "submit");
    expect(submits).toEqual([
      { kind: "submit", text: "first", context: false },
      { kind: "submit", text: "second" },
    ]);
    expect(view.el.querySelector(".nbchat-context-chip-text")!.textContent).toContain("812 tokens");
  });

  it("has a toggle in Advanced options that writes the trait", () => {
    const model = new FakeModel({ notebook_context: "off" });
    mount(model);
    const label = [...view.el.querySelectorAll("label")].find((l) => l.textContent?.startsWith("Notebook context"))!;
    const box = view.el.ownerDocument.getElementById(label.htmlFor) as HTMLInputElement;
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    expect(model.state.notebook_context).toBe("notebook");
  });
});

describe("Ask the chat's draft", () => {
  it("fills the message box once, in the view's language, with the error and the code in fences", () => {
    const model = new FakeModel({ status: "ready" });
    mount(model);
    const draft = { id: 3, kind: "ZeroDivisionError", error: "ZeroDivisionError: division by zero", code: "1 / 0\n```" };
    model.update({ ask_draft: draft });
    const box = view.el.querySelector<HTMLTextAreaElement>("[data-testid=nbchat-input]")!;
    expect(box.value).toBe(askText(draft));
    expect(box.value).toContain("This cell failed with ZeroDivisionError.");
    expect(box.value).toContain("````python\n1 / 0\n```\n````"); // a fence longer than any in the code
    expect(model.sent.filter((m) => m.kind === "submit")).toEqual([]); // nothing is sent by itself
    const second = document.createElement("div");
    document.body.append(second);
    const cleanup = mountChat(model.asModel(), second); // a second view of the same model does not fill its box again
    expect(second.querySelector<HTMLTextAreaElement>("[data-testid=nbchat-input]")!.value).toBe("");
    cleanup();
    second.remove();
  });
});
