import { describe, expect, it } from "vitest";
import { formatContext } from "../chat/gauge";
import { mountChat } from "../chat/widget";
import { FakeModel, mountPoint } from "./fake_model";

const view = mountPoint();

const gauge = () => view.el.querySelector<HTMLElement>(".nbchat-context")!;
const meter = () => view.el.querySelector<HTMLElement>('[role="meter"]')!;

describe("context gauge", () => {
  it("shows used / window tokens, the room reserved for the reply, as a labelled meter", () => {
    const model = new FakeModel({ context: { used: 1234, window: 8192, reserved: 256, left_out: 0 } });
    view.keep(mountChat(model.asModel(), view.el));
    expect(gauge().hidden).toBe(false);
    expect(gauge().textContent).toBe("1,234 / 8,192 tokens (256 reserved for the reply)");
    expect(view.el.querySelector(".nbchat-header")?.contains(gauge())).toBe(true);
    expect(meter().hidden).toBe(false);
    expect(meter().getAttribute("aria-label")).toBe("Context window");
    expect(meter().getAttribute("aria-valuenow")).toBe("1234");
    expect(meter().getAttribute("aria-valuemax")).toBe("8192");
    expect(meter().querySelector<HTMLElement>(".nbchat-gauge-used")?.style.width).toBe("15.06%");
    expect(gauge().dataset.level).toBe("ok");
  });

  it("follows the trait and counts the messages not sent", () => {
    const model = new FakeModel({ context: { used: 100, window: 1000, reserved: 0, left_out: 0 } });
    view.keep(mountChat(model.asModel(), view.el));
    expect(gauge().textContent).toBe("100 / 1,000 tokens");
    model.update({ context: { used: 900, window: 1000, reserved: 100, left_out: 3 } });
    expect(gauge().textContent).toBe("900 / 1,000 tokens (100 reserved for the reply) · 3 messages not sent");
    expect(gauge().dataset.level).toBe("full");
    model.update({ context: { used: 700, window: 1000, reserved: 100, left_out: 1 } });
    expect(gauge().textContent).toContain("· 1 message not sent");
    expect(gauge().dataset.level).toBe("high");
  });

  it("hides the bar when the window is unknown, showing only the token count", () => {
    const model = new FakeModel({ context: { used: 1234, window: null, reserved: 256, left_out: 0 } });
    view.keep(mountChat(model.asModel(), view.el));
    expect(meter().hidden).toBe(true);
    expect(meter().hasAttribute("aria-valuemax")).toBe(false);
    expect(gauge().hidden).toBe(false);
    expect(gauge().textContent).toBe("1,234 tokens");
  });

  it("is hidden entirely when nothing is known (or the kernel sends no context)", () => {
    const model = new FakeModel({ context: { used: null, window: null, reserved: 0, left_out: 0 } });
    view.keep(mountChat(model.asModel(), view.el));
    expect(gauge().hidden).toBe(true);
    view.unmount();
    view.keep(mountChat(new FakeModel().asModel(), view.el));
    expect(gauge().hidden).toBe(true);
  });

  it("formats a window without a count", () => {
    expect(formatContext({ used: null, window: 4096, reserved: 0, left_out: 0 })).toBe("4,096-token context window");
    expect(formatContext(null)).toBe("");
  });
});
