"""vae.web.bundle: the explorer's ES modules joined into the one script each host needs."""
import re
from pathlib import Path

import pytest

from vae import web

ROOT = Path(__file__).resolve().parents[1]


def write(folder: Path, files: dict) -> None:
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")


def test_modules_are_ordered_after_what_they_import_and_scoped_apart(tmp_path):
    write(tmp_path, {
        "a.js": 'const secret = 1;\nexport function one() { return secret; }\n',
        "b.js": 'import { one } from "./a.js";\nconst secret = 2;\nexport const two = () => one() + secret;\n',
        "main.js": 'import { two as total } from "./b.js";\nimport { one } from "./a.js";\nexport default () => [one(), total()];\n',
    })
    script = web.bundle(tmp_path / "main.js")
    assert script.index("// ---- a.js") < script.index("// ---- b.js") < script.index("// ---- main.js")
    assert script.count("// ---- a.js") == 1                       # imported twice, included once
    assert "const { two: total } = __m_b;" in script and "return { one };" in script
    assert script.count("const secret") == 2 and "export default" in script and "export function" not in script


def test_a_cycle_or_a_bare_specifier_is_refused_by_name(tmp_path):
    write(tmp_path, {"a.js": 'import { b } from "./b.js";\nexport const a = 1;\n',
                     "b.js": 'import { a } from "./a.js";\nexport const b = 2;\n',
                     "c.js": 'import { x } from "lodash";\n'})
    with pytest.raises(ValueError, match="cycle"):
        web.bundle(tmp_path / "a.js")
    with pytest.raises(ValueError, match="lodash"):
        web.bundle(tmp_path / "c.js")


def test_each_host_bundles_every_module_once_and_only_the_dashboard_exports_a_default():
    dashboard = web.bundle(ROOT / "app_pages" / "plane" / "host.js")
    standalone = web.bundle("standalone.js")
    for script in (dashboard, standalone):
        for module in ("bytes", "decoder", "view", "gestures", "draw", "manifold", "sliders", "words", "plane"):
            assert script.count(f"// ---- {module}.js") == 1, module
    assert dashboard.count("export default") == 1 and "export default" not in standalone
    modules = {p.name for p in web.HERE.glob("*.js")}
    assert modules == {"bytes.js", "decoder.js", "view.js", "gestures.js", "draw.js", "manifold.js", "sliders.js", "words.js",
                       "plane.js", "standalone.js"}, "a module no host bundles, or one this test does not know"


def test_the_planes_words_are_read_one_a_line_and_a_malformed_line_is_refused():
    """vae.web.words reads words.js's ENGLISH for the catalog and the payload (app_pages/plane): every key
    the plane says, with its line, and a line in another shape is an error, not a word silently lost."""
    words = web.words()
    script = (web.HERE / "plane.js").read_text(encoding="utf-8")
    said = set(re.findall(r'say(?:Parts)?\(\s*(?:this\.)?words,\s*"(\w+)"', script)) | set(
        re.findall(r"(?<![/\w])words\.(\w+)", script))
    assert said <= set(words) and len(said) >= 40, said - set(words)
    assert words["reset_view"][1] == "Reset view" and words["point_coords"][1] == "{where}: {x_axis} = {x}, {y_axis} = {y}"
    text = (web.HERE / "words.js").read_text(encoding="utf-8")
    with pytest.raises(ValueError, match="not `  key"):
        web.words(text.replace('  zoom_in: "zoom in",', "  zoom_in: 'zoom in',"))
