// The protocol of the Compare widget (nbchat/compare/, typed in nbchat/_view.py): synced traits and custom messages,
// checked against js/protocol.json by js/__tests__/protocol.test.ts.
// Column messages have the Chat widget's shape (types.ts) plus the turn they belong to.
import type { AnyModel } from "@anywidget/types";
import type { ChatMessage, ChatStatus, ExportFormat, SharedServerMessage, ToolDecision } from "../types";

export interface ColumnSettings {
  system_prompt: string;
  max_new_tokens: number;
  temperature: number;
  top_p?: number;
  use_history?: boolean;
}

export interface ColumnInfo {
  /** Stable id ("c1", ...); says nothing about the model. */
  id: string;
  /** What the header shows: the column name, or its letter while blind. */
  name: string;
  /** `model · backend`; empty while blind. */
  label: string;
  /** Blind name ("A", "B", ...), empty until blind mode is used. */
  letter: string;
  settings: ColumnSettings;
  status: ChatStatus;
  status_text: string;
  /** Catalogue key and parameters of `status_text` (empty: show it as it is). */
  status_i18n?: { key?: string; params?: Record<string, string> };
}

export interface CompareMessage extends ChatMessage {
  /** Turn number (1-based) of a message sent by the Compare; null for one sent elsewhere. */
  turn?: number | null;
}

export interface TurnInfo {
  turn: number;
  prompt: string;
  /** Ids of the columns that answered, in order. */
  columns: string[];
  /** Every answer is complete, stopped or failed. */
  done: boolean;
  /** Winning column id, "tie", or null (no vote yet). */
  vote: string | null;
}

export interface CompareTraits {
  /** "generating" if any column is, else "loading" if any is, else "ready" (the composer reads it). */
  status: ChatStatus;
  _columns: ColumnInfo[];
  _messages: Record<string, CompareMessage[]>;
  _turns: TurnInfo[];
  blind: boolean;
  revealed: boolean;
  /** An administrator's caps on the settings (absent or null: none beyond the usual 0–2 temperature). */
  limits?: SettingsLimits;
  /** The UI language chosen in Python (`lang=`, `$NBCHAT_LANG`, policy); "" lets the browser decide. */
  lang?: string;
  /** Starter prompts shown as cards until the first turn (`Compare(prompts=[...])`). */
  prompts?: string[];
}

export interface SettingsLimits {
  max_new_tokens?: number | null;
  temperature?: number | null;
}

export type CompareModel = AnyModel<CompareTraits>;

/** Editable settings, as sent back to Python. */
export type SettingsValues = Partial<Pick<ColumnSettings, "system_prompt" | "max_new_tokens" | "temperature">>;

/** Python → browser. */
export type CompareServerMessage =
  | { kind: "delta"; column: string; id: string; text: string; reasoning?: string }
  | { kind: "sync"; column: string; id: string; text: string; reasoning?: string }
  | { kind: "export"; format: ExportFormat; text: string; filename: string }
  | SharedServerMessage;

/** Browser → Python. `column` is a column id; left out, a message applies to every column. */
export type CompareClientMessage =
  | { kind: "submit"; text: string; attachments?: string[]; context?: boolean } // context: Chat only (ignored)
  | { kind: "attach"; token: string; name: string; media_type: string }
  | { kind: "detach"; token: string }
  | { kind: "complete"; prefix: string; request: number }
  | { kind: "stop"; column?: string }
  | { kind: "clear" }
  | { kind: "sync" }
  | { kind: "add"; name: string; spec: string; model?: string }
  | { kind: "remove"; column: string }
  | { kind: "move"; column: string; step: -1 | 1 }
  | { kind: "settings"; column?: string; values: SettingsValues }
  | { kind: "vote"; turn: number; winner: string }
  | { kind: "reveal" }
  | { kind: "export"; format: ExportFormat }
  | { kind: "approve"; id: string; decision: ToolDecision; reason: string; column?: string };

export type Send = (message: CompareClientMessage) => void;
