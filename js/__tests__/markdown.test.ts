import { describe, expect, it } from "vitest";
import { renderMarkdown } from "../markdown";

function dom(markdown: string): HTMLElement {
  const host = document.createElement("div");
  host.innerHTML = renderMarkdown(markdown);
  return host;
}

function assertInert(host: HTMLElement): void {
  expect(host.querySelector("script, iframe, form, svg, math, style, object, embed, img")).toBeNull();
  for (const el of host.querySelectorAll("*")) {
    for (const attr of el.attributes) {
      expect(attr.name.startsWith("on"), `${el.tagName} ${attr.name}`).toBe(false);
      expect(attr.name).not.toBe("style");
      expect(attr.name).not.toBe("src");
      expect(attr.value.toLowerCase()).not.toContain("javascript:");
    }
  }
}

describe("renderMarkdown", () => {
  it("renders headings, emphasis and lists", () => {
    const host = dom("# Title\n\nSome **bold** and *em*.\n\n- one\n- two");
    expect(host.querySelector("h1")?.textContent).toBe("Title");
    expect(host.querySelector("strong")?.textContent).toBe("bold");
    expect(host.querySelectorAll("li")).toHaveLength(2);
  });

  it("highlights fenced code in a known language", () => {
    const host = dom("```python\ndef f(x):\n    return 1  # one\n```");
    const code = host.querySelector("pre code");
    expect(code?.classList.contains("hljs")).toBe(true);
    expect(code?.classList.contains("language-python")).toBe(true);
    expect(code?.querySelector(".hljs-keyword")?.textContent).toBe("def");
    expect(code?.querySelector(".hljs-comment")?.textContent).toBe("# one");
    expect(code?.textContent).toBe("def f(x):\n    return 1  # one\n");
  });

  it("shows code in an unknown language as escaped plain text", () => {
    const host = dom("```brainfart\n<b>not bold</b>\n```");
    const code = host.querySelector("pre code");
    expect(code?.textContent).toBe("<b>not bold</b>\n");
    expect(code?.querySelector("b, span")).toBeNull();
  });

  it("never passes raw HTML through", () => {
    const host = dom("<script>alert(1)</script>\n\n<b onclick=alert(1)>x</b>");
    assertInert(host);
    expect(host.querySelector("b")).toBeNull();
    expect(host.textContent).toContain("<script>alert(1)</script>");
  });

  it("drops an img tag with an onerror handler", () => {
    const host = dom('<img src=x onerror="alert(1)">');
    assertInert(host);
  });

  it("turns markdown images into placeholders that load nothing", () => {
    const host = dom("![a cat](https://evil.example/?q=1)");
    assertInert(host);
    const placeholder = host.querySelector(".nbchat-img-placeholder");
    expect(placeholder?.textContent).toContain("a cat");
    expect(placeholder?.textContent).toContain("image not loaded");
    expect(host.innerHTML).not.toContain("evil.example");
  });

  it("neutralises javascript: links", () => {
    for (const md of ["[x](javascript:alert(1))", "[x](JaVaScRiPt:alert(1))", "[x](data:text/html,hi)", "<javascript:alert(1)>"]) {
      const host = dom(md);
      assertInert(host);
      for (const a of host.querySelectorAll("a")) expect(a.getAttribute("href") ?? "").toMatch(/^(https?:|mailto:|$)/);
    }
  });

  it("keeps only http(s) and mailto hrefs", () => {
    const host = dom("[rel](foo/bar) [tel](tel:123) [ok](https://example.org) [mail](mailto:a@b.org)");
    const hrefs = [...host.querySelectorAll("a")].map((a) => a.getAttribute("href"));
    expect(hrefs).toEqual([null, null, "https://example.org", "mailto:a@b.org"]);
  });

  it("opens every link in a new tab without an opener", () => {
    const host = dom("See https://example.org and [docs](http://example.com/docs).");
    const links = host.querySelectorAll("a");
    expect(links).toHaveLength(2);
    for (const a of links) {
      expect(a.getAttribute("target")).toBe("_blank");
      expect(a.getAttribute("rel")).toBe("noopener noreferrer");
    }
    expect(links[0].getAttribute("href")).toBe("https://example.org");
  });

  it("turns table alignment into classes, not style attributes", () => {
    const host = dom("| a | b |\n|:-:|--:|\n| 1 | 2 |");
    assertInert(host);
    expect(host.querySelector("th")?.className).toBe("nbchat-align-center");
    expect(host.querySelectorAll("td")[1].className).toBe("nbchat-align-right");
  });

  it("does not let a reply borrow arbitrary class names", () => {
    const host = dom("```nbchat-error x\ncode\n```");
    for (const el of host.querySelectorAll("[class]")) expect(el.className).not.toMatch(/nbchat-error/);
  });

  it("does not turn newlines into <br> (breaks: false)", () => {
    expect(dom("one\ntwo").querySelector("br")).toBeNull();
  });
});
