import { describe, expect, it, vi } from "vitest";
import type { ChatMessage } from "../types";
import { mountChat } from "../chat/widget";
import { FakeModel, manualFrames, message, mountPoint } from "./fake_model";
import { getButton, getTextbox, key, queryButton, settle } from "./queries";

const view = mountPoint({
  teardown: () => {
    vi.unstubAllGlobals();
    vi.useRealTimers();
  },
});

function mount(model: FakeModel): void {
  view.keep(mountChat(model.asModel(), view.el, { schedule: manualFrames().schedule }));
}

const node = (id: string) => {
  const found = view.el.querySelector<HTMLElement>(`[data-id="${id}"]`);
  if (!found) throw new Error(`no message ${id}`);
  return found;
};
const ids = () => [...view.el.querySelectorAll("[data-id]")].map((n) => n.getAttribute("data-id"));

const user = (id: string, content: string, extra: Partial<ChatMessage> = {}) => message(id, "user", content, extra);
const reply = (id: string, content: string, extra: Partial<ChatMessage> = {}) => message(id, "assistant", content, extra);

describe("version switcher", () => {
  it("shows '2/3' only when a message has alternatives", () => {
    const model = new FakeModel({
      _messages: [user("u1", "Hi", { branch: [1, 1] }), reply("a1", "Hello", { parent: "u1", branch: [2, 3] })],
    });
    mount(model);
    expect(node("u1").querySelector(".nbchat-branch")).toBeNull();
    expect(queryButton(node("u1"), "Previous version")).toBeNull();
    expect(node("u1").textContent).not.toContain("1/1");
    const switcher = node("a1").querySelector(".nbchat-branch");
    expect(switcher?.textContent).toContain("2/3");
    expect(getButton(node("a1"), "Previous version").disabled).toBe(false);
    expect(getButton(node("a1"), "Next version").disabled).toBe(false);
  });

  it("works without the tree fields (older kernels): no switcher, everything sent", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi")] });
    mount(model);
    expect(node("u1").querySelector(".nbchat-branch")).toBeNull();
    expect(node("u1").querySelector(".nbchat-not-sent")).toBeNull();
    expect(node("u1").dataset.inContext).toBe("true");
  });

  it("sends {kind: 'branch', id, step} for the previous and next version", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi"), reply("a1", "Hello", { branch: [2, 3] })] });
    mount(model);
    getButton(node("a1"), "Previous version").click();
    getButton(node("a1"), "Next version").click();
    expect(model.sent).toEqual([
      { kind: "branch", id: "a1", step: -1 },
      { kind: "branch", id: "a1", step: 1 },
    ]);
  });

  it("disables the arrow at either end, and both while generating", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi", { branch: [1, 2] }), reply("a1", "Hello", { branch: [3, 3] })] });
    mount(model);
    expect(getButton(node("u1"), "Previous version").disabled).toBe(true);
    expect(getButton(node("u1"), "Next version").disabled).toBe(false);
    expect(getButton(node("a1"), "Next version").disabled).toBe(true);
    model.update({ status: "generating" });
    expect(getButton(node("u1"), "Next version").disabled).toBe(true);
    getButton(node("u1"), "Next version").click();
    expect(model.sent).toEqual([]);
  });

  it("after a switch, replaces the later nodes and keeps the earlier ones", () => {
    const model = new FakeModel({
      _messages: [
        user("u1", "Hi"),
        reply("a1", "Hello", { parent: "u1" }),
        user("u2", "Tell me a joke", { parent: "a1", branch: [1, 2] }),
        reply("a2", "Knock knock", { parent: "u2" }),
        user("u3", "Who's there?", { parent: "a2" }),
      ],
    });
    mount(model);
    const [u1, a1] = [node("u1"), node("a1")];
    getButton(node("u2"), "Next version").click();
    expect(model.sent).toEqual([{ kind: "branch", id: "u2", step: 1 }]);

    // Python selects the other version of u2 and sends the new visible branch.
    model.update({
      _messages: [
        user("u1", "Hi"),
        reply("a1", "Hello", { parent: "u1" }),
        user("u2b", "Tell me a fact", { parent: "a1", branch: [2, 2] }),
        reply("a2b", "Honey never spoils.", { parent: "u2b" }),
      ],
    });
    expect(ids()).toEqual(["u1", "a1", "u2b", "a2b"]);
    expect(node("u1")).toBe(u1);
    expect(node("a1")).toBe(a1);
    expect(node("u2b").querySelector(".nbchat-branch")?.textContent).toContain("2/2");
    expect(view.el.querySelector('[data-id="u3"]')).toBeNull();

    // And back again: the old nodes come back in the order given.
    model.update({
      _messages: [
        user("u1", "Hi"),
        reply("a1", "Hello", { parent: "u1" }),
        user("u2", "Tell me a joke", { parent: "a1", branch: [1, 2] }),
        reply("a2", "Knock knock", { parent: "u2" }),
      ],
    });
    expect(ids()).toEqual(["u1", "a1", "u2", "a2"]);
    expect(node("u1")).toBe(u1);
    expect(node("a2").querySelector(".nbchat-content")?.textContent?.trim()).toBe("Knock knock");
  });
});

