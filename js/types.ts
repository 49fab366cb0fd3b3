// The protocol shared with the Python side (nbchat/_widget.py): synced traits
// and the custom messages that travel in both directions.
import type { AnyModel } from "@anywidget/types";

export type Role = "user" | "assistant";
export type MessageStatus = "done" | "streaming" | "stopped" | "error" | "incomplete";
export type ChatStatus = "loading" | "ready" | "generating" | "error";

export interface Stats {
  tokens?: number | null;
  prompt_tokens?: number | null;
  ttft_s?: number | null;
  tokens_per_s?: number | null;
  duration_s?: number | null;
  finish_reason?: string | null;
  backend?: string;
  model?: string;
  left_out?: number;
}

export interface ChatMessage {
  id: string;
  role: Role;
  content: string;
  status: MessageStatus;
  error: string | null;
  stats: Stats | null;
}

export interface ChatTraits {
  _messages: ChatMessage[];
  status: ChatStatus;
  status_text: string;
  progress: number | null;
  model_label: string;
  system_prompt: string;
  max_new_tokens: number;
  max_new_tokens_limit: number;
  temperature: number;
  temperature_limit: number;
  use_history: boolean;
}

export type ChatModel = AnyModel<ChatTraits>;

/** Name of the synced trait that holds the committed messages. */
export const MESSAGES_TRAIT = "_messages" satisfies keyof ChatTraits;

/** Python → browser. */
export type ServerMessage =
  | { kind: "delta"; id: string; text: string }
  | { kind: "sync"; id: string; text: string }
  | { kind: "notice"; level: "info" | "warning" | "error"; text: string };

/** Browser → Python. */
export type ClientMessage =
  | { kind: "submit"; text: string }
  | { kind: "stop" }
  | { kind: "clear" }
  | { kind: "sync" };
