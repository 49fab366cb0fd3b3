// The protocol shared with the Python side (nbchat/_view.py, used by nbchat/_widget.py): synced traits and the
// custom messages that travel in both directions. js/protocol.json is the one schema both sides are checked
// against (js/__tests__/protocol.test.ts, tests/test_protocol.py).
import type { AnyModel } from "@anywidget/types";

export type Role = "user" | "assistant";
export type MessageStatus = "done" | "streaming" | "stopped" | "error" | "incomplete";
export type ChatStatus = "loading" | "ready" | "generating" | "error";

/** A reply's `stats` (Python: `ReplyStats` in nbchat/_view.py; both checked against js/protocol.json). */
export interface Stats {
  tokens?: number | null;
  prompt_tokens?: number | null;
  /** Prompt tokens served from the backend's cache (prefix reuse), if it says. */
  cached_tokens?: number | null;
  /** Requests sent again after a temporary failure (absent: none). */
  retries?: number;
  ttft_s?: number | null;
  tokens_per_s?: number | null;
  duration_s?: number | null;
  finish_reason?: string | null;
  backend?: string;
  model?: string;
  left_out?: number;
  /** Seconds from the request to the first answer text (`ttft_s` counts the first token of either kind). */
  first_answer_s?: number | null;
  /** Seconds from the first reasoning text to the first answer text (or the end). */
  thinking_s?: number | null;
  thinking_tokens?: number | null;
  thinking_tokens_estimated?: boolean;
  /** `tokens` is an estimate: the server reported no usage. */
  tokens_estimated?: boolean;
  /** Something to know about this reply that is not an error (e.g. `thinking=` not applied). */
  notice?: string;
  /** A turn with tools: rounds of calls, and calls the model asked for. */
  tool_rounds?: number;
  tool_calls?: number;
  /** Documents: the reply's citation markers resolved against the passages its request sent. */
  citations?: Citation[];
}

/**
 * One citation of a reply (Python `nbchat.documents.resolve_citations`): the marker as the reply wrote it and the
 * passage it points to. `text` is a document's text: shown as text, never as HTML.
 */
export interface Citation {
  marker: string;
  document: string;
  sha256?: string;
  /** "p. 12", "p. 12, part 2", "slide 3", "§4". */
  locator: string;
  page?: number | null;
  passages?: string[];
  text: string;
  /** The passage was sent with this reply's request. */
  verified: boolean;
  /** When not verified: "not sent" or "no such passage". */
  reason?: string;
}

/** An image or text part of a user message besides its text (nbchat/_attachments.py `Attachment.to_dict`). */
export interface Attachment {
  kind: "image" | "text" | "document";
  media_type: string;
  name: string;
  sha256: string;
  /** The text of a text attachment (a DataFrame summary, a traceback, a file). */
  text?: string;
  width?: number | null;
  height?: number | null;
  /** `data:image/jpeg;base64,...` made by nbchat from the user's own image; "" for text. */
  thumbnail?: string;
  note?: string;
  /** A document: "whole" or "relevant" once sent ("" before), and the ids of the passages sent. */
  mode?: "" | "whole" | "relevant";
  passages?: string[];
  /** A document: how it was converted (`Attachment.to_dict`). */
  document?: DocumentInfo;
}

/** A document attachment's record (no text): pages, passages, estimated tokens when sent whole. */
export interface DocumentInfo {
  unit?: "page" | "slide" | "section";
  pages?: number;
  passages?: number;
  tokens?: number;
  converter?: string;
}

/** How documents are sent (Chat's `documents_mode`). */
export type DocumentsMode = "auto" | "whole" | "relevant";

/** The documents' budget and the course reader (Chat's `documents_info`). */
export interface DocumentsInfo {
  /** Tokens documents sent whole may fill, of `window`. */
  budget_tokens?: number;
  window?: number;
  /** The fraction of the context window. */
  budget?: number;
  /** Names of the course reader's documents (empty: none set by the administrator). */
  reader?: string[];
  reader_problems?: string[];
}

/** An attachment uploaded from this view (paste, drop, Attach) and kept by the kernel until sent. */
export interface PendingAttachment extends Attachment {
  token: string;
}

/** A text the kernel sends as a catalogue key and its parameters (a message's `error_i18n`); see `I18n.fromKernel`. */
export interface KernelText {
  key: string;
  params?: Record<string, string>;
}

