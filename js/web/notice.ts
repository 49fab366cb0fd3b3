// The notices of nbchat web's pages (docs/web.md): when the chat cannot be shown — it failed to start, its kernel was
// culled or died — the page says so in its language (--lang, else the browser's first language the catalogue has,
// else English) with a Reload button, instead of sitting blank. The texts are the `web.*` keys of nbchat/i18n.json,
// written into the page by nbchat._web.write_page_template (#nbchat-page-config).

/** What nbchat._web.write_page_template writes into the page. */
interface PageConfig {
  texts: Record<string, Record<string, string>>;
  lang: string;
}

/** The JSON in the page's element `id` (a `<script type="application/json">`). */
export function readJson<T>(id: string): T {
  const element = document.getElementById(id);
  if (!element?.textContent) throw new Error(`the page has no #${id}`);
  return JSON.parse(element.textContent) as T;
}

const config = readJson<PageConfig>("nbchat-page-config");
const lang =
  config.lang ||
  (navigator.languages ?? [navigator.language || "en"])
    .map((tag) => String(tag).toLowerCase().split(/[-_]/)[0])
    .find((tag) => tag in config.texts) ||
  "en";
const texts = config.texts[lang];

/** A notice is on the page. */
export function noticeShown(): boolean {
  return document.getElementById("nbchat-page-notice") !== null;
}

/** Cover the page with a notice of `kind` ("failed", "closed") and a Reload button; the first notice stays. */
export function showNotice(kind: "failed" | "closed"): void {
  if (noticeShown()) return;
  const box = document.createElement("div");
  box.id = "nbchat-page-notice";
  box.setAttribute("role", "alert");
  box.dataset.kind = kind;
  box.lang = lang;
  // covers the page, whichever page it is on (nbchat's or Voila's, whose stylesheets know nothing of it)
  box.style.cssText =
    "position:fixed;inset:0;display:flex;flex-direction:column;align-items:center;justify-content:center;gap:1em;" +
    "padding:2em;text-align:center;z-index:10000;font-family:var(--jp-ui-font-family,sans-serif);" +
    "background:var(--jp-layout-color0,#fff);color:var(--jp-ui-font-color0,#000)";
  const title = document.createElement("h1");
  title.textContent = texts[`${kind}.title`];
  const body = document.createElement("p");
  body.textContent = texts[`${kind}.body`];
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = texts.reload;
  button.addEventListener("click", () => location.reload());
  box.append(title, body, button);
  document.body.append(box);
  document.getElementById("loading")?.remove(); // Voila's spinner
}
