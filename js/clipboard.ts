// Copying to the clipboard, the transient "Copied" state of a button, and the
// "Copy code" button on every rendered code block.
import { h } from "./dom";
import { EN, type I18n } from "./i18n";
import { stripInvisible } from "./invisible";

/** How long a button shows "Copied" (ms). */
const COPIED_MS = 1500;

/** Copy with a hidden textarea: works where the async Clipboard API is missing or denied. */
function copyWithSelection(text: string): boolean {
  const doc = document;
  if (typeof doc.execCommand !== "function") return false;
  const previous = doc.activeElement instanceof HTMLElement ? doc.activeElement : null;
  const box = h("textarea", { readonly: true, "aria-hidden": "true", tabindex: -1, class: "nbchat-copy-buffer" });
  box.value = text;
  box.style.cssText = "position:fixed;top:0;left:-9999px;opacity:0;";
  doc.body.append(box);
  box.focus({ preventScroll: true });
  box.select();
  let ok = false;
  try {
    ok = doc.execCommand("copy");
  } catch {
    ok = false;
  }
  box.remove();
  previous?.focus();
  return ok;
}

/** Put `text` on the clipboard; resolves to whether it worked. Never rejects. */
export async function copyText(text: string): Promise<boolean> {
  const clipboard = typeof navigator !== "undefined" ? navigator.clipboard : undefined;
  if (clipboard && typeof clipboard.writeText === "function") {
    try {
      await clipboard.writeText(text);
      return true;
    } catch {
      // Denied (no permission, insecure context, document not focused): try the old way.
    }
  }
  return copyWithSelection(text);
}

const timers = new WeakMap<HTMLElement, { label: string; timer: ReturnType<typeof setTimeout> }>();

/** Show `text` on `button` for a moment, then its own label again. */
export function flash(button: HTMLElement, text: string): void {
  const running = timers.get(button);
  const label = running ? running.label : (button.textContent ?? "");
  if (running) clearTimeout(running.timer);
  button.textContent = text;
  button.dataset.flash = "true";
  const timer = setTimeout(() => {
    timers.delete(button);
    button.textContent = label;
    delete button.dataset.flash;
  }, COPIED_MS);
  timers.set(button, { label, timer });
}

/** Set a button's label, respecting a running flash (the new label shows when it ends). */
export function setLabel(button: HTMLElement, label: string): void {
  const running = timers.get(button);
  if (running) running.label = label;
  else if (button.textContent !== label) button.textContent = label;
}

/** Copy `text` and report it on `button` ("Copied" or "Copy failed"). */
export async function copyFrom(button: HTMLElement, text: string, i18n: I18n = EN): Promise<boolean> {
  const ok = await copyText(text);
  flash(button, i18n.t(ok ? "copy.done" : "copy.failed"));
  return ok;
}

/**
 * The text "Copy code" copies: the code without the badges that stand for invisible characters, and without any
 * invisible character left in it (see ./invisible.ts); `removed` counts both.
 */
export function codeToCopy(code: Element): { text: string; removed: number } {
  const clone = code.cloneNode(true) as Element;
  const badges = clone.querySelectorAll(".nbchat-invisible");
  for (const badge of badges) badge.remove();
  const stripped = stripInvisible(clone.textContent ?? "");
  return { text: stripped.text, removed: stripped.removed + badges.length };
}

/** Copy a code block (see `codeToCopy`); the button says how many invisible characters were left out. */
async function copyCode(button: HTMLElement, code: Element, i18n: I18n): Promise<boolean> {
  const { text, removed } = codeToCopy(code);
  const ok = await copyText(text);
  flash(button, !ok ? i18n.t("copy.failed") : removed > 0 ? i18n.count("copy.invisible", removed) : i18n.t("copy.done"));
  return ok;
}

/**
 * Give every `pre > code` block under `root` a "Copy code" button. The block is
 * wrapped so the button stays in the corner when the code scrolls sideways and
 * is never part of the code's own text. Run after each render of sanitized HTML.
 */
export function addCodeCopyButtons(root: HTMLElement, i18n: I18n = EN): void {
  for (const pre of root.querySelectorAll("pre")) {
    const code = pre.querySelector(":scope > code");
    if (!code || pre.parentElement?.classList.contains("nbchat-codeblock")) continue;
    const button = h("button", { type: "button", class: "nbchat-code-copy", text: i18n.t("copy.code") });
    button.addEventListener("click", () => void copyCode(button, code, i18n));
    const wrapper = h("div", { class: "nbchat-codeblock" });
    pre.replaceWith(wrapper);
    wrapper.append(pre, button);
  }
}
