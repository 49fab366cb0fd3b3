// nbchat web's page (docs/web.md, nbchat/_web.py): the chat Voila's kernel displayed, rendered with only what the chat
// needs — a kernel connection (@jupyterlab/services), ipywidgets' widget protocol (manager.ts) and anywidget's front
// end — instead of Voila's JupyterLab page (5.3 MB of scripts, about 4 s of a CPU core per page load). Voila still
// serves the page, runs (or preheats) each visitor's kernel and culls idle ones; nbchat's kernel manager shuts a
// kernel down once its tab has closed. A visitor never sits in front of a blank page: when the chat cannot be shown (it failed to start, its kernel
// was culled or died), the page says so in its language (--lang, else the browser's) and offers a reload.
import { anywidgetModule } from "./anywidget"; // first: see amd.ts
import * as base from "@jupyter-widgets/base";
import { KernelAPI, KernelConnection, ServerConnection } from "@jupyterlab/services";
import { Widget } from "@lumino/widgets";
import { RoomWidgetManager } from "./manager";
import { noticeShown, readJson, showNotice as show } from "./notice";

const WIDGET_VIEW = "application/vnd.jupyter.widget-view+json";
const START_LIMIT_MS = 90_000; // a page whose chat has not appeared by then is not going to
const KERNEL_CHECK_MS = 30_000; // how often the page asks whether its kernel still exists

interface Output {
  output_type?: string;
  text?: string | string[];
  data?: Record<string, unknown>;
}

/** Voila's spinner goes and the rendered cells show (what Voila's own page does once its scripts are loaded). */
function showCells(): void {
  document.getElementById("loading")?.remove();
  const cells = document.getElementById("rendered_cells");
  if (cells) cells.style.display = "";
}

/** The outputs Voila wrote into the page (one JSON script each), with a place for each right after its script. */
function outputs(): { output: Output; place: HTMLElement }[] {
  return [...document.querySelectorAll<HTMLScriptElement>('script[type="application/vnd.voila.cell-output+json"]')].map(
    (script) => {
      const place = document.createElement("div");
      place.className = "nbchat-page-output";
      script.after(place);
      return { output: JSON.parse(script.textContent ?? "{}") as Output, place };
    },
  );
}

/** A text output (the notebook's "The chat could not start" line) as text: nothing in it is HTML. */
function outputText(output: Output): string {
  const text = output.text ?? (output.data?.["text/plain"] as string | string[] | undefined) ?? "";
  return Array.isArray(text) ? text.join("") : text;
}

async function main(): Promise<void> {
  const page = readJson<{ baseUrl: string; kernelId: string }>("jupyter-config-data");
  showCells();
  const shown = outputs();
  let widgets = 0;
  for (const { output, place } of shown) {
    if (output.data?.[WIDGET_VIEW]) widgets += 1;
    else {
      const text = outputText(output);
      place.append(Object.assign(document.createElement("pre"), { textContent: text }));
      if (text.startsWith("The chat could not start")) show("failed"); // nbchat._cli.notebook_code's own message
    }
  }
  if (widgets === 0) {
    show("failed");
    return;
  }
  const settings = ServerConnection.makeSettings({ baseUrl: page.baseUrl });
  const kernel = new KernelConnection({ model: { id: page.kernelId, name: "python3" }, serverSettings: settings });
  kernel.statusChanged.connect((_, status) => {
    if (status === "dead" || status === "autorestarting") show("closed");
  });
  let leaving = false;
  kernel.connectionStatusChanged.connect((_, status) => {
    if (status === "disconnected" && !leaving) show("closed"); // culled, or the server went away
  });
  // A culled kernel (--idle-timeout) is shut down with its WebSocket left open (jupyter_server closes it only on a
  // failed restart): the page asks whether the kernel still exists, now and then and when the tab is shown again.
  const checkKernel = async (): Promise<void> => {
    if (leaving || noticeShown()) return;
    try {
      if (!(await KernelAPI.getKernelModel(page.kernelId, settings))) show("closed");
    } catch {
      // the server did not answer: the connection's status says whether it is gone
    }
  };
  window.setInterval(() => void checkKernel(), KERNEL_CHECK_MS);
  document.addEventListener("visibilitychange", () => {
    if (document.visibilityState === "visible") void checkKernel();
  });
  // the tab closes: the WebSocket closes with it, and the server shuts the kernel down once it stays closed
  // (nbchat._web.RoomKernelManager.left_after); Voila's own shutdown request is refused (voila#1458)
  window.addEventListener("beforeunload", () => {
    leaving = true;
  });
  const manager = new RoomWidgetManager(kernel, { "@jupyter-widgets/base": base, anywidget: anywidgetModule() });
  await manager.restore();
  for (const { output, place } of shown) {
    const view = output.data?.[WIDGET_VIEW] as { model_id: string } | undefined;
    if (!view) continue;
    const model = await manager.get_model(view.model_id);
    const widget = await manager.create_view(model);
    Widget.attach(widget.luminoWidget, place);
  }
}

const started = Date.now();
const watch = window.setInterval(() => {
  if (noticeShown() || document.querySelector(".nbchat")) window.clearInterval(watch);
  else if (Date.now() - started > START_LIMIT_MS) show("failed");
}, 500);
main().catch((error: unknown) => {
  console.error("nbchat web: the chat could not be shown", error);
  show("failed");
});
