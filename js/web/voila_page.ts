// The watch on Voila's own page (`nbchat web --page voila`, docs/web.md): built as a classic script
// (nbchat/static/voila_page.js) that runs once the notebook has run (the end of the page), before Voila's front-end
// starts. A visitor never sits in front of a blank or broken page: when the chat cannot be shown (it failed to start,
// the widget manager lost its model, the kernel was culled or died), the page says so (notice.ts).
import { noticeShown, showNotice } from "./notice";

const START_LIMIT_MS = 90_000; // a page whose chat has not appeared by then is not going to

/** What the page uses of Voila's widget manager (ipywidgets' KernelWidgetManager, `window.jupyterapp`). */
interface VoilaWidgetManager {
  kernel?: { isDisposed: boolean; status: string } | null;
  has_model(id: string): boolean;
  restoreWidgets(): Promise<void>;
  get_model(id: string): Promise<unknown>;
  create_view(model: unknown): Promise<{ el: HTMLElement }>;
}

const started = Date.now();
// The ids of the widgets the notebook displayed, read from the outputs Voila wrote into the page before its
// front-end replaces them.
const displayed = [...document.querySelectorAll('script[type="application/vnd.voila.cell-output+json"]')]
  .map((el) => JSON.parse(el.textContent ?? "{}") as { data?: Record<string, { model_id?: string }> })
  .map((output) => output.data?.["application/vnd.jupyter.widget-view+json"]?.model_id)
  .filter((id): id is string => Boolean(id));
let repairs = 0;
let repairing = false;

function manager(): VoilaWidgetManager | undefined {
  return (window as { jupyterapp?: { widgetManager?: VoilaWidgetManager } }).jupyterapp?.widgetManager;
}

// "Error displaying widget: model not found" under concurrent arrivals is a race in ipywidgets' page code, not a
// missing model (docs/web.md, docs/upstream/voila-model-not-found.md): get_model polls for 2 s, the restore
// registers the model during its last sleep and marks the manager restored, and get_model then throws without
// looking again; the renderer sees "restored" and gives up for good. The model is there by then: take it and render
// its view in place of the error. Only if it is really missing, ask the kernel for the widgets again. At most twice.
async function repair(output: HTMLElement): Promise<boolean> {
  const widgets = manager();
  if (!widgets || repairs >= 2 || displayed.length === 0) return false;
  repairs += 1;
  console.warn(`nbchat web: the widget renderer gave up on the chat's model; rendering it again (${repairs})`);
  if (!widgets.has_model(displayed[0])) await widgets.restoreWidgets();
  const view = await widgets.create_view(await widgets.get_model(displayed[0]));
  output.textContent = "";
  output.classList.remove("jupyter-widgets");
  output.append(view.el);
  return true;
}

function check(): void {
  if (noticeShown()) {
    window.clearInterval(timer);
    return;
  }
  const chat = document.querySelector(".nbchat");
  const outputs = [...document.querySelectorAll<HTMLElement>(".jp-OutputArea-output")];
  const broken = outputs.find((el) => el.textContent?.startsWith("Error displaying widget"));
  const widgets = manager();
  if (broken && !repairing) {
    repairing = true;
    repair(broken)
      .then((ok) => ok || showNotice("failed"), () => showNotice("failed"))
      .finally(() => {
        repairing = false;
      });
  } else if (outputs.some((el) => el.textContent?.startsWith("The chat could not start"))) {
    showNotice("failed"); // the notebook's own message (nbchat._cli.notebook_code): the model could not be reached
  } else if (!chat && Date.now() - started > START_LIMIT_MS) {
    showNotice("failed");
  } else if (chat && widgets) {
    const kernel = widgets.kernel;
    if (!kernel || kernel.isDisposed || kernel.status === "dead") showNotice("closed");
  }
}
const timer = window.setInterval(check, 500);
