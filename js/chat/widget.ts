// anywidget entry point: builds the chat view for one model and wires it up.
import type { AnyWidget } from "@anywidget/types";
import { Controls } from "../controls";
import { h } from "../dom";
import { ExportMenu } from "../export";
import { DocumentsControls } from "./documents";
import { ContextGauge } from "./gauge";
import { I18n, resolveLanguage } from "../i18n";
import { MessageList, type MessageListOptions } from "./messages";
import { NotebookContextChip } from "./notebook";
import { Options } from "./options";
import { StarterPrompts } from "../prompts";
import { disconnectedBanner, dispatcher, mountShell } from "../shell";
import { MESSAGES_TRAIT, type ChatModel, type ChatStatus, type ChatTraits, type ServerMessage } from "../types";
import "../widget.css";

const STATUSES: readonly ChatStatus[] = ["loading", "ready", "generating", "error"];

function readStatus(model: ChatModel): ChatStatus {
  const status = model.get("status");
  return STATUSES.includes(status) ? status : "loading";
}

/**
 * The message box of the latest view of each model. When the kernel refreshes the cell output (to keep the
 * saved notebook's static transcript current) the front-end replaces the view; the new view takes over the
 * text being typed from the old box.
 */
const drafts = new WeakMap<object, HTMLTextAreaElement>();

