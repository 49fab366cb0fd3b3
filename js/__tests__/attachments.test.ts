import { afterEach, describe, expect, it } from "vitest";
import { fileKind, safeThumbnail } from "../attachments";
import { mentionAt } from "../mention";
import { mountChat } from "../chat/widget";
import { FakeModel, message } from "./fake_model";

const THUMB = "data:image/jpeg;base64,/9j/4AAQSkZJRgABAQAAAQABAAD/2w==";

let cleanups: (() => void)[] = [];
afterEach(() => {
  for (const c of cleanups.splice(0)) c();
  document.body.replaceChildren();
});

function mount(model: FakeModel): HTMLElement {
  const el = document.createElement("div");
  document.body.append(el);
  cleanups.push(mountChat(model.asModel(), el));
  return el;
}

function box(el: HTMLElement): HTMLTextAreaElement {
  return el.querySelector("textarea.nbchat-input") as HTMLTextAreaElement;
}

describe("thumbnails", () => {
  it("are only base64 image data URLs", () => {
    expect(safeThumbnail(THUMB)).toBe(THUMB);
    for (const bad of ["https://evil.example/x.png", "javascript:alert(1)", "data:text/html;base64,PHNjcmlwdD4=",
      'data:image/png;base64,AAAA" onerror="alert(1)', "data:image/svg+xml;base64,PHN2Zz4=", 42, null]) {
      expect(safeThumbnail(bad)).toBe("");
    }
  });

  it("show in the user's bubble; text attachments unfold; a remote URL never becomes an image", () => {
    const model = new FakeModel();
    const el = mount(model);
    model.update({
      _messages: [
        message("u1", "user", "What is this?", {
          attachments: [
            { kind: "image", media_type: "image/png", name: "plot.png", sha256: "a", width: 640, height: 480, thumbnail: THUMB },
            { kind: "image", media_type: "image/png", name: "bad", sha256: "b", thumbnail: "https://evil.example/t.png" },
            { kind: "text", media_type: "text/plain", name: "df", sha256: "c", text: "shape (2, 1)" },
          ],
        }),
      ],
    });
    const imgs = [...el.querySelectorAll(".nbchat-msg-user img")] as HTMLImageElement[];
    expect(imgs.map((i) => [i.getAttribute("src"), i.alt])).toEqual([[THUMB, "plot.png"]]);
    const text = el.querySelector(".nbchat-msg-user details.nbchat-attachment")!;
    expect(text.querySelector("summary")!.textContent).toBe("📎 df");
    expect(text.querySelector("pre")!.textContent).toBe("shape (2, 1)");
  });
});

