// A stand-in for the anywidget model: the synced traits in a plain object, the
// listeners in a map, and a record of everything the view sent to Python.
import type { AnyModel } from "@anywidget/types";
import { afterEach, beforeEach } from "vitest";
import type { ChatMessage, ChatModel, ChatTraits, ClientMessage, ServerMessage } from "../types";

type Callback = (...args: any[]) => void;

export const DEFAULT_TRAITS: ChatTraits = {
  _messages: [],
  status: "ready",
  status_text: "tiny-model · fake · cpu",
  progress: null,
  model_label: "tiny-model · fake",
  system_prompt: "",
  max_new_tokens: 256,
  max_new_tokens_limit: 1024,
  temperature: 0.7,
  temperature_limit: 2,
  use_history: true,
};

export class FakeModel implements AnyModel<ChatTraits> {
  readonly state: ChatTraits;
  /** Everything the view sent with `model.send`, in order. */
  readonly sent: ClientMessage[] = [];
  /** How many times the view called `save_changes`. */
  saves = 0;
  readonly widget_manager = {
    get_model: async () => {
      throw new Error("not supported by the fake model");
    },
  };
  private readonly listeners = new Map<string, Set<Callback>>();

  constructor(traits: Partial<ChatTraits> = {}) {
    this.state = { ...DEFAULT_TRAITS, ...traits };
  }

  get<K extends keyof ChatTraits>(key: K): ChatTraits[K] {
    return this.state[key];
  }

  /** Like Backbone: a changed value fires `change:<key>` at once. */
  set<K extends keyof ChatTraits>(key: K, value: ChatTraits[K]): void {
    if (this.state[key] === value) return;
    this.state[key] = value;
    this.emit(`change:${String(key)}`);
  }

  on(event: string, callback: Callback): void {
    if (!this.listeners.has(event)) this.listeners.set(event, new Set());
    this.listeners.get(event)!.add(callback);
  }

  off(event?: string | null, callback?: Callback | null): void {
    if (!event) {
      this.listeners.clear();
      return;
    }
    if (!callback) this.listeners.delete(event);
    else this.listeners.get(event)?.delete(callback);
  }

  save_changes(): void {
    this.saves += 1;
  }

  send(content: any): void {
    this.sent.push(content as ClientMessage);
  }

  // ---- test helpers: what Python would do -------------------------------

  /** A trait changed on the Python side. */
  update(traits: Partial<ChatTraits>): void {
    for (const [key, value] of Object.entries(traits)) {
      (this.state as any)[key] = value;
      this.emit(`change:${key}`);
    }
  }

  /** A custom message arrived from Python. */
  custom(message: ServerMessage): void {
    this.emit("msg:custom", message, []);
  }

  /** A Backbone event of the real model, e.g. "comm_live_update" when the kernel restarts. */
  trigger(event: string, ...args: unknown[]): void {
    this.emit(event, ...args);
  }

  /** Number of listeners still attached (0 after the view's cleanup). */
  listenerCount(): number {
    let n = 0;
    for (const set of this.listeners.values()) n += set.size;
    return n;
  }

  private emit(event: string, ...args: unknown[]): void {
    for (const callback of [...(this.listeners.get(event) ?? [])]) callback(...args);
  }

  asModel(): ChatModel {
    return this;
  }
}

/** A committed message with sensible defaults. */
export function message(id: string, role: ChatMessage["role"], content: string, extra: Partial<ChatMessage> = {}): ChatMessage {
  return { id, role, content, status: "done", error: null, stats: null, ...extra };
}

/** A scheduler the test advances by hand: `frames.run()` plays one frame. */
export function manualFrames() {
  const queue: (() => void)[] = [];
  return {
    schedule(callback: () => void): () => void {
      queue.push(callback);
      return () => {
        const i = queue.indexOf(callback);
        if (i >= 0) queue.splice(i, 1);
      };
    },
    get pending(): number {
      return queue.length;
    },
    run(): void {
      for (const callback of queue.splice(0)) callback();
    },
  };
}

/** Where a test mounts its view: see `mountPoint`. */
export interface MountPoint {
  /** This test's element, attached to the document. */
  readonly el: HTMLElement;
  /** Keep the mounted view's cleanup; it runs after the test unless `unmount()` ran it first. */
  keep(cleanup: () => void): void;
  /** Run the kept cleanup now, as closing the view would. */
  unmount(): void;
}

/**
 * Registers, in the calling file or `describe`, hooks that give every test a
 * fresh `<div>` in the document and, after it, run the view's kept cleanup,
 * remove the element, then `teardown` (whatever else the tests changed).
 */
export function mountPoint(options: { teardown?: () => void } = {}): MountPoint {
  let current: HTMLElement | null = null;
  let cleanup: (() => void) | null = null;
  const unmount = () => {
    const kept = cleanup;
    cleanup = null;
    kept?.();
  };

  beforeEach(() => {
    current = document.createElement("div");
    document.body.append(current);
  });

  afterEach(() => {
    unmount();
    current?.remove();
    current = null;
    options.teardown?.();
  });

  return {
    get el(): HTMLElement {
      if (!current) throw new Error("mountPoint().el exists only while a test runs");
      return current;
    },
    keep(dispose: () => void): void {
      if (cleanup) throw new Error("a view is already mounted here: unmount() it first");
      cleanup = dispose;
    },
    unmount,
  };
}
