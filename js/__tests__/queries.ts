// Find controls the way a screen reader names them: by role and accessible name
// (aria-label, else the text), skipping anything hidden.

function accessibleName(el: Element): string {
  const label = el.getAttribute("aria-label");
  if (label !== null) return label.trim();
  const labelledBy = el.getAttribute("aria-labelledby");
  if (labelledBy) {
    return labelledBy
      .split(/\s+/)
      .map((id) => el.ownerDocument.getElementById(id)?.textContent ?? "")
      .join(" ")
      .trim();
  }
  return (el.textContent ?? "").replace(/\s+/g, " ").trim();
}

function isHidden(el: Element): boolean {
  return el.closest("[hidden]") !== null;
}

/** Every visible button under `root` named `name`. */
export function buttons(root: ParentNode, name: string): HTMLButtonElement[] {
  return [...root.querySelectorAll("button")].filter((b) => !isHidden(b) && accessibleName(b) === name);
}

/** The one visible button under `root` named `name`; throws when there is none or several. */
export function getButton(root: ParentNode, name: string): HTMLButtonElement {
  const found = buttons(root, name);
  if (found.length !== 1) throw new Error(`expected one button "${name}", found ${found.length}`);
  return found[0];
}

/** The button named `name`, or null. */
export function queryButton(root: ParentNode, name: string): HTMLButtonElement | null {
  return buttons(root, name)[0] ?? null;
}

/** The visible text box labelled `name`. */
export function getTextbox(root: ParentNode, name: string): HTMLTextAreaElement {
  const found = [...root.querySelectorAll("textarea")].filter((t) => !isHidden(t) && accessibleName(t) === name);
  if (found.length !== 1) throw new Error(`expected one text box "${name}", found ${found.length}`);
  return found[0];
}

/** Wait for pending promise callbacks (clipboard writes) to run. */
export async function settle(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

export function key(target: HTMLElement, key: string, init: KeyboardEventInit = {}): KeyboardEvent {
  const event = new KeyboardEvent("keydown", { key, bubbles: true, cancelable: true, ...init });
  target.dispatchEvent(event);
  return event;
}
