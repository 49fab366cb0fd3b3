// anywidget's widget classes (AnyModel, AnyView) for the room page's widget manager. The import order matters:
// @jupyter-widgets/base and its UMD dependencies first (they must not see a `define`), then amd.ts (sets `define`),
// the anywidget package (calls it) and amd-done.ts (removes it).
import * as base from "@jupyter-widgets/base";
import "./amd";
import "anywidget";
import "./amd-done";
import { takeFactory } from "./amd";

/** anywidget's module as a widget manager loads it: class name → class (`AnyModel`, `AnyView`). */
export function anywidgetModule(): Record<string, unknown> {
  return takeFactory()(base);
}