export interface ChatMessage {
  id: string;
  role: Role;
  content: string;
  /** A reasoning model's thoughts before the answer; "" or missing when none. */
  reasoning?: string;
  status: MessageStatus;
  /** Why the reply failed (or may be cut off), in English as the kernel wrote it; null when nothing went wrong. */
  error: string | null;
  /** The same error as a catalogue key and parameters, shown in the view's language; missing or null when it has
   * none (an unexpected exception, a message from an older kernel). */
  error_i18n?: KernelText | null;
  stats: Stats | null;
  // The conversation is a tree; the list holds the branch Python selected. Missing fields read as the
  // defaults below (see `messageFlags`), so a message from an older kernel still renders.
  /** Id of the previous message in the tree (null: first message). */
  parent?: string | null;
  /** `[index (1-based), count]` of this message among its alternatives; default `[1, 1]`. */
  branch?: [number, number];
  /** Never left out to fit the context window; default false. */
  pinned?: boolean;
  /** Left out of every request by the user; default false. */
  excluded?: boolean;
  /** False when the next request will not include this message; default true. */
  in_context?: boolean;
  /** Images and text parts of a user message; default none. */
  attachments?: Attachment[];
  /** The user's rating of an answer: thumbs up/down and an optional comment; null or missing: not rated. */
  feedback?: Feedback | null;
  /** Rounds of tool calls of an answer (Python `nbchat.ToolRound.to_dict()`); missing or empty: none. */
  tool_rounds?: ToolRound[];
}

/** Where a tool call stands (Python `nbchat.tools.ToolStatus`). */
export type ToolStatus = "pending" | "running" | "done" | "error" | "declined" | "stopped";

/** One call a model asked for (Python `nbchat.ToolCall.to_dict()`). Every text in it may be hostile: the name and
 * arguments are the model's, the result and error the tool's. */
export interface ToolCall {
  id: string;
  name: string;
  /** The arguments as the model wrote them (JSON text, maybe malformed). */
  arguments: string;
  status: ToolStatus;
  /** The text the model got as the result. */
  result: string;
  /** Images (figures, arrays, PIL images) the tool returned: thumbnails only. */
  result_attachments: Attachment[];
  error: string | null;
  duration_s: number | null;
  /** Why it was declined (the user's words, also sent to the model). */
  reason: string;
  /** The MCP server of the tool; "" for a Python function. */
  server: string;
}

/** What the model wrote before asking for calls, and the calls (Python `nbchat.ToolRound.to_dict()`). */
export interface ToolRound {
  content: string;
  reasoning: string;
  calls: ToolCall[];
  /** Calls beyond the limit per reply: not run. */
  dropped?: number;
}

/** A person's answer to a call waiting for approval (the card's buttons). */
export type ToolDecision = "once" | "chat" | "decline";

/** `ChatMessage.feedback` (Python `nbchat.ChatMessage.feedback`). */
export interface Feedback {
  rating: "up" | "down" | null;
  comment?: string;
  /** Unix time of the last change (seconds). */
  time?: number;
}

export interface MessageFlags {
  branchIndex: number;
  branchCount: number;
  pinned: boolean;
  excluded: boolean;
  inContext: boolean;
}

/** The tree fields of `msg`, with defaults for a message that lacks them. */
export function messageFlags(msg: ChatMessage): MessageFlags {
  const [index, count] = Array.isArray(msg.branch) ? msg.branch : [1, 1];
  const branchCount = Number.isInteger(count) && count > 0 ? count : 1;
  const branchIndex = Number.isInteger(index) ? Math.min(Math.max(index, 1), branchCount) : 1;
  return {
    branchIndex,
    branchCount,
    pinned: msg.pinned === true,
    excluded: msg.excluded === true,
    inContext: msg.in_context !== false,
  };
}

/** How full the model's context window is with the next request. */
export interface ContextInfo {
  /** Prompt tokens the next request would use (null: unknown). */
  used: number | null;
  /** The model's context window in tokens (null: unknown). */
  window: number | null;
  /** Tokens kept free for the reply (max new tokens). */
  reserved: number;
  /** Messages of the visible branch that the next request leaves out. */
  left_out: number;
}

export interface GenerationSettings {
  max_new_tokens?: number | null;
  temperature?: number | null;
  top_p?: number | null;
  stop?: string[] | null;
  /** true: think first; false: answer at once; null: the model's default. */
  thinking?: boolean | null;
}

/** A content part of a request as Details shows it. */
export type RequestPart = { type: "text"; text: string } | { type: "image"; name: string; thumbnail: string };

