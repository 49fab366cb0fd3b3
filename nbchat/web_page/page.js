// nbchat web's page watch (nbchat/_web.py, docs/web.md). Runs once the notebook has run (the end of the page), before
// Voila's front-end starts. A visitor never sits in front of a blank or broken page: when the chat cannot be shown
// (it failed to start, the widget manager lost its model, the kernel was culled or died), the page says so in its
// language (--lang, else the browser's) and offers a reload.
(function () {
  "use strict";
  const config = JSON.parse(document.getElementById("nbchat-page-config").textContent);
  const wanted = config.lang || (navigator.languages || [navigator.language || "en"])
    .map((tag) => String(tag).toLowerCase().split(/[-_]/)[0])
    .find((tag) => tag in config.texts);
  const lang = wanted || "en";
  const texts = config.texts[lang];
  const START_LIMIT_MS = 90000; // a page whose chat has not appeared by then is not going to
  const started = Date.now();
  function show(kind) {
    if (document.getElementById("nbchat-page-notice")) return;
    const box = document.createElement("div");
    box.id = "nbchat-page-notice";
    box.setAttribute("role", "alert");
    box.dataset.kind = kind;
    box.lang = lang;
    box.style.cssText = "position:fixed;inset:0;display:flex;flex-direction:column;align-items:center;" +
      "justify-content:center;gap:1em;padding:2em;text-align:center;z-index:10000;font-family:var(--jp-ui-font-family," +
      "sans-serif);background:var(--jp-layout-color0,#fff);color:var(--jp-ui-font-color0,#000)";
    const title = document.createElement("h1");
    title.textContent = texts[kind + ".title"];
    const body = document.createElement("p");
    body.textContent = texts[kind + ".body"];
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = texts.reload;
    button.addEventListener("click", () => location.reload());
    box.append(title, body, button);
    document.body.append(box);
    const spinner = document.getElementById("loading");
    if (spinner) spinner.style.display = "none";
    clearInterval(timer);
  }

  // The ids of the widgets the notebook displayed, read from the outputs Voila wrote into the page before its
  // front-end replaces them.
  const displayed = [...document.querySelectorAll('script[type="application/vnd.voila.cell-output+json"]')]
    .map((el) => JSON.parse(el.textContent))
    .map((output) => output.data && output.data["application/vnd.jupyter.widget-view+json"])
    .filter(Boolean)
    .map((view) => view.model_id);
  let repairs = 0;

  // "Error displaying widget: model not found" under concurrent arrivals is a race in ipywidgets' page code, not a
  // missing model (docs/web.md, docs/upstream/voila-model-not-found.md): get_model polls for 2 s, the restore
  // registers the model during its last sleep and marks the manager restored, and get_model then throws without
  // looking again; the renderer sees "restored" and gives up for good. The model is there by then: take it and render
  // its view in place of the error. Only if it is really missing, ask the kernel for the widgets again. At most twice.
  async function repair(output) {
    const manager = window.jupyterapp && window.jupyterapp.widgetManager;
    if (!manager || repairs >= 2 || displayed.length === 0) return false;
    repairs += 1;
    console.warn("nbchat web: the widget renderer gave up on the chat's model; rendering it again (" + repairs + ")");
    if (!manager.has_model(displayed[0])) await manager.restoreWidgets();
    const model = await manager.get_model(displayed[0]);
    const view = await manager.create_view(model);
    output.textContent = "";
    output.classList.remove("jupyter-widgets");
    output.append(view.el);
    return true;
  }

  let repairing = false;
  function check() {
    const chat = document.querySelector(".nbchat");
    const outputs = [...document.querySelectorAll(".jp-OutputArea-output")];
    const broken = outputs.find((el) => el.textContent.startsWith("Error displaying widget"));
    if (broken && !repairing) {
      repairing = true;
      repair(broken).then((ok) => { if (!ok) show("failed"); }, () => show("failed"))
        .finally(() => { repairing = false; });
    } else if (outputs.some((el) => el.textContent.startsWith("The chat could not start"))) {
      show("failed"); // the notebook's own message (nbchat._cli.notebook_code): the model could not be reached
    } else if (!chat && Date.now() - started > START_LIMIT_MS) {
      show("failed");
    } else if (chat && window.jupyterapp && window.jupyterapp.widgetManager) {
      const kernel = window.jupyterapp.widgetManager.kernel;
      if (!kernel || kernel.isDisposed || kernel.status === "dead") show("closed");
    }
  }
  const timer = setInterval(check, 500);
})();