/** Mount a chat view for `model` inside `el`; returns the cleanup function. */
export function mountChat(model: ChatModel, el: HTMLElement, options: MessageListOptions = {}): () => void {
  // The language is chosen once per view: Python's choice, else JupyterLab's, else the browser's.
  const i18n = options.i18n ?? new I18n(resolveLanguage(model.get("lang")));
  const title = h("div", { class: "nbchat-title" });
  const statusText = h("span", { class: "nbchat-status-text" });
  const progress = h("progress", { class: "nbchat-progress", max: 1, "aria-label": i18n.t("status.loading") });
  const statusLine = h("div", { class: "nbchat-statusline" }, [
    h("span", { class: "nbchat-dot", "aria-hidden": "true" }),
    statusText,
    progress,
  ]);
  const gauge = new ContextGauge(i18n);
  const list = new MessageList({ ...options, i18n, send: (message) => model.send(message) });
  const chip = new NotebookContextChip(model, i18n); // notebook context: the chip above the box, its toggle
  const controls = new Controls(chip.wrap(model), i18n, () => list.lastQuestion());
  const settings = new Options(model, i18n);
  settings.element.querySelector(".nbchat-options-grid")?.append(chip.toggle);
  const documents = new DocumentsControls(model, i18n, () => controls.refreshDocuments()); // whole/relevant, reader
  settings.element.querySelector(".nbchat-options-grid")?.append(documents.option);
  controls.setDocuments(documents);
  const exporter = new ExportMenu((message) => model.send(message), i18n);
  const prompts = new StarterPrompts({ send: (text) => controls.sendText(text), fill: (text, a, b) => controls.fill(text, a, b) }, i18n);
  const banner = disconnectedBanner(i18n.t("banner.disconnected"));
  const root = h("div", { class: "nbchat", "data-connected": "true", lang: i18n.locale, "data-lang": i18n.lang }, [
    h("div", { class: "nbchat-header" }, [
      title,
      h("div", { class: "nbchat-header-end" }, [statusLine, exporter.element]),
      gauge.element,
    ]),
    banner,
    list.element,
    prompts.element,
    chip.element,
    documents.element,
    controls.element,
    settings.element,
  ]);

  const stopDrops = controls.acceptDrops(root);

  const showLabel = () => {
    title.textContent = model.get("model_label") || i18n.t("app.name");
  };
  const showStatus = () => {
    if (root.dataset.connected === "false") return; // the last word was "disconnected"
    const status = readStatus(model);
    const keyed = model.get("status_i18n");
    const text = i18n.fromKernel(model.get("status_text") ?? "", keyed?.key, keyed?.params);
    root.dataset.status = status;
    statusText.textContent = text;
    const value = model.get("progress");
    const loading = status === "loading" && typeof value === "number" && Number.isFinite(value);
    progress.hidden = !loading;
    if (loading) progress.value = Math.min(1, Math.max(0, value));
    list.setStatus(status, text);
    prompts.setDisabled(status !== "ready" || root.dataset.connected === "false");
  };
  const showMessages = () => {
    list.setMessages(model.get(MESSAGES_TRAIT) ?? []);
    prompts.setVisible(list.isEmpty());
  };
  const showPrompts = () => {
    prompts.set(model.get("prompts"));
    prompts.setVisible(list.isEmpty());
    prompts.setDisabled(readStatus(model) !== "ready" || root.dataset.connected === "false");
  };
  const showContext = () => gauge.update(model.get("context"));
  const onCustom = dispatcher<ServerMessage>({
    delta: (msg) => list.applyDelta(msg.id, msg.text ?? "", msg.reasoning ?? ""),
    sync: (msg) => list.applySync(msg.id, msg.text ?? "", msg.reasoning),
    notice: (msg) => {
      controls.showNotice(msg.level ?? "info", i18n.fromKernel(msg.text ?? "", msg.key, msg.params));
      if (typeof msg.restore === "string") controls.restore(msg.restore);
      if (Array.isArray(msg.attachments)) controls.restoreAttachments(msg.attachments);
    },
    attached: (msg) => controls.attached(msg.token, msg.attachment, msg.error && i18n.error({ error: msg.error, error_i18n: msg.error_i18n })),
    "attach-progress": (msg) => controls.attachProgress(msg.token, Number(msg.done) || 0, typeof msg.total === "number" ? msg.total : null),
    completions: (msg) => controls.completions(msg.request, msg.items ?? []),
    provenance: (msg) => list.applyProvenance(msg.id, msg.data ?? null),
    code: (msg) => list.applyCode(msg.id, String(msg.code ?? "")),
    export: (msg) => exporter.receive(msg.format, String(msg.text ?? ""), String(msg.filename || "chat")),
  });

  const disconnect = () => {
    root.dataset.status = "disconnected";
    statusText.textContent = i18n.t("status.disconnected");
    progress.hidden = true;
    controls.setConnected(false);
    settings.setDisabled(true);
    exporter.setDisabled(true);
    prompts.setDisabled(true);
    list.setConnected(false);
    chip.setConnected(false);
    documents.setDisabled(true);
  };
  const cleanup = mountShell(model, root, {
    events: {
      "change:model_label": showLabel,
      "change:status": showStatus,
      "change:status_text": showStatus,
      "change:status_i18n": showStatus,
      "change:prompts": showPrompts,
      "change:progress": showStatus,
      [`change:${MESSAGES_TRAIT}`]: showMessages,
      "change:context": showContext,
      "msg:custom": onCustom,
      "change:ask_draft": () => chip.takeDraft((text) => controls.fill(text)),
    },
    disconnect,
    escape: () => controls.stopReply(),
    dispose: () => {
      stopDrops();
      list.dispose();
      controls.dispose();
      settings.dispose();
      chip.dispose();
      documents.dispose();
    },
  });
  showLabel();
  showStatus();
  showMessages();
  showContext();
  showPrompts();
  const previous = drafts.get(model);
  if (previous && !previous.isConnected) controls.textarea.value = previous.value;
  drafts.set(model, controls.textarea);
  chip.takeDraft((text) => controls.fill(text));
  el.append(root);
  // A view opened mid-stream has missed the deltas so far: ask for the partial text.
  if (list.hasStreaming()) model.send({ kind: "sync" });

  return cleanup;
}

const widget: AnyWidget<ChatTraits> = {
  render({ model, el }) {
    return mountChat(model, el);
  },
};

export default widget;
