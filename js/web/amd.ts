// anywidget's front end comes as one AMD module — `define(["@jupyter-widgets/base"], factory)`, what classic
// Jupyter's require.js loads. The room page has no require.js: this module sets a global `define` that keeps the
// factory, the anywidget package (imported next, see anywidget.ts) calls it, and amd-done.ts removes `define` at once,
// before any other module runs: UMD modules (Lumino's) would otherwise hand their exports to it.
import type * as base from "@jupyter-widgets/base";

/** anywidget's module factory: the widget classes built on `@jupyter-widgets/base`. */
export type AnywidgetFactory = (widgets: typeof base) => Record<string, unknown>;

let kept: AnywidgetFactory | null = null;

const define = (dependencies: string[], factory: AnywidgetFactory): void => {
  if (dependencies.length === 1 && dependencies[0] === "@jupyter-widgets/base") kept = factory;
};
define.amd = true;
(globalThis as { define?: unknown }).define = define;

/** Remove the global `define` (amd-done.ts, right after the anywidget package ran). */
export function removeDefine(): void {
  delete (globalThis as { define?: unknown }).define;
}

/** The factory the anywidget package handed over. */
export function takeFactory(): AnywidgetFactory {
  if (!kept) throw new Error("anywidget's front end did not register (its package no longer ships an AMD module?)");
  return kept;
}
