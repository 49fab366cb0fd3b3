// The message catalogue: both languages complete, the language chosen as documented, and no text in any view
// that is not in the catalogue (the DOM of each view is scanned with everything opened).
import { describe, expect, it } from "vitest";
import { mountCompare } from "../compare/widget";
import type { ColumnInfo, CompareModel } from "../compare/types";
import { CATALOGUES, I18n, LANGS, matchLanguage, resolveLanguage, type Lang } from "../i18n";
import { mountChat } from "../chat/widget";
import { FakeModel, message, mountPoint } from "./fake_model";
import { key } from "./queries";

const view = mountPoint();

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe("catalogue", () => {
  it("has the same keys in every language, none empty", () => {
    const keys = Object.keys(CATALOGUES.en).sort();
    for (const lang of LANGS) {
      expect(Object.keys(CATALOGUES[lang]).sort()).toEqual(keys);
      for (const [k, text] of Object.entries(CATALOGUES[lang])) expect(text.trim(), `${lang} ${k}`).not.toBe("");
    }
  });

  it("uses the same placeholders in every language", () => {
    // The kernel sends both forms of a list where the languages join it differently: "A or B" / "A / B".
    const sameList = (names: string[]) => names.map((name) => (name === "choices" ? "vars" : name)).sort();
    for (const [k, text] of Object.entries(CATALOGUES.en)) {
      expect(sameList(placeholders(CATALOGUES.zh[k as keyof typeof CATALOGUES.en])), k).toEqual(sameList(placeholders(text)));
    }
  });

  it("leaves no English sentence untranslated in Chinese", () => {
    // Same text in both languages only for names, keys and units that Chinese texts write the same way.
    const same = Object.entries(CATALOGUES.en).filter(([k, text]) => CATALOGUES.zh[k as keyof typeof CATALOGUES.en] === text);
    for (const [k, text] of same) expect(text.split(/\s+/).filter((w) => /^[a-z]{4,}$/i.test(w)).length, `${k}: ${text}`).toBeLessThanOrEqual(1);
  });

  it("fills placeholders, counts with plural rules and formats numbers for the locale", () => {
    const en = new I18n("en");
    const zh = new I18n("zh");
    expect(en.t("cmp.better", { name: "A" })).toBe("A is better");
    expect(zh.t("cmp.better", { name: "A" })).toBe("A 更好");
    expect(en.count("stats.tokens", 1)).toBe("1 token");
    expect(en.count("stats.tokens", 1234)).toBe("1,234 tokens");
    expect(zh.count("stats.tokens", 2)).toBe("2 token");
    expect(en.seconds(0.314)).toBe("0.31 s");
    expect(zh.seconds(0.314)).toBe("0.31 秒");
    expect(zh.dateTime(0)).toMatch(/1970/);
  });

  it("shows a kernel text in the view's language when it has a key, else as written", () => {
    const zh = new I18n("zh");
    expect(zh.fromKernel("ready", "py.status.ready", {})).toBe("就绪");
    expect(zh.fromKernel("x", "py.lowered", { label: "Max new tokens", label_key: "options.maxNewTokens", value: "9999", kept: "512" })).toBe(
      "这里的最大生成长度最多为 512（受模型的上下文窗口或本机设定的上限限制）；9999 已调低为 512。",
    );
    const help = { help: "Check api_key= (or $NBCHAT_API_KEY).", help_key: "py.err.keyHelpServer" };
    expect(zh.fromKernel("x", "py.err.401", { where: "W", detail: "d", ...help })).toBe(
      "W 拒绝了这个 API 密钥（401：d）。请检查 api_key=（或环境变量 $NBCHAT_API_KEY）。",
    );
    const tried = { where: "W", detail: "d", ...help, n: "2", error: "W rejected …", error_key: "py.err.401" };
    expect(zh.fromKernel("x", "py.err.tried", tried)).toBe("W 拒绝了这个 API 密钥（401：d）。请检查 api_key=（或环境变量 $NBCHAT_API_KEY）。（共尝试了 2 次。）");
    expect(new I18n("en").fromKernel("x", "py.err.tried", tried)).toBe("W rejected the API key (401: d). Check api_key= (or $NBCHAT_API_KEY). (Tried 2 times.)");
    expect(zh.fromKernel("Could not load x: boom", undefined, undefined)).toBe("Could not load x: boom");
    expect(zh.fromKernel("text", "no.such.key", {})).toBe("text");
  });
});

