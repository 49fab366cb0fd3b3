// anywidget entry point of nbchat.Compare: N columns side by side (one per model or setting), one shared message
// box, blind voting and a word diff of two answers. Python (nbchat/compare/) owns every column's state;
// this view renders the traits and routes token deltas to their column by id.
import { AddForm } from "./add";
import { ColumnView, type ColumnOptions } from "./column";
import { DiffView } from "./diff";
import { commonSettings, SettingsForm } from "./settings";
import type { ColumnInfo, CompareClientMessage, CompareMessage, CompareModel, CompareServerMessage, TurnInfo } from "./types";
import { VoteBar } from "./vote";
import { Controls } from "../controls";
import { h, uniqueId } from "../dom";
import { ExportMenu } from "../export";
import { I18n, resolveLanguage } from "../i18n";
import { StarterPrompts } from "../prompts";
import { disconnectedBanner, dispatcher, mountShell } from "../shell";
import "../widget.css";
import "./compare.css";

/** Mount a Compare view for `model` inside `el`; returns the cleanup function. */
export function mountCompare(model: CompareModel, el: HTMLElement, options: ColumnOptions = {}): () => void {
  const send = (message: CompareClientMessage) => model.send(message);
  const i18n = options.i18n ?? new I18n(resolveLanguage(model.get("lang")));
  const limits = model.get("limits") ?? {};
  const columnOptions: ColumnOptions = { ...options, limits, i18n };
  const columns = new Map<string, ColumnView>();
  const row = h("div", { class: "nbchat-compare-columns" });
  const noColumns = h("p", { class: "nbchat-empty", text: i18n.t("cmp.noColumns") });
  const addForm = new AddForm(send, i18n);
  const addButton = h("button", { type: "button", class: "nbchat-button", text: i18n.t("cmp.add"), "aria-expanded": "false", "data-testid": "nbchat-compare-add" });
  const blindId = uniqueId("blind");
  const blindBox = h("input", { id: blindId, type: "checkbox" });
  const diffButton = h("button", { type: "button", class: "nbchat-button", text: i18n.t("cmp.diff"), "aria-expanded": "false", "data-testid": "nbchat-compare-diff" });
  const diff = new DiffView({
    columns: () => model.get("_columns") ?? [],
    turns: () => model.get("_turns") ?? [],
    answer: (column, turn) => columns.get(column)?.answerOf(turn) ?? null,
  }, i18n);
  const votes = new VoteBar(send, i18n);
  // The composer is the Chat widget's: it sends submit / stop / clear and reads the aggregate `status` trait.
  const controls = new Controls(model, i18n);
  const exporter = new ExportMenu(send, i18n);
  const prompts = new StarterPrompts({ send: (text) => controls.sendText(text), fill: (text, a, b) => controls.fill(text, a, b) }, i18n);
  const banner = disconnectedBanner(i18n.t("banner.disconnectedCompare"));
  const shared = new SettingsForm(i18n.t("cmp.sharedSettings"), (values) => send({ kind: "settings", values }), limits, i18n);
  const root = h("div", { class: "nbchat nbchat-compare", lang: i18n.locale, "data-lang": i18n.lang }, [
    h("div", { class: "nbchat-compare-toolbar" }, [
      addButton,
      h("div", { class: "nbchat-check" }, [blindBox, h("label", { for: blindId, text: i18n.t("cmp.blind") })]),
      diffButton,
      exporter.element,
    ]),
    banner,
    addForm.element,
    row,
    noColumns,
    votes.element,
    diff.element,
    prompts.element,
    controls.element,
    shared.element,
  ]);

  const stopDrops = controls.acceptDrops(root);
  addButton.addEventListener("click", () => {
    if (addForm.isOpen) addForm.close();
    else addForm.open();
    addButton.setAttribute("aria-expanded", String(addForm.isOpen));
  });
  addForm.element.addEventListener("submit", () => addButton.setAttribute("aria-expanded", "false"));
  blindBox.addEventListener("change", () => {
    model.set("blind", blindBox.checked);
    model.save_changes();
  });
  diffButton.addEventListener("click", () => {
    diff.toggle();
    diffButton.setAttribute("aria-expanded", String(diff.open));
  });

  const showColumns = () => {
    const infos: ColumnInfo[] = model.get("_columns") ?? [];
    const wanted = new Set(infos.map((c) => c.id));
    for (const [id, view] of columns) {
      if (!wanted.has(id)) {
        view.dispose();
        columns.delete(id);
      }
    }
    infos.forEach((info, index) => {
      let view = columns.get(info.id);
      if (!view) {
        view = new ColumnView(info, send, columnOptions);
        columns.set(info.id, view);
      }
      view.update(info, index, infos.length);
      if (row.children[index] !== view.element) row.insertBefore(view.element, row.children[index] ?? null);
    });
    root.style.setProperty("--nbchat-compare-count", String(infos.length));
    noColumns.hidden = infos.length > 0;
    shared.show(commonSettings(infos.map((c) => c.settings)));
    showArena();
  };
  const showMessages = () => {
    const all: Record<string, CompareMessage[]> = model.get("_messages") ?? {};
    for (const [id, view] of columns) view.setMessages(all[id] ?? []);
    diff.refresh();
  };
  const showPrompts = () => {
    prompts.set(model.get("prompts"));
    prompts.setVisible((model.get("_turns") ?? []).length === 0);
    prompts.setDisabled(model.get("status") !== "ready" || root.dataset.connected === "false");
  };
  const showArena = () => {
    const turns: TurnInfo[] = model.get("_turns") ?? [];
    const blind = Boolean(model.get("blind"));
    blindBox.checked = blind;
    root.dataset.blind = String(blind && !model.get("revealed"));
    votes.update(turns, model.get("_columns") ?? [], blind, Boolean(model.get("revealed")));
    diff.refresh();
    showPrompts();
  };
  const onCustom = dispatcher<CompareServerMessage>({
    delta: (msg) => columns.get(msg.column)?.applyDelta(msg.id, msg.text ?? "", msg.reasoning ?? ""),
    sync: (msg) => columns.get(msg.column)?.applySync(msg.id, msg.text ?? "", msg.reasoning),
    notice: (msg) => {
      controls.showNotice(msg.level ?? "info", i18n.fromKernel(msg.text ?? "", msg.key, msg.params));
      if (typeof msg.restore === "string") controls.restore(msg.restore); // a prompt no column could take
      if (Array.isArray(msg.attachments)) controls.restoreAttachments(msg.attachments);
    },
    attached: (msg) => controls.attached(msg.token, msg.attachment, msg.error && i18n.error({ error: msg.error, error_i18n: msg.error_i18n })),
    "attach-progress": (msg) => controls.attachProgress(msg.token, Number(msg.done) || 0, typeof msg.total === "number" ? msg.total : null),
    completions: (msg) => controls.completions(msg.request, msg.items ?? []),
    export: (msg) => exporter.receive(msg.format, String(msg.text ?? ""), String(msg.filename || "compare")),
  });

  const disconnect = () => {
    addForm.close();
    for (const control of [addButton, blindBox]) control.disabled = true;
    controls.setConnected(false);
    exporter.setDisabled(true);
    prompts.setDisabled(true);
  };
  const cleanup = mountShell(model, root, {
    events: {
      "change:_columns": () => {
        showColumns();
        showMessages();
      },
      "change:_messages": showMessages,
      "change:_turns": showArena,
      "change:blind": showArena,
      "change:revealed": showArena,
      "change:prompts": showPrompts,
      "change:status": showPrompts,
      "msg:custom": onCustom,
    },
    disconnect,
    escape: () => controls.stopReply(), // Esc stops every column's reply, as in Chat
    dispose: () => {
      stopDrops();
      for (const view of columns.values()) view.dispose();
      controls.dispose();
      shared.dispose();
    },
  });
  showColumns();
  showMessages();
  el.append(root);
  // A view opened mid-stream has missed the deltas so far: ask for the partial replies.
  if ([...columns.values()].some((c) => c.hasStreaming())) send({ kind: "sync" });

  return cleanup;
}

export default {
  render({ model, el }: { model: CompareModel; el: HTMLElement }) {
    return mountCompare(model, el);
  },
};