/** What produced a reply: the answer to `{kind: "provenance"}`. */
export interface Provenance {
  backend: string;
  model: string;
  settings: GenerationSettings;
  system_prompt: string;
  /** The exact messages sent (chat backends); an image part carries its thumbnail instead of its bytes. */
  messages: { role: string; content: string | RequestPart[] }[];
  /** The rendered prompt text, for backends that take one string; null otherwise. */
  prompt: string | null;
  stats: Stats | null;
  /** How `thinking=` reaches this model, in words ("" when it has no switch). */
  thinking_switch?: string;
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
  /** Reasoning models: think first ("on"), answer at once ("off"), or the model's default. */
  thinking?: "default" | "on" | "off";
  context?: ContextInfo | null;
  /** The model evaluates a question's prompt while it is typed (local llama.cpp): send drafts. */
  prefill_drafts?: boolean;
  /** The UI language chosen in Python (`lang=`, `$NBCHAT_LANG`, policy); "" lets the browser decide. */
  lang?: string;
  /** Catalogue key and parameters of `status_text` (empty: show `status_text` as it is). */
  status_i18n?: { key?: string; params?: Record<string, string> };
  /** Starter prompts shown as cards while the chat is empty. */
  prompts?: string[];
  /** "notebook": each message carries the recent cells (js/chat/notebook.ts). */
  notebook_context?: "off" | "notebook";
  /** The notebook context's budget in tokens; 0: the kernel's default. */
  context_budget?: number;
  /** The chip: first and last cell, cells, tokens, and exactly the text sent. */
  context_preview?: { first?: number | null; last?: number | null; cells?: number; tokens?: number; text?: string };
  /** False when the administrator's policy switched the notebook context off. */
  context_allowed?: boolean;
  /** Documents: whole, relevant passages, or whole when they fit the budget. */
  documents_mode?: DocumentsMode;
  /** Search the course reader with each question (the per-chat off switch). */
  course_reader?: boolean;
  documents_info?: DocumentsInfo;
  /** An error sent by "Ask the chat": put in the message box once. */
  ask_draft?: { id?: number; code?: string; error?: string; kind?: string };
}

export type ChatModel = AnyModel<ChatTraits>;

/** What the composer (controls, attachment tray, `@` completion) reads of a model: Chat's and Compare's both fit. */
export type ComposerModel = AnyModel<Pick<ChatTraits, "status" | "prefill_drafts">>;

/** Name of the synced trait that holds the committed messages. */
export const MESSAGES_TRAIT = "_messages" satisfies keyof ChatTraits;

/** Python → browser messages that Chat and Compare both receive, with the same fields. */
export type SharedServerMessage =
  | {
      kind: "notice";
      level: "info" | "warning" | "error";
      text: string;
      restore?: string;
      attachments?: PendingAttachment[];
      /** Catalogue key of the text (nbchat/_i18n.py), to show it in the view's language. */
      key?: string;
      params?: Record<string, string>;
    }
  | { kind: "attached"; token: string; attachment?: Attachment; error?: string; error_i18n?: KernelText }
  /** A document being converted: `done` of `total` pages (`total` null while unknown). */
  | { kind: "attach-progress"; token: string; name: string; done: number; total: number | null }
  | { kind: "completions"; request: number; items: { name: string; type: string }[] };

/** Python → browser. */
export type ServerMessage =
  | { kind: "delta"; id: string; text: string; reasoning?: string }
  | { kind: "sync"; id: string; text: string; reasoning?: string }
  | SharedServerMessage
  | { kind: "provenance"; id: string; data: Provenance | null }
  | { kind: "code"; id: string; code: string }
  | { kind: "export"; format: ExportFormat; text: string; filename: string };

/** What "Export" asks the kernel for: `to_markdown()` or the `save()` file. */
export type ExportFormat = "markdown" | "json";

/** Browser → Python. */
export type ClientMessage =
  | { kind: "submit"; text: string; attachments?: string[]; context?: boolean }
  | { kind: "attach"; token: string; name: string; media_type: string }
  | { kind: "detach"; token: string }
  | { kind: "complete"; prefix: string; request: number }
  | { kind: "draft"; text: string }
  | { kind: "stop" }
  | { kind: "clear" }
  | { kind: "sync" }
  | { kind: "branch"; id: string; step: -1 | 1 }
  | { kind: "edit"; id: string; text: string }
  | { kind: "regenerate"; id: string }
  | { kind: "delete"; id: string }
  | { kind: "pin"; id: string; value: boolean }
  | { kind: "exclude"; id: string; value: boolean }
  | { kind: "provenance"; id: string }
  | { kind: "code"; id: string }
  | { kind: "feedback"; id: string; rating: "up" | "down" | null; comment: string }
  | { kind: "export"; format: ExportFormat }
  | { kind: "approve"; id: string; decision: ToolDecision; reason: string };
