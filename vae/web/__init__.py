"""The latent explorer's front end: plain ES modules, shared by its two hosts.

    bytes.js     base64 and the exported file's 15-bit text blocks to bytes; gzip and zlib streams
    decoder.js   the decoder's forward pass (the layers vae.webdecoder describes) and its weights
    view.js      the visible square and its one transform between latent units and pixels
    gestures.js  every pointer, wheel and key input, turned into the plane's verbs
    draw.js      the canvases: dots, grid, the decoder's map, pins and marks, 28×28 images
    manifold.js  the grid of decodings of the visible square, a few rows per frame
    sliders.js   one slider per latent dimension, with its KL and its traversal (models with more than two)
    plane.js     LatentPlane: the explorer itself, with no host in it
    words.js     the plane's own words in English, which a host may send translated
    plane.css    its look, light and dark
    standalone.js  host 1: the exported one-file explorer (vae.export)
The other host, the dashboard's Streamlit component, is app_pages/plane/host.js.

Nothing here runs in Python but `bundle`: both hosts need one script (the Streamlit component takes
its JavaScript as one text, and a file opened from file:// cannot import its neighbours), so the
modules are joined into one, each in its own scope, its imports read from the modules before it.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

HERE = Path(__file__).parent
_IMPORT = re.compile(r'^import\s*\{([^}]*)\}\s*from\s*"([^"]+)";?[ \t]*$', re.MULTILINE)
_EXPORT = re.compile(r"^export\s+(?:async\s+function|function|class|const|let)\s+([A-Za-z_$][\w$]*)", re.MULTILINE)


_WORD = re.compile(r'^  (\w+): ("(?:[^"\\]|\\.)*"),$')


def words(text: str | None = None) -> dict[str, tuple[int, str]]:
    """{key: (line, English)} of the plane's own words: words.js's ENGLISH, one `key: "text",` a line
    (`text`: that file's text, read when not given)."""
    text = (HERE / "words.js").read_text(encoding="utf-8") if text is None else text
    lines = text.splitlines()
    start = lines.index("export const ENGLISH = {")
    found = {}
    for number, line in enumerate(lines[start + 1:], start + 2):
        if line == "};":
            return found
        match = _WORD.match(line)
        if not match:
            raise ValueError(f"words.js:{number}: not `  key: \"text\",`: {line!r}")
        found[match.group(1)] = (number, json.loads(match.group(2)))
    raise ValueError("words.js: ENGLISH has no end")


def stylesheet() -> str:
    return (HERE / "plane.css").read_text(encoding="utf-8")


def bundle(entry: str | Path) -> str:
    """One script from the module `entry` (a file here by name, or a path) and everything it imports.

    Each imported module becomes `const __m_<name> = (() => { …; return {exports}; })();` and an import
    `import { a, b as c } from "./x.js"` becomes `const { a, b: c } = __m_x;`. The entry itself stays at
    the top level: its named exports become plain declarations and an `export default` stays (the
    Streamlit component's contract). Specifiers are "./x.js" (beside the importer) or "vae/web/x.js"."""
    entry = Path(entry) if isinstance(entry, Path) or "/" in str(entry) else HERE / entry
    order: list[Path] = []
    _visit(entry.resolve(), order, set())
    parts = []
    for path in order[:-1]:
        body, names = _module_body(path)
        parts.append(f"// ---- {path.name}\nconst {_symbol(path)} = (() => {{\n{body}\nreturn {{ {', '.join(names)} }};\n}})();\n")
    body, _ = _module_body(order[-1])
    parts.append(f"// ---- {order[-1].name}\n{body}")
    return "\n".join(parts)


def _resolve(specifier: str, importer: Path) -> Path:
    if specifier.startswith("vae/web/"):
        return (HERE / specifier.removeprefix("vae/web/")).resolve()
    if specifier.startswith(("./", "../")):
        return (importer.parent / specifier).resolve()
    raise ValueError(f"{importer.name}: import from {specifier!r}: only ./x.js and vae/web/x.js are bundled")


def _visit(path: Path, order: list, visiting: set) -> None:
    """Depth-first: every module after the modules it imports."""
    if path in order:
        return
    if path in visiting:
        raise ValueError(f"{path.name} imports itself through a cycle")
    visiting.add(path)
    for _, specifier in _IMPORT.findall(path.read_text(encoding="utf-8")):
        _visit(_resolve(specifier, path), order, visiting)
    visiting.discard(path)
    order.append(path)


def _symbol(path: Path) -> str:
    return "__m_" + re.sub(r"\W", "_", path.stem)


def _module_body(path: Path) -> tuple[str, list[str]]:
    """The module's text with its imports bound from the modules before it, and its exported names."""
    text = path.read_text(encoding="utf-8")

    def bind(match: re.Match) -> str:
        names = [n.strip() for n in match.group(1).split(",") if n.strip()]
        pairs = [n.replace(" as ", ": ") if " as " in n else n for n in names]
        return f"const {{ {', '.join(pairs)} }} = {_symbol(_resolve(match.group(2), path))};"

    names = _EXPORT.findall(text)
    text = _IMPORT.sub(bind, text)
    text = re.sub(r"^export\s+(?!default)", "", text, flags=re.MULTILINE)
    return text, names
