// The message catalogue: every string the widgets show or name (labels, buttons, notices, accessible names),
// in English and Simplified Chinese, and the locale formatting (numbers, durations, dates) through `Intl`.
// A view resolves its language once (`resolveLanguage`) and hands its `I18n` to every part it builds.
// The Python side keeps the same keys for its notices (nbchat/_i18n.py).
import type { KernelText } from "./types";

/** Languages with a complete catalogue. */
export type Lang = "en" | "zh";
export const LANGS: readonly Lang[] = ["en", "zh"];

const en = {
  // chat: header, status, banner
  "app.name": "nbchat",
  "status.disconnected": "disconnected",
  "status.loading": "Loading progress",
  "banner.disconnected":
    "Disconnected: the kernel was restarted or shut down. This is a read-only copy of the chat; run the cell again to continue.",
  "banner.disconnectedCompare":
    "Disconnected: the kernel was restarted or shut down. This is a read-only copy of the comparison; run the cell again to continue.",
  // composer
  "input.label": "Message",
  "input.placeholder": "Ask something… (Enter to send, Shift+Enter for a new line)",
  "button.send": "Send",
  "button.stop": "Stop",
  "button.clear": "Clear",
  "shortcuts.button": "Keyboard shortcuts",
  "shortcuts.title": "Keyboard shortcuts",
  "shortcuts.send": "Send the message",
  "shortcuts.newline": "New line",
  "shortcuts.sendMulti": "Send, also from a message of several lines",
  "shortcuts.stop": "Stop the reply",
  "shortcuts.recall": "Recall the last question (in an empty box)",
  "key.enter": "Enter",
  "key.shiftEnter": "Shift+Enter",
  "key.ctrlEnter": "Ctrl+Enter",
  "key.cmdEnter": "⌘+Enter",
  "key.esc": "Esc",
  "key.up": "↑",
  // attachments (Attach, the tray, @name)
  "attach.button": "Attach",
  "attach.title": "Attach images or text files (or paste or drop them here)",
  "attach.files": "Attach files",
  "attach.list": "Attachments",
  "attach.tray": "Attachments to send",
  "attach.unsupported": "{name} cannot be attached: use an image (PNG, JPEG, WebP, GIF) or a text file.",
  "attach.thisFile": "This file",
  "attach.tooLarge": "{name} is larger than {mb} MiB; attach a smaller file.",
  "attach.pastedImage": "pasted image",
  "attach.pastedText": "pasted text",
  "attach.unreadable": "{name} could not be read.",
  "attach.failed": "The file could not be attached.",
  "attach.remove": "Remove {name}",
  "attach.uploading": "An attachment is still being uploaded; send again in a moment.",
  "mention.label": "Variables",
  // export
  "export.button": "Export",
  "export.markdown": "Download as Markdown",
  "export.json": "Download as nbchat JSON",
  "export.copy": "Copy the whole chat",
  "export.failed": "Export failed: {reason}",
  // starter prompts
  "prompts.label": "Example questions",
  "prompts.fill": "Complete the question, then send it",
  // message list
  "list.empty": "No messages yet. Ask something below.",
  "list.error": "Something went wrong.",
  "msg.failed": "The reply failed.",
  "badge.stopped": "stopped",
  "badge.incomplete": "incomplete",
  "msg.showAll": "Show all ({size})",
  "msg.rendering": "rendering… ({size} more)",
  "size.chars.one": "{n} character",
  "size.chars.other": "{n} characters",
  "size.kb": "{n} kB",
  "size.mb": "{n} MB",
  // message actions
  "action.prev": "Previous version",
  "action.next": "Next version",
  "action.versions": "Versions",
  "action.group": "Message actions",
  "action.edit": "Edit",
  "action.copy": "Copy",
  "action.pin": "Pin",
  "action.unpin": "Unpin",
  "action.exclude": "Exclude",
  "action.include": "Include",
  "action.delete": "Delete",
  "action.regenerate": "Regenerate",
  "action.code": "Copy as code",
  "action.details": "Details",
  "mark.pinned": "pinned",
  "mark.pinnedTitle": "Pinned: kept when older messages are left out",
  "mark.notSent": "not sent",
  "mark.excluded": "excluded",
  "mark.dropped": "left out to fit the context window",
  // feedback
  "feedback.group": "Rate this answer",
  "feedback.up": "Good answer",
  "feedback.down": "Bad answer",
  "feedback.comment": "Comment (optional)",
  "feedback.commentPlaceholder": "What was good or wrong about it?",
  "feedback.save": "Save comment",
  "feedback.saved": "Thanks, your feedback is saved.",
  // clipboard
  "copy.done": "Copied",
  "copy.failed": "Copy failed",
  "copy.code": "Copy code",
  "copy.invisible.one": "Copied ({n} invisible character left out)",
  "copy.invisible.other": "Copied ({n} invisible characters left out)",
  "code.invisible": "{name}: an invisible control character (not copied)",
  // editor
  "edit.label": "Edit message",
  "edit.save": "Save & send",
  "edit.cancel": "Cancel",
  // settings
  "options.summary": "Advanced options",
  "options.system": "System message",
  "options.maxNewTokens": "Max new tokens",
  "options.temperature": "Temperature",
  "options.history": "Use history",
  "options.greedy": "{value} (greedy)",
  "options.thinking": "Thinking",
  "options.thinkingDefault": "model default",
  "options.on": "on",
  "options.off": "off",
  // a reasoning model's thoughts
  "thinking.live": "Thinking…",
  "thinking.done": "Thought",
  "thinking.doneFor": "Thought for {s}",
  "thinking.stopped": "Thinking stopped",
  "thinking.stoppedAfter": "Thinking stopped after {s}",
  // context gauge
  "context.label": "Context window",
  "context.used": "{used} / {window} tokens",
  "context.window": "{window}-token context window",
  "context.usedReserved": "{used} / {window} tokens ({reserved} reserved for the reply)",
  "context.windowReserved": "{window}-token context window ({reserved} reserved for the reply)",
  "context.tokens": "{n} tokens",
  "context.notSent.one": "{n} message not sent",
  "context.notSent.other": "{n} messages not sent",
  // stats line
  "stats.tokens.one": "{n} token",
  "stats.tokens.other": "{n} tokens",
  "stats.ttft": "TTFT {s}",
  "stats.rate": "{rate} tok/s",
  "stats.length": "stopped at max new tokens",
  "stats.leftOut.one": "{n} earlier message left out to fit the context window",
  "stats.leftOut.other": "{n} earlier messages left out to fit the context window",
  "stats.promptTokens.one": "{n} prompt token",
  "stats.promptTokens.other": "{n} prompt tokens",
  "stats.total": "{s} in total",
  "stats.answerAt": "answer at {s}",
  "stats.thinking": "thinking {s}",
  "stats.thinkingTokens.one": "{n} thinking token",
  "stats.thinkingTokens.other": "{n} thinking tokens",
  "stats.estimated": "token counts estimated: the server reported no usage",
  "stats.finish": "finish reason: {reason}",
  "unit.seconds": "{n} s",
  // provenance card
  "finish.stop": "stop",
  "finish.length": "max new tokens reached",
  "finish.stopped": "stopped by user",
  "finish.error": "error",
  "prov.none": "none",
  "prov.greedy": "0 (greedy)",
  "prov.tokensIn": "Tokens in",
  "prov.tokensOut": "Tokens out",
  "prov.ttft": "TTFT",
  "prov.speed": "Speed",
  "prov.duration": "Duration",
  "prov.finish": "Finish reason",
  "prov.leftOut": "Left out",
  "prov.leftOutValue.one": "{n} earlier message (context window)",
  "prov.leftOutValue.other": "{n} earlier messages (context window)",
  "prov.prompt": "prompt",
  "prov.noMessages": "No messages.",
  "prov.request": "Request",
  "prov.unavailable": "Details are not available for this message.",
  "prov.backend": "Backend",
  "prov.model": "Model",
  "prov.maxNewTokens": "Max new tokens",
  "prov.temperature": "Temperature",
  "prov.topP": "Top p",
  "prov.stop": "Stop sequences",
  "prov.system": "System message",
  "prov.details": "Details",
  "prov.code": "Code",
  "prov.hideCode": "Hide code",
  "prov.codeTitle": "Code for this request",
  "prov.loading": "Loading details…",
  "prov.timeThinking": "Time thinking",
  "prov.firstAnswer": "First answer token",
  "prov.tokenCounts": "Token counts",
  "prov.estimated": "estimated: the server reported no usage",
  "prov.image": "image: {name}",
  "prov.imageUnnamed": "image",
  "unit.rate": "{n} tok/s",
  // markdown
  "md.imageNotLoaded": "image not loaded",
  "md.imageAlt": "{alt} (image not loaded)",
  // compare
  "cmp.noColumns": "No models yet: press “Add model”.",
  "cmp.add": "Add model",
  "cmp.diff": "Compare answers",
  "cmp.sharedSettings": "Advanced options (all columns)",
  "cmp.blind": "Blind",
  "cmp.settings": "Settings",
  "cmp.noAnswers": "No answers yet.",
  "cmp.moveLeft": "Move {name} left",
  "cmp.moveRight": "Move {name} right",
  "cmp.stop": "Stop {name}",
  "cmp.remove": "Remove {name}",
  "cmp.desc.temperature": "temperature {t}",
  "cmp.desc.max": "max {n} tokens",
  "cmp.desc.topP": "top_p {p}",
  "cmp.desc.noHistory": "no history",
  "cmp.desc.system": "system: “{text}”",
  "cmp.addForm": "Add a model",
  "cmp.addName": "Name",
  "cmp.addNamePlaceholder": "optional, e.g. my-server",
  "cmp.addSpec": "Model or URL",
  "cmp.addSpecPlaceholder": "http://127.0.0.1:8000/v1, openai:gpt-4o-mini, a local model or path",
  "cmp.addModel": "Served model name",
  "cmp.addModelPlaceholder": "for servers that ask for it",
  "cmp.addSubmit": "Add",
  "cmp.addHint": "Type a model: a server URL, an online source like openai:gpt-4o-mini, or a local model.",
  "cmp.atMost": "At most {n} (set by the administrator)",
  "cmp.mixed": "mixed",
  "cmp.vote": "Vote",
  "cmp.reveal": "Reveal",
  "cmp.removedColumn": "a removed column",
  "cmp.blindIntro": "Blind mode: model names are hidden. Send a prompt, then vote for the better answer.",
  "cmp.voteWait": "Vote when every column has answered.",
  "cmp.whichBetter": "Which answer is better?",
  "cmp.better": "{name} is better",
  "cmp.tie": "Tie",
  "cmp.votedTie": "You voted: tie.",
  "cmp.voted": "You voted: {name} is better.",
  "cmp.differences": "Differences",
  "cmp.turn": "Turn",
  "cmp.first": "First answer",
  "cmp.second": "Second answer",
  "cmp.diffHint": "Send a prompt to at least two columns, then pick two of their answers.",
  "cmp.same": "{a} and {b} gave the same answer.",
  "cmp.changes": "From {a} to {b}: {removed} words removed, {added} added.",
  // written by Python (nbchat/_i18n.py holds the same keys and texts)
  "py.busy": "A reply is still being generated; wait for it or press Stop, then send again.",
  "py.fixed": "{label} is fixed on this page.",
  "py.empty": "The message is empty; type something to send.",
  "py.refused": "{label}: {value} was refused, {kept} is kept. {reason}",
  "py.lowered": "{label} is at most {kept} here (the model's context window, or a limit set for this installation); {value} was lowered to {kept}.",
  "py.status.loading": "loading {model}…",
  "py.status.ready": "ready",
  "py.status.readyOn": "ready · {device}",
  "py.status.generating": "generating with {model}…",
  "py.status.loadingHidden": "loading…",
  "py.status.generatingHidden": "generating…",
  // errors of a failed reply (BackendError.key): a "<name>_key" parameter fills {<name>} from its own key
  "py.err.limitSeconds": "{seconds} s",
  "py.err.limitUnknown": "the timeout",
  "py.err.timeout": "{where} did not answer within {limit}. The server may be busy or still loading the model; send again, or pass a longer timeout=.",
  "py.err.timeoutFirst": "{where} answered, then sent nothing for {limit} before the first token. The server may be overloaded or stuck; send again, or pass a longer timeout=.",
  "py.err.timeoutMid": "{where} answered, then sent nothing for {limit} in the middle of the reply. The partial reply is kept. The server may be overloaded or stuck; send again, or pass a longer timeout=.",
  "py.err.dns": "Could not find the host {host} of {where} (name lookup failed: {cause}). Check the spelling of the URL and your network/VPN, then send again.",
  "py.err.connect": "Could not connect to {where} ({cause}). Check that the server is running and that the URL (usually ending in /v1) is right, then send again.",
  "py.err.closed": "{where} closed the connection before sending any reply text ({cause}). Send again.",
  "py.err.broke": "The connection to {where} broke in the middle of the reply ({cause}). The partial reply is kept. Send again.",
  "py.err.keyHelpSource": "Check the key in {vars} (environment or .env).",
  "py.err.keyHelpServer": "Check api_key= (or $NBCHAT_API_KEY).",
  "py.err.401": "{where} rejected the API key (401: {detail}). {help}",
  "py.err.403": "{where} refused access to model {model} (403: {detail}). {help} Check the plan/region.",
  "py.err.404": "Model {model} was not found at {where} (404: {detail}). List the models it offers with OpenAIBackend(...).list_models() or GET {base_url}/models, and check that the URL ends in the API version (/v1).",
  "py.err.429": "{where} is rate-limiting requests or the quota is used up (429: {detail}). Wait, or check your plan's limits, then send again.",
  "py.err.429wait": "{where} is rate-limiting requests (429: {detail}) and asks to wait {wait} s; then send again.",
  "py.err.gateway": "{where} answered HTTP {status} ({detail}): the server or a proxy in front of it is overloaded, restarting or cannot reach the model. Send again in a moment; if it persists, check the server.",
  "py.err.5xx": "{where} failed with HTTP {status} ({detail}). Send again; if it persists, check the server's log.",
  "py.err.400": "{where} rejected the request (400: {detail}). Check the model name and the settings.",
  "py.err.http": "{where} answered HTTP {status} ({detail}).",
  "py.err.event": "{where} reported an error during the reply: {detail}. Send again.",
  "py.err.eventKept": "{where} reported an error during the reply: {detail}. The partial reply is kept. Send again.",
  "py.err.malformed": "{where} sent a malformed chunk in its event stream ({problem}); Send again; if it persists, the server is not fully OpenAI-compatible (check its version and log).",
  "py.err.malformedKept": "{where} sent a malformed chunk in its event stream ({problem}); the partial reply is kept. Send again; if it persists, the server is not fully OpenAI-compatible (check its version and log).",
  "py.err.notStream": "{where} answered with {kind} instead of an event stream. A proxy, login page or a server that is not OpenAI-compatible may be in the way; check base_url (usually ending in /v1).",
  "py.err.noKey": "No API key for {source}: set {vars} in the environment, or put a line {var}=... in a .env file in {cwd} or a folder above it (not committed to git), or pass api_key=... . Create a key at {url}",
  "py.err.tooLongLlamacpp": "The prompt has {tokens} tokens, at or beyond the context window of {n_ctx} tokens llama.cpp was loaded with for {model}. Clear the chat, turn history off, or load the model with a larger n_ctx= (up to its trained context).",
  "py.err.tooLong": "The prompt has {tokens} tokens, at or beyond {model}'s context window of {n_ctx}. Clear the chat or turn history off.",
  "py.err.incomplete": "The reply ended without a finish reason, so it may be cut off. Send again to retry.",
  "py.err.tried": "{error} (Tried {n} times.)",
} as const;

