"""Size of the widget bundle, and what syntax highlighting adds to it (esbuild, as ``npm run build`` runs it).

The bundle is what every notebook with a chat downloads once per view; anywidget loads it as one ES module, so
everything in it is loaded up front.
"""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

from ._report import Figure

ROOT = Path(__file__).resolve().parent.parent
BEFORE_BYTES = 520_757  # nbchat/static/widget.js of main at 9d0d455, without #18: English only, 11 grammars
BEFORE_LANGUAGES = ["bash", "cpp", "java", "javascript", "json", "markdown", "plaintext", "python", "sql"]
BEFORE_LANGUAGES += ["typescript", "yaml"]


def _esbuild_size(languages: list[str]) -> int:
    """Minified size of highlight.js's core with ``languages`` registered (the same esbuild flags as the build)."""
    lines = ['import hljs from "highlight.js/lib/core";']
    for n, lang in enumerate(languages):
        lines.append(f'import l{n} from "highlight.js/lib/languages/{lang}"; hljs.registerLanguage("{lang}", l{n});')
    lines.append("export default hljs;")
    out = subprocess.run(
        [str(ROOT / "node_modules" / ".bin" / "esbuild"), "--bundle", "--format=esm", "--minify", "--target=es2020"],
        input="\n".join(lines), capture_output=True, text=True, cwd=ROOT, check=True,
    )  # fmt: skip
    return len(out.stdout.encode())


def bundle_figures() -> list[Figure]:
    """Bundle size now vs before #18, and the bytes the highlighted languages add (goal: ≤ ~10% of the bundle)."""
    widget = ROOT / "nbchat" / "static" / "widget.js"
    if not widget.exists() or not (ROOT / "node_modules" / ".bin" / "esbuild").exists():
        return [Figure("widget.js bundle size", None, "kB", note="run npm ci && npm run build first")]
    data = widget.read_bytes()
    size = len(data)
    languages = re.findall(r'from "highlight\.js/lib/languages/(\w+)"', (ROOT / "js" / "markdown.ts").read_text())
    added = _esbuild_size(languages) - _esbuild_size(BEFORE_LANGUAGES)
    share = added / (size - added)
    return [
        Figure("widget.js bundle size (minified)", size / 1000, "kB", BEFORE_BYTES / 1000, "main before #18 (9d0d455)"),
        Figure("widget.js bundle size (gzip)", len(gzip.compress(data)) / 1000, "kB"),
        Figure(
            f"highlighting {len(languages)} grammars instead of {len(BEFORE_LANGUAGES)}: bundle growth",
            share * 100,
            "%",
            goal="≤ ~10",
            met=share <= 0.105,
            note=f"+{added / 1000:.1f} kB; one ES module under anywidget, so registered up front",
        ),
    ]