describe("the attachment tray", () => {
  it("knows which files it can take", () => {
    expect(fileKind({ name: "a.png", type: "image/png" })).toBe("image");
    expect(fileKind({ name: "data.csv", type: "" })).toBe("text");
    expect(fileKind({ name: "a.svg", type: "image/svg+xml" })).toBeNull();
    expect(fileKind({ name: "a.zip", type: "application/zip" })).toBeNull();
  });

  it("uploads a pasted image, shows the kernel's thumbnail, and sends its token with the message", async () => {
    const model = new FakeModel();
    const sentBuffers: unknown[] = [];
    const send = model.send.bind(model);
    model.send = (content: any, _callbacks?: any, buffers?: any) => {
      if (buffers) sentBuffers.push(...buffers);
      send(content);
    };
    const el = mount(model);
    const file = new File([new Uint8Array([137, 80, 78, 71])], "shot.png", { type: "image/png" });
    const paste = new Event("paste", { cancelable: true }) as ClipboardEvent;
    Object.defineProperty(paste, "clipboardData", { value: { files: [file], types: ["Files"] } });
    box(el).dispatchEvent(paste);
    expect(paste.defaultPrevented).toBe(true);
    await new Promise((r) => setTimeout(r, 20));
    const attach = model.sent.find((m) => m.kind === "attach") as any;
    expect(attach).toMatchObject({ kind: "attach", name: "shot.png", media_type: "image/png" });
    expect(new Uint8Array(sentBuffers[0] as ArrayBuffer)).toEqual(new Uint8Array([137, 80, 78, 71]));
    model.custom({ kind: "attached", token: attach.token, attachment: { kind: "image", media_type: "image/png", name: "shot.png", sha256: "x", width: 4, height: 4, thumbnail: THUMB } });
    expect(el.querySelector(".nbchat-tray img")!.getAttribute("src")).toBe(THUMB);
    box(el).value = "What is this?";
    (el.querySelector(".nbchat-primary") as HTMLButtonElement).click();
    expect(model.sent[model.sent.length - 1]).toEqual({ kind: "submit", text: "What is this?", attachments: [attach.token] });
    expect((el.querySelector(".nbchat-tray") as HTMLElement).hidden).toBe(true);
    // the kernel refused it (e.g. a text-only model): text and attachment come back
    model.custom({ kind: "notice", level: "warning", text: "cannot see images", restore: "What is this?",
      attachments: [{ token: attach.token, kind: "image", media_type: "image/png", name: "shot.png", sha256: "x", thumbnail: THUMB }] });
    expect(box(el).value).toBe("What is this?");
    expect(el.querySelector(".nbchat-tray img")!.getAttribute("src")).toBe(THUMB);
  });

  it("says why a file cannot be attached", () => {
    const model = new FakeModel();
    const el = mount(model);
    const drop = new Event("drop", { cancelable: true, bubbles: true }) as DragEvent;
    Object.defineProperty(drop, "dataTransfer", { value: { files: [new File(["x"], "a.zip", { type: "application/zip" })], types: ["Files"] } });
    box(el).dispatchEvent(drop);
    expect(el.querySelector(".nbchat-notice")!.textContent).toContain("a.zip cannot be attached");
    expect(model.sent.some((m) => m.kind === "attach")).toBe(false);
  });

  it("shows the kernel's upload error in the view's language", async () => {
    const model = new FakeModel({ lang: "zh" });
    const el = mount(model);
    const paste = new Event("paste", { cancelable: true }) as ClipboardEvent;
    const file = new File([new Uint8Array([137, 80, 78, 71])], "notes.bin.png", { type: "image/png" });
    Object.defineProperty(paste, "clipboardData", { value: { files: [file], types: ["Files"] } });
    box(el).dispatchEvent(paste);
    for (let i = 0; i < 50 && !model.sent.some((m) => m.kind === "attach"); i++) await new Promise((r) => setTimeout(r, 10));
    const attach = model.sent.find((m) => m.kind === "attach") as any;
    const error = "notes.bin is neither an image (PNG, JPEG, WebP, GIF) nor UTF-8 text; it cannot be attached.";
    model.custom({ kind: "attached", token: attach.token, error, error_i18n: { key: "py.attach.notText", params: { name: "notes.bin" } } });
    expect(el.querySelector(".nbchat-attach-error")!.textContent).toContain("notes.bin 既不是图片");
  });
});

describe("@name completion", () => {
  it("finds the @word before the caret", () => {
    expect(mentionAt("explain @df", 11)).toEqual({ start: 8, prefix: "df" });
    expect(mentionAt("@", 1)).toEqual({ start: 0, prefix: "" });
    expect(mentionAt("mail me at a@b", 14)).toBeNull();
    expect(mentionAt("done @df now", 12)).toBeNull();
  });

  it("asks the kernel, lists name and type, and completes on Enter without sending", () => {
    const model = new FakeModel();
    const el = mount(model);
    const textarea = box(el);
    textarea.value = "Explain @sa";
    textarea.setSelectionRange(11, 11);
    textarea.dispatchEvent(new Event("input"));
    const request = model.sent[model.sent.length - 1] as any;
    expect(request).toMatchObject({ kind: "complete", prefix: "sa" });
    model.custom({ kind: "completions", request: request.request, items: [{ name: "sales", type: "DataFrame 100×3" }, { name: "sample", type: "list" }] });
    const options = [...el.querySelectorAll("[role=option]")].map((o) => o.textContent);
    expect(options).toEqual(["@salesDataFrame 100×3", "@samplelist"]);
    textarea.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", cancelable: true }));
    expect(textarea.value).toBe("Explain @sales ");
    expect(model.sent.some((m) => m.kind === "submit")).toBe(false);
    expect((el.querySelector("[role=listbox]") as HTMLElement).hidden).toBe(true);
  });
});

describe("Details", () => {
  it("shows an image part of the request as its thumbnail, never a remote URL", async () => {
    const { renderProvenance } = await import("../chat/provenance");
    const [, request] = renderProvenance({
      backend: "openai", model: "m", settings: {}, system_prompt: "", prompt: null, stats: null,
      messages: [{ role: "user", content: [
        { type: "text", text: "What is this?" },
        { type: "image", name: "shot.png, 300×200", thumbnail: THUMB },
        { type: "image", name: "evil", thumbnail: "https://evil.example/x.png" },
      ] }],
    });
    const figures = [...request.querySelectorAll("figure")];
    expect(figures.map((f) => f.querySelector("figcaption")!.textContent)).toEqual(["image: shot.png, 300×200", "image: evil"]);
    expect([...request.querySelectorAll("img")].map((i) => i.getAttribute("src"))).toEqual([THUMB]);
    expect(request.querySelector("pre")!.textContent).toBe("What is this?");
  });
});