/** A catalogue key. */
export type Key = keyof typeof en;
export type Catalogue = Record<Key, string>;

// Simplified Chinese, in the words Chinese course material uses for these things (系统提示词, 温度, 最大生成长度,
// 上下文窗口, token); "token" stays untranslated as it does in Chinese LLM texts.
const zh: Catalogue = {
  "app.name": "nbchat",
  "status.disconnected": "已断开",
  "status.loading": "加载进度",
  "banner.disconnected": "连接已断开：内核已重启或关闭。这里是对话的只读副本，重新运行单元格即可继续对话。",
  "banner.disconnectedCompare": "连接已断开：内核已重启或关闭。这里是对比的只读副本，重新运行单元格即可继续。",
  "input.label": "消息",
  "input.placeholder": "输入你的问题…（Enter 发送，Shift+Enter 换行）",
  "button.send": "发送",
  "button.stop": "停止",
  "button.clear": "清空",
  "shortcuts.button": "键盘快捷键",
  "shortcuts.title": "键盘快捷键",
  "shortcuts.send": "发送消息",
  "shortcuts.newline": "换行",
  "shortcuts.sendMulti": "发送（消息有多行时也可以）",
  "shortcuts.stop": "停止生成回复",
  "shortcuts.recall": "调出上一个问题（输入框为空时）",
  "key.enter": "Enter",
  "key.shiftEnter": "Shift+Enter",
  "key.ctrlEnter": "Ctrl+Enter",
  "key.cmdEnter": "⌘+Enter",
  "key.esc": "Esc",
  "key.up": "↑",
  "attach.button": "添加附件",
  "attach.title": "添加图片或文本文件（也可以直接粘贴或拖到这里）",
  "attach.files": "选择要添加的文件",
  "attach.list": "附件",
  "attach.tray": "待发送的附件",
  "attach.unsupported": "{name} 无法添加：请使用图片（PNG、JPEG、WebP、GIF）或文本文件。",
  "attach.thisFile": "这个文件",
  "attach.tooLarge": "{name} 超过 {mb} MiB，请换一个小一点的文件。",
  "attach.pastedImage": "粘贴的图片",
  "attach.pastedText": "粘贴的文本",
  "attach.unreadable": "无法读取 {name}。",
  "attach.failed": "文件没能添加。",
  "attach.remove": "移除 {name}",
  "attach.uploading": "附件还在上传，请稍后再发送。",
  "mention.label": "变量",
  "export.button": "导出",
  "export.markdown": "下载为 Markdown",
  "export.json": "下载为 nbchat JSON",
  "export.copy": "复制整段对话",
  "export.failed": "导出失败：{reason}",
  "prompts.label": "示例问题",
  "prompts.fill": "把问题补充完整后再发送",
  "list.empty": "还没有消息，在下面输入问题开始对话吧。",
  "list.error": "出错了。",
  "msg.failed": "回复生成失败。",
  "badge.stopped": "已停止",
  "badge.incomplete": "不完整",
  "msg.showAll": "显示全部（{size}）",
  "msg.rendering": "正在渲染…（还剩 {size}）",
  "size.chars.one": "{n} 个字符",
  "size.chars.other": "{n} 个字符",
  "size.kb": "{n} kB",
  "size.mb": "{n} MB",
  "action.prev": "上一个版本",
  "action.next": "下一个版本",
  "action.versions": "版本",
  "action.group": "消息操作",
  "action.edit": "编辑",
  "action.copy": "复制",
  "action.pin": "固定",
  "action.unpin": "取消固定",
  "action.exclude": "排除",
  "action.include": "取消排除",
  "action.delete": "删除",
  "action.regenerate": "重新生成",
  "action.code": "复制为代码",
  "action.details": "详情",
  "mark.pinned": "已固定",
  "mark.pinnedTitle": "已固定：省略较早的消息时也会保留它",
  "mark.notSent": "不发送",
  "mark.excluded": "已排除",
  "mark.dropped": "为放进上下文窗口而省略",
  "feedback.group": "评价这个回答",
  "feedback.up": "回答得好",
  "feedback.down": "回答得不好",
  "feedback.comment": "补充说明（可选）",
  "feedback.commentPlaceholder": "哪里好，或者哪里不对？",
  "feedback.save": "保存说明",
  "feedback.saved": "谢谢，你的反馈已保存。",
  "copy.done": "已复制",
  "copy.failed": "复制失败",
  "copy.code": "复制代码",
  "copy.invisible.one": "已复制（去掉了 {n} 个不可见字符）",
  "copy.invisible.other": "已复制（去掉了 {n} 个不可见字符）",
  "code.invisible": "{name}：不可见的控制字符（复制时会去掉）",
  "edit.label": "编辑消息",
  "edit.save": "保存并发送",
  "edit.cancel": "取消",
  "options.summary": "高级选项",
  "options.system": "系统提示词",
  "options.maxNewTokens": "最大生成长度",
  "options.temperature": "温度",
  "options.history": "使用对话历史",
  "options.greedy": "{value}（贪心解码）",
  "options.thinking": "思考",
  "options.thinkingDefault": "模型默认",
  "options.on": "开",
  "options.off": "关",
  "thinking.live": "思考中…",
  "thinking.done": "已思考",
  "thinking.doneFor": "思考了 {s}",
  "thinking.stopped": "思考已停止",
  "thinking.stoppedAfter": "思考 {s} 后停止",
  "context.label": "上下文窗口",
  "context.used": "{used} / {window} token",
  "context.window": "上下文窗口 {window} token",
  "context.usedReserved": "{used} / {window} token（其中 {reserved} 留给回复）",
  "context.windowReserved": "上下文窗口 {window} token（其中 {reserved} 留给回复）",
  "context.tokens": "{n} token",
  "context.notSent.one": "{n} 条消息不发送",
  "context.notSent.other": "{n} 条消息不发送",
  "stats.tokens.one": "{n} token",
  "stats.tokens.other": "{n} token",
  "stats.ttft": "首 token 延迟 {s}",
  "stats.rate": "{rate} token/秒",
  "stats.length": "达到最大生成长度而停止",
  "stats.leftOut.one": "为放进上下文窗口省略了 {n} 条较早的消息",
  "stats.leftOut.other": "为放进上下文窗口省略了 {n} 条较早的消息",
  "stats.promptTokens.one": "提示词 {n} token",
  "stats.promptTokens.other": "提示词 {n} token",
  "stats.total": "共用时 {s}",
  "stats.answerAt": "{s} 时开始回答",
  "stats.thinking": "思考 {s}",
  "stats.thinkingTokens.one": "思考 {n} token",
  "stats.thinkingTokens.other": "思考 {n} token",
  "stats.estimated": "token 数为估算值：服务器没有返回用量",
  "stats.finish": "结束原因：{reason}",
  "unit.seconds": "{n} 秒",
  "finish.stop": "正常结束",
  "finish.length": "达到最大生成长度",
  "finish.stopped": "被用户停止",
  "finish.error": "出错",
  "prov.none": "无",
  "prov.greedy": "0（贪心解码）",
  "prov.tokensIn": "输入 token",
  "prov.tokensOut": "输出 token",
  "prov.ttft": "首 token 延迟",
  "prov.speed": "生成速度",
  "prov.duration": "总用时",
  "prov.finish": "结束原因",
  "prov.leftOut": "已省略",
  "prov.leftOutValue.one": "{n} 条较早的消息（上下文窗口）",
  "prov.leftOutValue.other": "{n} 条较早的消息（上下文窗口）",
  "prov.prompt": "提示文本",
  "prov.noMessages": "没有消息。",
  "prov.request": "请求内容",
  "prov.unavailable": "这条消息没有详情可看。",
  "prov.backend": "后端",
  "prov.model": "模型",
  "prov.maxNewTokens": "最大生成长度",
  "prov.temperature": "温度",
  "prov.topP": "Top p",
  "prov.stop": "停止序列",
  "prov.system": "系统提示词",
  "prov.details": "详情",
  "prov.code": "代码",
  "prov.hideCode": "隐藏代码",
  "prov.codeTitle": "这次请求的代码",
  "prov.loading": "正在加载详情…",
  "prov.timeThinking": "思考用时",
  "prov.firstAnswer": "第一个回答 token",
  "prov.tokenCounts": "token 数",
  "prov.estimated": "估算值：服务器没有返回用量",
  "prov.image": "图片：{name}",
  "prov.imageUnnamed": "图片",
  "unit.rate": "{n} token/秒",
  "md.imageNotLoaded": "图片未加载",
  "md.imageAlt": "{alt}（图片未加载）",
  "cmp.noColumns": "还没有模型：请点击“添加模型”。",
  "cmp.add": "添加模型",
  "cmp.diff": "对比回答",
  "cmp.sharedSettings": "高级选项（所有列）",
  "cmp.blind": "盲评",
  "cmp.settings": "设置",
  "cmp.noAnswers": "还没有回答。",
  "cmp.moveLeft": "把 {name} 左移",
  "cmp.moveRight": "把 {name} 右移",
  "cmp.stop": "停止 {name}",
  "cmp.remove": "移除 {name}",
  "cmp.desc.temperature": "温度 {t}",
  "cmp.desc.max": "最多 {n} token",
  "cmp.desc.topP": "top_p {p}",
  "cmp.desc.noHistory": "不带历史",
  "cmp.desc.system": "系统提示词：“{text}”",
  "cmp.addForm": "添加模型",
  "cmp.addName": "名称",
  "cmp.addNamePlaceholder": "可选，例如 my-server",
  "cmp.addSpec": "模型或 URL",
  "cmp.addSpecPlaceholder": "http://127.0.0.1:8000/v1、openai:gpt-4o-mini、本地模型或路径",
  "cmp.addModel": "服务端的模型名",
  "cmp.addModelPlaceholder": "服务器要求时填写",
  "cmp.addSubmit": "添加",
  "cmp.addHint": "请填写模型：服务器 URL、在线服务（如 openai:gpt-4o-mini）或本地模型。",
  "cmp.atMost": "最多 {n}（管理员设定）",
  "cmp.mixed": "各列不同",
  "cmp.vote": "投票",
  "cmp.reveal": "揭晓",
  "cmp.removedColumn": "已移除的一列",
  "cmp.blindIntro": "盲评模式：模型名称已隐藏。发送问题后，给更好的回答投票。",
  "cmp.voteWait": "等每一列都回答完再投票。",
  "cmp.whichBetter": "哪个回答更好？",
  "cmp.better": "{name} 更好",
  "cmp.tie": "一样好",
  "cmp.votedTie": "你的投票：一样好。",
  "cmp.voted": "你的投票：{name} 更好。",
  "cmp.differences": "差异",
  "cmp.turn": "轮次",
  "cmp.first": "第一个回答",
  "cmp.second": "第二个回答",
  "cmp.diffHint": "至少向两列发送问题，再从中选两个回答。",
  "cmp.same": "{a} 和 {b} 的回答完全相同。",
  "cmp.changes": "从 {a} 到 {b}：删去 {removed} 个词，新增 {added} 个词。",
  "py.busy": "回复还在生成中；请等它结束或点击停止，然后再发送。",
  "py.fixed": "{label}在这个页面上是固定的。",
  "py.empty": "消息是空的，请先输入内容再发送。",
  "py.refused": "{label}：{value} 无效，仍使用 {kept}。{reason}",
  "py.lowered": "这里的{label}最多为 {kept}（受模型的上下文窗口或本机设定的上限限制）；{value} 已调低为 {kept}。",
  "py.status.loading": "正在加载 {model}…",
  "py.status.ready": "就绪",
  "py.status.readyOn": "就绪 · {device}",
  "py.status.generating": "{model} 正在生成…",
  "py.status.loadingHidden": "正在加载…",
  "py.status.generatingHidden": "正在生成…",
  "py.err.limitSeconds": "{seconds} 秒",
  "py.err.limitUnknown": "设定的超时时间",
  "py.err.timeout": "请求超时：{where} 在 {limit}内没有响应。服务器可能正忙，或者还在加载模型；请重新发送，或传入更长的 timeout=。",
  "py.err.timeoutFirst": "等待超时：{where} 已经响应，但在第一个 token 之前的 {limit}内没有再发来任何内容。服务器可能负载过高或卡住了；请重新发送，或传入更长的 timeout=。",
  "py.err.timeoutMid": "等待超时：{where} 回复到一半后，{limit}内没有再发来任何内容。已保留部分回复。服务器可能负载过高或卡住了；请重新发送，或传入更长的 timeout=。",
  "py.err.dns": "找不到 {where} 的主机 {host}（域名解析失败：{cause}）。请检查 URL 是否拼写正确，以及网络或 VPN 是否正常，然后重新发送。",
  "py.err.connect": "无法连接到 {where}（{cause}）。请确认服务器已经启动，并且 URL 正确（通常以 /v1 结尾），然后重新发送。",
  "py.err.closed": "{where} 还没发来任何回复内容就关闭了连接（{cause}）。请重新发送。",
  "py.err.broke": "与 {where} 的连接在回复中途断开了（{cause}）。已保留部分回复。请重新发送。",
  "py.err.keyHelpSource": "请检查 {vars} 中的 API 密钥（环境变量或 .env 文件）。",
  "py.err.keyHelpServer": "请检查 api_key=（或环境变量 $NBCHAT_API_KEY）。",
  "py.err.401": "{where} 拒绝了这个 API 密钥（401：{detail}）。{help}",
  "py.err.403": "{where} 拒绝访问模型 {model}（403：{detail}）。{help}另外请确认你的套餐和所在地区可以使用这个模型。",
  "py.err.404": "在 {where} 上找不到模型 {model}（404：{detail}）。可以用 OpenAIBackend(...).list_models() 或 GET {base_url}/models 查看它提供哪些模型，并确认 URL 以 API 版本（/v1）结尾。",
  "py.err.429": "请求过于频繁或额度已用完，{where} 拒绝了请求（429：{detail}）。请稍等一会儿，或查看你的套餐额度，然后重新发送。",
  "py.err.429wait": "请求过于频繁，{where} 已限流（429：{detail}），要求等待 {wait} 秒；之后请重新发送。",
  "py.err.gateway": "{where} 返回 HTTP {status}（{detail}）：服务器或它前面的代理过载、正在重启，或者连不上模型。请稍后重新发送；如果一直这样，请检查服务器。",
  "py.err.5xx": "{where} 出错了，返回 HTTP {status}（{detail}）。请重新发送；如果一直出错，请查看服务器日志。",
  "py.err.400": "{where} 拒绝了这个请求（400：{detail}）。请检查模型名称和各项设置。",
  "py.err.http": "{where} 返回 HTTP {status}（{detail}）。",
  "py.err.event": "{where} 在回复过程中报错：{detail}。请重新发送。",
  "py.err.eventKept": "{where} 在回复过程中报错：{detail}。已保留部分回复。请重新发送。",
  "py.err.malformed": "{where} 的事件流里有一段格式错误的数据（{problem}）。请重新发送；如果一直这样，说明这个服务器并不完全兼容 OpenAI（请查看它的版本和日志）。",
  "py.err.malformedKept": "{where} 的事件流里有一段格式错误的数据（{problem}）；已保留部分回复。请重新发送；如果一直这样，说明这个服务器并不完全兼容 OpenAI（请查看它的版本和日志）。",
  "py.err.notStream": "{where} 返回的是 {kind}，而不是事件流。中间可能隔着代理或登录页面，或者服务器并不兼容 OpenAI；请检查 base_url（通常以 /v1 结尾）。",
  "py.err.noKey": "没有找到 {source} 的 API 密钥：请在环境变量中设置 {choices}，或在 {cwd} 或它的上级文件夹里的 .env 文件中写一行 {var}=...（不要提交到 git），也可以直接传入 api_key=...。API 密钥可以在 {url} 创建。",
  "py.err.tooLongLlamacpp": "提示词有 {tokens} 个 token，已达到或超过 llama.cpp 为 {model} 加载时设定的上下文窗口（{n_ctx} 个 token）。请清空对话、关闭“使用对话历史”，或用更大的 n_ctx= 重新加载模型（不超过它训练时的上下文长度）。",
  "py.err.tooLong": "提示词有 {tokens} 个 token，已达到或超过 {model} 的上下文窗口（{n_ctx} 个 token）。请清空对话或关闭“使用对话历史”。",
  "py.err.incomplete": "回复没有正常结束（缺少 finish reason），内容可能被截断了。请重新发送。",
  "py.err.tried": "{error}（共尝试了 {n} 次。）",
};

