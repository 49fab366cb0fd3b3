// Small DOM helpers shared by the view modules.
import type { ChatModel, ChatTraits } from "./types";

type Attrs = Record<string, string | boolean | number | null | undefined>;

/** Create an element with attributes (`class`, `text`, aria-*, …) and children. */
export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  children: (Node | string)[] = [],
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  node.append(...children);
  return node;
}

let counter = 0;

/** An id unique on the page: several views of one model may coexist. */
export function uniqueId(prefix: string): string {
  counter += 1;
  return `nbchat-${prefix}-${counter}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The part of an anywidget model a view listens to (Chat's and Compare's models both fit). */
export interface Listenable {
  on(event: string, callback: (...args: any[]) => void): void;
  off(event: string, callback?: ((...args: any[]) => void) | null): void;
}

/** Subscribe to a model event; the returned function unsubscribes. */
export function listen(model: Listenable, event: string, callback: (...args: any[]) => void): () => void {
  model.on(event, callback);
  return () => model.off(event, callback);
}

/** Write a setting back to Python (no-op when unchanged). */
export function commit<K extends keyof ChatTraits>(model: ChatModel, name: K, value: ChatTraits[K]): void {
  if (model.get(name) === value) return;
  model.set(name, value);
  model.save_changes();
}

/** Run `callback` at most once per animation frame; returns a cancel function. */
export type Scheduler = (callback: () => void) => () => void;

export const nextFrame: Scheduler = (callback) => {
  if (typeof requestAnimationFrame === "function") {
    const handle = requestAnimationFrame(() => callback());
    return () => cancelAnimationFrame(handle);
  }
  const handle = setTimeout(callback, 16);
  return () => clearTimeout(handle);
};