describe("language choice", () => {
  const doc = (lang: string) => ({ documentElement: { lang } }) as unknown as Document;

  it("maps tags to catalogue languages", () => {
    expect(["zh-CN", "zh_Hans", "ZH-tw", "en-GB", "fr", "", null].map(matchLanguage)).toEqual(["zh", "zh", "zh", "en", null, null, null]);
  });

  it("takes Python's choice first, then JupyterLab's setting, then the browser's languages", () => {
    expect(resolveLanguage("zh", doc("en-US"), { languages: ["en-US"] })).toBe("zh");
    expect(resolveLanguage("", doc("zh-CN"), { languages: ["en-US"] })).toBe("zh");
    // "en" is JupyterLab's default when no language was chosen: the browser decides then.
    expect(resolveLanguage("", doc("en"), { languages: ["zh-CN", "en"] })).toBe("zh");
    expect(resolveLanguage(undefined, doc(""), { languages: ["fr-FR", "zh-CN"] })).toBe("zh");
    expect(resolveLanguage("", doc(""), { languages: ["fr-FR"], language: "de" })).toBe("en");
    expect(resolveLanguage("", doc("en-US"), { languages: ["zh-CN"] })).toBe("en");
  });

  it("renders the chat in the language Python chose", () => {
    const model = new FakeModel({ lang: "zh" });
    view.keep(mountChat(model.asModel(), view.el));
    expect(view.el.querySelector<HTMLElement>(".nbchat")?.lang).toBe("zh-CN");
    expect(view.el.querySelector('[data-testid="nbchat-send"]')?.textContent).toBe("发送");
    expect(view.el.querySelector("textarea.nbchat-input")?.getAttribute("aria-label")).toBe("消息");
  });
});

// ---------------------------------------------------------------------------------------------- the DOM scan