export const CATALOGUES: Record<Lang, Catalogue> = { en, zh };

/** BCP 47 tag used for `Intl` formatting in each language. */
const LOCALES: Record<Lang, string> = { en: "en-US", zh: "zh-CN" };

type Params = Record<string, string | number>;

/** The catalogue language for a BCP 47 tag (`zh-CN`, `zh-Hans`, `zh_TW` → zh; `en-GB` → en), or null. */
export function matchLanguage(tag: string | null | undefined): Lang | null {
  const base = String(tag ?? "").trim().toLowerCase().split(/[-_]/)[0];
  return (LANGS as readonly string[]).includes(base) ? (base as Lang) : null;
}

/**
 * The language of a view: the kernel's choice (`lang=`, `$NBCHAT_LANG`, the administrator's policy) when given,
 * else JupyterLab's own language setting when it chose one (it writes it to `<html lang>`; "en" is its default and
 * says nothing), else the browser's languages in order, else English.
 */
export function resolveLanguage(
  requested: string | null | undefined,
  doc: Document | null = typeof document !== "undefined" ? document : null,
  nav: { languages?: readonly string[]; language?: string } | null = typeof navigator !== "undefined" ? navigator : null,
): Lang {
  const chosen = matchLanguage(requested);
  if (chosen) return chosen;
  const page = doc?.documentElement?.lang ?? "";
  if (page !== "" && page.toLowerCase() !== "en") {
    const lab = matchLanguage(page);
    if (lab) return lab;
  }
  for (const tag of [...(nav?.languages ?? []), nav?.language ?? ""]) {
    const lang = matchLanguage(tag);
    if (lang) return lang;
  }
  return "en";
}

