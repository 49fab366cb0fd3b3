// The message catalogue: every string the widgets show or name (labels, buttons, notices, accessible names),
// in English and Simplified Chinese, and the locale formatting (numbers, durations, dates) through `Intl`.
// A view resolves its language once (`resolveLanguage`) and hands its `I18n` to every part it builds.
// The strings are one file, nbchat/i18n.json, that the Python side reads too for its notices (nbchat/_i18n.py).
import catalogue from "../nbchat/i18n.json";
import type { KernelText } from "./types";

/** Languages with a complete catalogue. */
export type Lang = "en" | "zh";
export const LANGS: readonly Lang[] = ["en", "zh"];

/** English, the complete catalogue: every key a view may name. */
const en = catalogue.en;

/** A key of the catalogue (a typo is a type error). */
export type Key = keyof typeof en;
export type Catalogue = Record<Key, string>;

/** Simplified Chinese: every English key, checked by js/__tests__/i18n.test.ts. */
const zh: Catalogue = catalogue.zh;

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