/** Every catalogue text of `lang` as a pattern: placeholders match anything. */
function patterns(lang: Lang): RegExp[] {
  return Object.values(CATALOGUES[lang]).map((text) => {
    const parts = text.split(/\{\w+\}/).map((p) => p.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
    return new RegExp(`^${parts.join("[\\s\\S]*")}$`);
  });
}

/** Texts that are data, not interface: message contents, model names, the kernel's status line. */
const DATA = ".nbchat-content, .nbchat-title, .nbchat-status-text, .nbchat-compare-name, .nbchat-compare-label, .nbchat-request-text, .nbchat-request-role, .nbchat-thinking-body, .nbchat-code-snippet, .nbchat-attachment-text, .nbchat-error, .nbchat-note, dd, option, .nbchat-prompt, .nbchat-compare-settings";

/** Visible texts and accessible names under `root` that are language (have letters) and not data. */
function interfaceTexts(root: Element): string[] {
  const out: string[] = [];
  const walker = root.ownerDocument.createTreeWalker(root, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    if (!parent || parent.closest(DATA)) continue;
    out.push(node.textContent ?? "");
  }
  for (const el of root.querySelectorAll("*")) {
    if (el.closest(DATA) && !el.matches(".nbchat-compare-settings")) continue;
    for (const attr of ["aria-label", "title", "placeholder", "aria-valuetext"]) {
      const value = el.getAttribute(attr);
      if (value !== null) out.push(value);
    }
  }
  // Several catalogue texts may share one text node's parent (the stats line joins them with " · ").
  return out.flatMap((t) => t.split(" · ")).map((t) => t.trim()).filter((t) => /\p{L}/u.test(t));
}

function strays(root: Element, lang: Lang, data: string[]): string[] {
  const known = patterns(lang);
  return interfaceTexts(root).filter((t) => !data.includes(t) && !known.some((re) => re.test(t)));
}

const stats = { tokens: 42, prompt_tokens: 120, ttft_s: 0.31, tokens_per_s: 28.4, duration_s: 1.8, finish_reason: "length", backend: "fake", model: "tiny-model", left_out: 2 };

function openEverything(root: HTMLElement): void {
  for (const details of root.querySelectorAll("details")) details.open = true;
  for (const hidden of root.querySelectorAll<HTMLElement>(".nbchat-shortcuts, .nbchat-compare-diff, .nbchat-compare-add")) hidden.hidden = false;
}

describe.each(LANGS)("no text outside the catalogue (%s)", (lang) => {
  it("in the chat, with every part opened", () => {
    const model = new FakeModel({
      lang,
      prompts: [],
      context: { used: 1234, window: 8192, reserved: 256, left_out: 2 },
      _messages: [
        message("u1", "user", "question", {
          branch: [1, 2],
          pinned: true,
          attachments: [
            { kind: "image", media_type: "image/png", name: "chart.png", sha256: "x", width: 64, height: 48, thumbnail: "" },
            { kind: "text", media_type: "text/csv", name: "data.csv", sha256: "y", text: "a,b" },
          ],
        }),
        message("a1", "assistant", "answer ![a chart](http://x/y.png) ![](http://x/z.png)", {
          reasoning: "first I think",
          stats: { ...stats, thinking_s: 12.2, thinking_tokens: 840, first_answer_s: 12.5, tokens_estimated: true }, feedback: { rating: "up", comment: "" }, in_context: false, excluded: true }),
        message("u2", "user", "second"),
        message("a2", "assistant", "partial", { status: "stopped", stats }),
        message("u3", "user", "third"),
        message("a3", "assistant", "", { status: "error", error: "boom" }),
      ],
    });
    view.keep(mountChat(model.asModel(), view.el));
    const root = view.el;
    // Details (provenance), Copy as code, the comment form, the editor, a notice, the disconnected state.
    root.querySelector<HTMLButtonElement>('[data-action="details"]')?.click();
    model.custom({
      kind: "provenance",
      id: "a1",
      data: { backend: "fake", model: "tiny-model", settings: { max_new_tokens: 64, temperature: 0, top_p: 1, stop: [] }, system_prompt: "", messages: [], prompt: null, stats },
    });
    model.custom({ kind: "code", id: "a1", code: "print(1)" });
    root.querySelector<HTMLButtonElement>('[data-testid="nbchat-rate-down"]')?.click();
    root.querySelector<HTMLButtonElement>('[data-action="edit"]')?.click();
    model.custom({
      kind: "notice",
      level: "warning",
      text: "busy",
      key: "py.busy",
      params: {},
      attachments: [{ token: "t1", kind: "text", media_type: "text/plain", name: "notes.txt", sha256: "z", text: "n" }],
    });
    model.update({ status_text: "ready", status_i18n: { key: "py.status.ready", params: {} } });
    openEverything(root);
    const data = ["tiny-model", "fake", "chart.png", "data.csv", "text/csv", "📎 data.csv", "notes.txt", "text/plain", "📎 notes.txt"];
    expect(strays(root, lang, data)).toEqual([]);
    model.trigger("comm_live_update");
    expect(strays(root, lang, data)).toEqual([]);
  });

  it("in the empty chat with starter prompts, loading", () => {
    const model = new FakeModel({ lang, status: "loading", progress: 0.5, prompts: ["What is a token?", "Explain {topic}"] });
    view.keep(mountChat(model.asModel(), view.el));
    openEverything(view.el);
    expect(strays(view.el, lang, [])).toEqual([]);
  });

  it("in Compare, blind, with the add form and the diff open", () => {
    const settings = { system_prompt: "be brief", max_new_tokens: 64, temperature: 0.5, top_p: 0.9, use_history: false };
    const columns: ColumnInfo[] = ["A", "B"].map((id) => ({ id, name: id, label: "", letter: id, settings, status: "ready", status_text: "" }));
    const compare = new FakeModel({
      lang,
      _columns: columns,
      _messages: {
        A: [message("q", "user", "hi"), { ...message("x", "assistant", "one two", { stats }), turn: 1 }],
        B: [message("q2", "user", "hi"), { ...message("y", "assistant", "one three", { status: "stopped" }), turn: 1 }],
      },
      _turns: [{ turn: 1, prompt: "hi", columns: ["A", "B"], done: true, vote: null }],
      blind: true,
      revealed: false,
      limits: { max_new_tokens: 512, temperature: 1 },
    } as never);
    view.keep(mountCompare(compare as unknown as CompareModel, view.el));
    openEverything(view.el);
    view.el.querySelector<HTMLButtonElement>('[data-testid="nbchat-compare-diff"]')?.click();
    expect(strays(view.el, lang, ["A", "B", "tiny-model", "fake"])).toEqual([]);
  });
});

describe("the scan itself", () => {
  it("finds a text that is not in the catalogue", () => {
    const model = new FakeModel({ lang: "zh" });
    view.keep(mountChat(model.asModel(), view.el));
    view.el.querySelector(".nbchat-buttons")?.append(Object.assign(document.createElement("button"), { textContent: "Send now" }));
    expect(strays(view.el, "zh", [])).toEqual(["Send now"]);
    // English texts are strays in a Chinese view.
    key(view.el.querySelector("textarea")!, "a");
    view.el.querySelector(".nbchat-buttons")?.append(Object.assign(document.createElement("span"), { textContent: CATALOGUES.en["button.stop"] }));
    expect(strays(view.el, "zh", [])).toContain("Stop");
  });
});
