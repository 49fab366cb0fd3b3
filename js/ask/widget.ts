// "Ask the chat": the small button nbchat.explain_errors() shows under a failing cell's traceback. A click (only a
// real click: the button is the only thing that sends) asks the kernel to put the error and the cell's code in the
// message box of the notebook's chat (the last one displayed, or a new one right under the button).
import type { AnyWidget } from "@anywidget/types";
import { h } from "../dom";
import { I18n, resolveLanguage } from "../i18n";
import "./ask.css";

interface AskTraits {
  lang: string;
  kind: string;
  sent: boolean;
}

const widget: AnyWidget<AskTraits> = {
  render({ model, el }) {
    const i18n = new I18n(resolveLanguage(model.get("lang")));
    const button = h("button", {
      type: "button",
      class: "nbchat-ask-button",
      "data-testid": "nbchat-ask",
      text: i18n.t("ask.button"),
      title: i18n.t("ask.title"),
    });
    const said = h("span", { class: "nbchat-ask-said", role: "status" });
    const show = () => {
      said.textContent = model.get("sent") ? i18n.t("ask.sent") : "";
    };
    button.addEventListener("click", (event) => {
      if (!event.isTrusted) return; // a script's synthetic click is not the user's
      model.send({ kind: "ask" });
    });
    model.on("change:sent", show);
    show();
    el.append(h("div", { class: "nbchat-ask", lang: i18n.locale }, [button, said]));
    return () => model.off("change:sent", show);
  },
};

export default widget;