describe("editing a user message", () => {
  function startEdit(model: FakeModel, id = "u1"): HTMLTextAreaElement {
    getButton(node(id), "Edit").click();
    const box = getTextbox(node(id), "Edit message");
    expect(model.sent).toEqual([]);
    return box;
  }

  it("offers Edit on user messages only", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi"), reply("a1", "Hello")] });
    mount(model);
    expect(queryButton(node("u1"), "Edit")).not.toBeNull();
    expect(queryButton(node("a1"), "Edit")).toBeNull();
  });

  it("turns the bubble into a labelled text box; Enter sends {kind: 'edit', id, text}", () => {
    const model = new FakeModel({ _messages: [user("u1", "What is 2+2?"), reply("a1", "5")] });
    mount(model);
    const box = startEdit(model);
    expect(box.value).toBe("What is 2+2?");
    expect(document.activeElement).toBe(box);
    expect(node("u1").querySelector<HTMLElement>(".nbchat-content")?.hidden).toBe(true);
    expect(getButton(node("u1"), "Save & send")).toBeTruthy();
    expect(getButton(node("u1"), "Cancel")).toBeTruthy();

    box.value = "What is 2+3?";
    expect(key(box, "Enter", { shiftKey: true }).defaultPrevented).toBe(false);
    expect(model.sent).toEqual([]);
    expect(key(box, "Enter").defaultPrevented).toBe(true);
    expect(model.sent).toEqual([{ kind: "edit", id: "u1", text: "What is 2+3?" }]);
    expect(node("u1").querySelector("textarea")).toBeNull();
    expect(node("u1").querySelector<HTMLElement>(".nbchat-content")?.hidden).toBe(false);
  });

  it("sends with the Save & send button", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi")] });
    mount(model);
    const box = startEdit(model);
    box.value = "Hello";
    getButton(node("u1"), "Save & send").click();
    expect(model.sent).toEqual([{ kind: "edit", id: "u1", text: "Hello" }]);
  });

  it("Escape and Cancel leave the message as it was", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi")] });
    mount(model);
    let box = startEdit(model);
    box.value = "changed";
    key(box, "Escape");
    expect(node("u1").querySelector("textarea")).toBeNull();
    expect(node("u1").querySelector(".nbchat-content")?.textContent).toBe("Hi");

    box = startEdit(model);
    expect(box.value).toBe("Hi");
    getButton(node("u1"), "Cancel").click();
    expect(node("u1").querySelector("textarea")).toBeNull();
    expect(model.sent).toEqual([]);
  });

  it("sends nothing for unchanged or empty text", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi")] });
    mount(model);
    let box = startEdit(model);
    key(box, "Enter");
    expect(model.sent).toEqual([]);
    expect(node("u1").querySelector("textarea")).toBeNull(); // unchanged: just closes

    box = startEdit(model);
    box.value = "   \n ";
    key(box, "Enter");
    getButton(node("u1"), "Save & send").click();
    expect(model.sent).toEqual([]);
    expect(node("u1").querySelector("textarea")).toBe(box); // empty: stays open to fix
  });

  it("is disabled while a reply is generating", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi")], status: "generating" });
    mount(model);
    expect(getButton(node("u1"), "Edit").disabled).toBe(true);
    model.update({ status: "ready" });
    const box = startEdit(model);
    model.update({ status: "generating" });
    box.value = "Changed";
    key(box, "Enter");
    expect(getButton(node("u1"), "Save & send").disabled).toBe(true);
    expect(model.sent).toEqual([]);
  });

  it("keeps the draft while the kernel updates the list", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi")] });
    mount(model);
    const box = startEdit(model);
    box.value = "draft";
    model.update({ _messages: [user("u1", "Hi", { pinned: true }), reply("a1", "Hello")] });
    expect(getTextbox(node("u1"), "Edit message")).toBe(box);
    expect(box.value).toBe("draft");
  });
});

describe("regenerate", () => {
  it("is offered on the last assistant message only, and moves with it", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi"), reply("a1", "Hello"), user("u2", "More")] });
    mount(model);
    expect(queryButton(node("a1"), "Regenerate")).not.toBeNull();
    expect(queryButton(node("u1"), "Regenerate")).toBeNull();

    model.update({ _messages: [...model.state._messages, reply("a2", "Sure")] });
    expect(queryButton(node("a1"), "Regenerate")).toBeNull();
    getButton(node("a2"), "Regenerate").click();
    expect(model.sent).toEqual([{ kind: "regenerate", id: "a2" }]);
  });

  it("is disabled while generating", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi"), reply("a1", "Hello")] });
    mount(model);
    model.update({ status: "generating" });
    const button = getButton(node("a1"), "Regenerate");
    expect(button.disabled).toBe(true);
    button.click();
    expect(model.sent).toEqual([]);
    model.update({ status: "ready" });
    expect(button.disabled).toBe(false);
  });
});

