"""The pages live in app_pages/pages/, one script each, and the navigation in streamlit_app.py lists
exactly those; there is no top-level pages/ folder, whose mere presence makes Streamlit start in its
old automatic multipage mode (issue 19: a reader sees at once which files are pages)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def navigation_paths() -> list[str]:
    """The first argument of every st.Page(...) in streamlit_app.py."""
    tree = ast.parse((ROOT / "streamlit_app.py").read_text())
    return [node.args[0].value for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, "attr", None) == "Page"]


def test_the_navigation_lists_exactly_the_page_scripts():
    pages = sorted(str(path.relative_to(ROOT)) for path in (ROOT / "app_pages" / "pages").glob("*.py"))
    assert sorted(navigation_paths()) == pages and len(pages) == 6


def test_no_top_level_pages_folder_and_no_helpers_among_the_pages():
    assert not (ROOT / "pages").exists()
    helpers = {path.stem for path in (ROOT / "app_pages").glob("*.py")}
    assert {"common", "state", "layout", "catalog", "train_form"} <= helpers
    assert not helpers & {path.stem for path in (ROOT / "app_pages" / "pages").glob("*.py")}
