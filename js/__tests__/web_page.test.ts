// The room page's widget classes (js/web/): anywidget's AMD module is taken without leaving a global `define` behind
// (UMD modules loaded later would hand their exports to it), and the widget manager knows exactly the two modules the
// chat needs, nothing loaded from elsewhere.
import { beforeAll, describe, expect, it } from "vitest";

// jsdom has no DragEvent, which Lumino's drag-and-drop (under @jupyter-widgets/base) subclasses when it loads
(globalThis as { DragEvent?: unknown }).DragEvent ??= class extends MouseEvent {};
let base: typeof import("@jupyter-widgets/base");
let anywidgetModule: typeof import("../web/anywidget").anywidgetModule;
let RoomWidgetManager: typeof import("../web/manager").RoomWidgetManager;
beforeAll(async () => {
  // the page's import order: anywidget.ts first (js/web/page.ts)
  ({ anywidgetModule } = await import("../web/anywidget"));
  base = await import("@jupyter-widgets/base");
  ({ RoomWidgetManager } = await import("../web/manager"));
});

describe("the room page's widget classes", () => {
  it("takes anywidget's classes and removes the AMD define", () => {
    expect((globalThis as { define?: unknown }).define).toBeUndefined();
    const module = anywidgetModule();
    const AnyModel = module.AnyModel as typeof base.DOMWidgetModel;
    expect(Object.getPrototypeOf(AnyModel)).toBe(base.DOMWidgetModel);
    expect((AnyModel as unknown as { model_module: string }).model_module).toBe("anywidget");
    expect(Object.getPrototypeOf(module.AnyView)).toBe(base.DOMWidgetView);
  });

  it("loads only the modules it was given", async () => {
    const comms: string[] = [];
    const kernel = { registerCommTarget: (name: string) => comms.push(name) } as unknown as ConstructorParameters<
      typeof RoomWidgetManager
    >[0];
    const anywidget = anywidgetModule();
    const manager = new RoomWidgetManager(kernel, { "@jupyter-widgets/base": base, anywidget });
    expect(comms).toEqual(["jupyter.widget"]);
    const load = (name: string, module: string) =>
      (manager as unknown as { loadClass(c: string, m: string, v: string): Promise<unknown> }).loadClass(name, module, "*");
    await expect(load("AnyModel", "anywidget")).resolves.toBe(anywidget.AnyModel);
    await expect(load("LayoutModel", "@jupyter-widgets/base")).resolves.toBe(base.LayoutModel);
    await expect(load("IntSliderModel", "@jupyter-widgets/controls")).rejects.toThrow(/no widget class/);
  });
});
