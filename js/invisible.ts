// Invisible and bidirectional control characters in code: the "Trojan Source" trick (CVE-2021-42574) makes code
// read differently from what it does, and Unicode tag characters hide text entirely. In a code block each one is
// shown as a visible badge ("U+202E") instead of acting on the text around it; "Copy code" leaves them out and
// says so.

/** Bidi embeddings/overrides/isolates (U+202A–202E, U+2066–2069), bidi marks (U+200E, U+200F, U+061C) and the
 * tag characters (U+E0000–E007F). */
export const INVISIBLE = /[\u061C\u200E\u200F\u202A-\u202E\u2066-\u2069]|[\u{E0000}-\u{E007F}]/gu;

/** `U+202E` for a character. */
export function codePointName(ch: string): string {
  return `U+${(ch.codePointAt(0) ?? 0).toString(16).toUpperCase().padStart(4, "0")}`;
}

/** HTML (escaped text, highlighted or not) with every invisible character replaced by a visible badge;
 * `describe` gives the badge's tooltip (the view's language; it must not need escaping). */
export function markInvisible(
  html: string,
  describe: (name: string) => string = (name) => `${name}: an invisible control character (not copied)`,
): string {
  return html.replace(INVISIBLE, (ch) => {
    const name = codePointName(ch);
    return `<span class="nbchat-invisible" title="${describe(name)}">${name}</span>`;
  });
}

/** `text` without invisible characters, and how many were removed. */
export function stripInvisible(text: string): { text: string; removed: number } {
  let removed = 0;
  const clean = text.replace(INVISIBLE, () => {
    removed += 1;
    return "";
  });
  return { text: clean, removed };
}
