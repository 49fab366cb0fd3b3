// anywidget entry point: builds the chat view for one model and wires it up.
import type { AnyWidget } from "@anywidget/types";
import { Controls } from "./controls";
import { h } from "./dom";
import { ContextGauge } from "./gauge";
import { MessageList, type MessageListOptions } from "./messages";
import { Options } from "./options";
import { disconnectedBanner, dispatcher, mountShell } from "./shell";
import { MESSAGES_TRAIT, type ChatModel, type ChatStatus, type ChatTraits, type ServerMessage } from "./types";
import "./widget.css";

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
  const title = h("div", { class: "nbchat-title" });
  const statusText = h("span", { class: "nbchat-status-text" });
  const progress = h("progress", { class: "nbchat-progress", max: 1, "aria-label": "Loading progress" });
  const statusLine = h("div", { class: "nbchat-statusline" }, [
    h("span", { class: "nbchat-dot", "aria-hidden": "true" }),
    statusText,
    progress,
  ]);
  const gauge = new ContextGauge();
  const list = new MessageList({ ...options, send: (message) => model.send(message) });
  const controls = new Controls(model);
  const settings = new Options(model);
  const banner = disconnectedBanner("chat");
  const root = h("div", { class: "nbchat", "data-connected": "true" }, [
    h("div", { class: "nbchat-header" }, [title, statusLine, gauge.element]),
    banner,
    list.element,
    controls.element,
    settings.element,
  ]);

  const stopDrops = controls.acceptDrops(root);

  const showLabel = () => {
    title.textContent = model.get("model_label") || "nbchat";
  };
  const showStatus = () => {
    if (root.dataset.connected === "false") return; // the last word was "disconnected"
    const status = readStatus(model);
    const text = model.get("status_text") ?? "";
    root.dataset.status = status;
    statusText.textContent = text;
    const value = model.get("progress");
    const loading = status === "loading" && typeof value === "number" && Number.isFinite(value);
    progress.hidden = !loading;
    if (loading) progress.value = Math.min(1, Math.max(0, value));
    list.setStatus(status, text);
  };
  const showMessages = () => list.setMessages(model.get(MESSAGES_TRAIT) ?? []);
  const showContext = () => gauge.update(model.get("context"));
  const onCustom = dispatcher<ServerMessage>({
    delta: (msg) => list.applyDelta(msg.id, msg.text ?? "", msg.reasoning ?? ""),
    sync: (msg) => list.applySync(msg.id, msg.text ?? "", msg.reasoning),
    notice: (msg) => {
      controls.showNotice(msg.level ?? "info", msg.text ?? "");
      if (typeof msg.restore === "string") controls.restore(msg.restore);
      if (Array.isArray(msg.attachments)) controls.restoreAttachments(msg.attachments);
    },
    attached: (msg) => controls.attached(msg.token, msg.attachment, msg.error),
    completions: (msg) => controls.completions(msg.request, msg.items ?? []),
    provenance: (msg) => list.applyProvenance(msg.id, msg.data ?? null),
    code: (msg) => list.applyCode(msg.id, String(msg.code ?? "")),
  });

  const disconnect = () => {
    root.dataset.status = "disconnected";
    statusText.textContent = "disconnected";
    progress.hidden = true;
    controls.setConnected(false);
    settings.setDisabled(true);
    list.setConnected(false);
  };
  const cleanup = mountShell(model, root, {
    events: {
      "change:model_label": showLabel,
      "change:status": showStatus,
      "change:status_text": showStatus,
      "change:progress": showStatus,
      [`change:${MESSAGES_TRAIT}`]: showMessages,
      "change:context": showContext,
      "msg:custom": onCustom,
    },
    disconnect,
    dispose: () => {
      stopDrops();
      list.dispose();
      controls.dispose();
      settings.dispose();
    },
  });
  showLabel();
  showStatus();
  showMessages();
  showContext();
  const previous = drafts.get(model);
  if (previous && !previous.isConnected) controls.textarea.value = previous.value;
  drafts.set(model, controls.textarea);
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
