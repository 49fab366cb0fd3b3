// What every nbchat view does the same way around its content (Chat and Compare): listen to its model, keep
// JupyterLab's command-mode keys inside the widget, notice a dead kernel, and clean up once, when disposed or
// when its DOM was dropped without a dispose.
import { h, listen, type Listenable } from "./dom";

/** How often a view checks whether it was detached without being disposed (ms). */
export const DETACH_CHECK_MS = 2000;

export interface ShellOptions {
  /** Model events and their handlers (`change:status`, `msg:custom`, ...). */
  events: Record<string, (...args: any[]) => void>;
  /** The kernel is gone: make the view read-only (the shell has shown the banner and marked the root). */
  disconnect: () => void;
  /** Release what the view built (its parts' listeners, timers); the shell removes the root afterwards. */
  dispose: () => void;
  /** Esc pressed in the view and not used by a part of it (closing an editor, ...): true if it stopped a reply. */
  escape?: () => boolean;
}

/** The banner a disconnected view shows (hidden until then); place it where the view wants it. */
export function disconnectedBanner(text: string): HTMLElement {
  return h("div", { class: "nbchat-disconnected", role: "alert", hidden: true, text });
}

/**
 * Wire `root` (already built, with a `disconnectedBanner()` inside) to `model`; returns the view's cleanup.
 *
 * ipywidgets marks a model's comm dead when its kernel restarts (`comm_live_update`; it only ever goes from live
 * to dead after a view exists) and closes it when the widget is closed (`comm:close`): the view then says
 * "disconnected" and becomes read-only. An output refresh can drop the view's DOM without disposing the view: the
 * shell stops listening once the root, seen in the page, is detached.
 */
export function mountShell(model: Listenable, root: HTMLElement, options: ShellOptions): () => void {
  // JupyterLab binds plain keys in command mode (D D deletes the cell, arrows move between cells) on any
  // focused element that is not a text field: keep keys pressed inside the widget inside it. Chords with
  // Ctrl/Cmd/Alt (save, command palette, ...) still reach the application.
  const keepKeys = (event: KeyboardEvent) => {
    if (event.key === "Escape" && !event.defaultPrevented && options.escape?.()) event.preventDefault();
    if (!event.ctrlKey && !event.metaKey && !event.altKey) event.stopPropagation();
  };
  root.addEventListener("keydown", keepKeys);
  root.dataset.connected = "true";

  const disconnect = () => {
    if (root.dataset.connected === "false") return;
    root.dataset.connected = "false";
    const banner = root.querySelector<HTMLElement>(".nbchat-disconnected");
    if (banner) banner.hidden = false;
    options.disconnect();
  };
  const unsubscribe = [
    ...Object.entries(options.events).map(([event, callback]) => listen(model, event, callback)),
    listen(model, "comm_live_update", disconnect),
    listen(model, "comm:close", disconnect),
  ];

  let disposed = false;
  let seenConnected = false;
  const cleanup = () => {
    if (disposed) return;
    disposed = true;
    clearInterval(detachTimer);
    for (const off of unsubscribe) off();
    root.removeEventListener("keydown", keepKeys);
    options.dispose();
    root.remove();
  };
  const detachTimer = setInterval(() => {
    if (root.isConnected) seenConnected = true;
    else if (seenConnected) cleanup();
  }, DETACH_CHECK_MS);
  return cleanup;
}

/** One handler per message kind, each typed with its own message: a kind without a handler does not compile. */
export type Handlers<M extends { kind: string }> = { [K in M["kind"]]: (message: Extract<M, { kind: K }>) => void };

/**
 * The `msg:custom` listener for a table of handlers (the kernel's messages, typed in types.ts/compare/types.ts and
 * checked against js/protocol.json). A message that is not an object or has a kind no handler takes is ignored.
 */
export function dispatcher<M extends { kind: string }>(handlers: Handlers<M>): (message: unknown) => void {
  return (message) => {
    if (!message || typeof message !== "object") return;
    const kind = (message as { kind?: unknown }).kind;
    if (typeof kind !== "string" || !Object.prototype.hasOwnProperty.call(handlers, kind)) return;
    (handlers[kind as M["kind"]] as (m: unknown) => void)(message);
  };
}