describe("delete, pin, exclude", () => {
  it("send the right messages; the labels follow the state from Python", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi"), reply("a1", "Hello")] });
    mount(model);
    const a1 = node("a1");
    getButton(a1, "Pin").click();
    getButton(a1, "Exclude").click();
    getButton(node("u1"), "Delete").click();
    expect(model.sent).toEqual([
      { kind: "pin", id: "a1", value: true },
      { kind: "exclude", id: "a1", value: true },
      { kind: "delete", id: "u1" },
    ]);
    expect(a1.querySelector(".nbchat-pinned")).toBeNull();

    model.sent.length = 0;
    model.update({
      _messages: [user("u1", "Hi"), reply("a1", "Hello", { pinned: true, excluded: true, in_context: false })],
    });
    expect(node("a1")).toBe(a1);
    expect(queryButton(a1, "Pin")).toBeNull();
    expect(queryButton(a1, "Exclude")).toBeNull();
    expect(a1.querySelector(".nbchat-pinned")).not.toBeNull();
    getButton(a1, "Unpin").click();
    getButton(a1, "Include").click();
    expect(model.sent).toEqual([
      { kind: "pin", id: "a1", value: false },
      { kind: "exclude", id: "a1", value: false },
    ]);
  });

  it("keeps the focus on a toggled button when its label changes", () => {
    const model = new FakeModel({ _messages: [user("u1", "Hi")] });
    mount(model);
    const pin = getButton(node("u1"), "Pin");
    pin.focus();
    pin.click();
    model.update({ _messages: [user("u1", "Hi", { pinned: true })] });
    expect(document.activeElement).toBe(pin);
    expect(pin.textContent).toBe("Unpin");
  });

  it("marks a message left out of the next request as 'not sent', with the reason", () => {
    const model = new FakeModel({
      _messages: [
        user("u1", "Old", { in_context: false }),
        reply("a1", "Older answer", { excluded: true, in_context: false }),
        user("u2", "Now"),
      ],
    });
    mount(model);
    const dropped = node("u1").querySelector<HTMLElement>(".nbchat-not-sent");
    expect(dropped?.textContent).toBe("not sent");
    expect(dropped?.title).toBe("left out to fit the context window");
    expect(node("a1").querySelector<HTMLElement>(".nbchat-not-sent")?.title).toBe("excluded");
    expect(node("u1").dataset.inContext).toBe("false");
    expect(node("u2").querySelector(".nbchat-not-sent")).toBeNull();
    expect(node("u2").dataset.inContext).toBe("true");

    model.update({ _messages: [user("u1", "Old"), reply("a1", "Older answer"), user("u2", "Now")] });
    expect(view.el.querySelector(".nbchat-not-sent")).toBeNull();
  });
});

describe("copy", () => {
  it("copies the message text and shows 'Copied' for a moment", async () => {
    vi.useFakeTimers();
    const writeText = vi.fn(async () => {});
    vi.stubGlobal("navigator", { clipboard: { writeText } });
    const model = new FakeModel({ _messages: [reply("a1", "Some **markdown** text")] });
    mount(model);
    const button = getButton(node("a1"), "Copy");
    button.click();
    await settle();
    expect(writeText).toHaveBeenCalledWith("Some **markdown** text");
    expect(button.textContent).toBe("Copied");
    vi.advanceTimersByTime(2000);
    expect(button.textContent).toBe("Copy");
    expect(model.sent).toEqual([]);
  });

  it("falls back to a hidden text box when the clipboard API is refused", async () => {
    vi.stubGlobal("navigator", { clipboard: { writeText: vi.fn(async () => Promise.reject(new Error("denied"))) } });
    let copied: string | null = null;
    const execCommand = vi.fn((command: string) => {
      copied = command === "copy" ? (document.activeElement as HTMLTextAreaElement).value : null;
      return true;
    });
    Object.defineProperty(document, "execCommand", { configurable: true, value: execCommand });
    try {
      const model = new FakeModel({ _messages: [user("u1", "line one\nline two")] });
      mount(model);
      const button = getButton(node("u1"), "Copy");
      button.focus();
      button.click();
      await settle();
      expect(execCommand).toHaveBeenCalledWith("copy");
      expect(copied).toBe("line one\nline two");
      expect(document.querySelector("textarea.nbchat-copy-buffer")).toBeNull();
      expect(document.activeElement).toBe(button);
      expect(button.textContent).toBe("Copied");
    } finally {
      delete (document as { execCommand?: unknown }).execCommand;
    }
  });

  it("says so when nothing can copy", async () => {
    vi.stubGlobal("navigator", {});
    const model = new FakeModel({ _messages: [user("u1", "Hi")] });
    mount(model);
    const button = getButton(node("u1"), "Copy");
    button.click();
    await settle();
    expect(button.textContent).toBe("Copy failed");
  });
});