/** One language's strings and formats. Views build one and pass it to each part they create. */
export class I18n {
  readonly locale: string;
  private readonly strings: Catalogue;
  private readonly plurals: Intl.PluralRules;
  private readonly numbers = new Map<string, Intl.NumberFormat>();

  constructor(readonly lang: Lang = "en") {
    this.locale = LOCALES[lang];
    this.strings = CATALOGUES[lang];
    this.plurals = new Intl.PluralRules(this.locale);
  }

  /** The text of `key` with `{name}` placeholders filled from `params`. */
  t(key: Key, params: Params = {}): string {
    const text = this.strings[key] ?? en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name: string) => (name in params ? String(params[name]) : whole));
  }

  /**
   * A text the kernel sent with its catalogue key (a notice, the status line, a failed reply's error): shown in this
   * view's language when the key is known here, else as the kernel wrote it. A `<name>_key` parameter names a
   * catalogue key whose text (filled from the same parameters) becomes `<name>`, in the order sent, as
   * nbchat/_i18n.py's `text` does: `label_key` → `label`, `help_key` → `help`, `error_key` → `error`.
   */
  fromKernel(fallback: string, key: unknown, params: unknown): string {
    if (typeof key !== "string" || !(key in this.strings)) return fallback;
    const values: Params = {};
    if (params && typeof params === "object") {
      for (const [name, value] of Object.entries(params as Record<string, unknown>)) values[name] = String(value);
    }
    for (const [name, value] of Object.entries(values)) {
      if (name.endsWith("_key") && String(value) in this.strings) values[name.slice(0, -4)] = this.t(value as Key, values);
    }
    return this.t(key as Key, values);
  }

  /** A failed reply's error: from its catalogue key and parameters (`error_i18n`) when known here, else as written. */
  error(msg: { error: string | null; error_i18n?: KernelText | null }): string {
    return msg.error_i18n ? this.fromKernel(msg.error ?? "", msg.error_i18n.key, msg.error_i18n.params) : (msg.error ?? "");
  }

  /** A counted phrase: `base.one` or `base.other` by the language's plural rules, `{n}` formatted. */
  count(base: string, n: number, params: Params = {}): string {
    const form = this.plurals.select(n) === "one" ? "one" : "other";
    return this.t(`${base}.${form}` as Key, { ...params, n: this.number(n) });
  }

  /** `value` formatted for the locale (grouping; `digits` fixed fraction digits when given). */
  number(value: number, digits?: number): string {
    const cacheKey = String(digits);
    let format = this.numbers.get(cacheKey);
    if (!format) {
      format = new Intl.NumberFormat(
        this.locale,
        digits === undefined ? { maximumFractionDigits: 3 } : { minimumFractionDigits: digits, maximumFractionDigits: digits },
      );
      this.numbers.set(cacheKey, format);
    }
    return format.format(value);
  }

  /** A duration in seconds, e.g. "0.31 s" / "0.31 秒". */
  seconds(value: number, digits = 2): string {
    return this.t("unit.seconds", { n: this.number(value, digits) });
  }

  /** A date and time (Unix seconds) in the locale's usual form. */
  dateTime(unixSeconds: number): string {
    return new Intl.DateTimeFormat(this.locale, { dateStyle: "medium", timeStyle: "short" }).format(new Date(unixSeconds * 1000));
  }
}

/** English: what parts built without a view (tests, helpers) use. */
export const EN = new I18n("en");
