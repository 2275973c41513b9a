"""Importing any `vae` module defines things and nothing else: no UI libraries, no files written.

Each module is imported in a fresh interpreter of its own, so one module's imports cannot hide
another's. To keep this fast, one child interpreter imports numpy and torch (the package's
foundation: what they load is theirs) and then forks once per module; each fork imports that
module alone and reports which top-level packages it added.
"""
import json
import os
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MODULES = ["vae"] + sorted(f"vae.{m.name}" for m in pkgutil.iter_modules([str(ROOT / "vae")]) if m.name != "__main__")
# Third-party packages a vae module may load beyond what numpy and torch load themselves.
ALLOWED = {"vae", "numpy", "torch", "PIL", "tqdm"}

CHILD = """
import importlib, json, os, sys
import numpy, torch
ready = set(sys.modules)
for name in sys.argv[1:]:
    pid = os.fork()
    if pid == 0:
        try:
            importlib.import_module(name)
            added = {m.split(".")[0] for m in set(sys.modules) - ready} - set(sys.stdlib_module_names)
            report = {"module": name, "added": sorted(added)}
        except BaseException as exc:
            report = {"module": name, "error": f"{type(exc).__name__}: {exc}"}
        os.write(1, (json.dumps(report) + "\\n").encode())
        os._exit(0)
    os.waitpid(pid, 0)
"""


@pytest.fixture(scope="module")
def imports(tmp_path_factory):
    """{module: report} from importing each vae module alone, in an empty working folder."""
    cwd = tmp_path_factory.mktemp("empty")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VAE_DATA_ROOT": str(cwd / "data")}
    done = subprocess.run([sys.executable, "-c", CHILD, *MODULES], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert list(cwd.iterdir()) == []             # no data folder, no cache, nothing written
    return {r["module"]: r for r in map(json.loads, done.stdout.splitlines())}


def test_every_module_is_found():
    assert {"vae", "vae.model", "vae.train", "vae.lifecycle", "vae.runfiles", "vae.cli", "vae.inference", "vae.webdecoder"} <= set(MODULES)
    # the dashboard's own helpers (figures, menu labels, form checks) live beside the pages
    assert not {"vae.plots", "vae.catalog", "vae.launch"} & set(MODULES)


@pytest.mark.parametrize("module", MODULES)
def test_importing_loads_only_allowed_packages(imports, module):
    report = imports[module]
    assert "error" not in report, report.get("error")
    assert set(report["added"]) <= ALLOWED, f"{module} loads {sorted(set(report['added']) - ALLOWED)}"


def test_importing_vae_does_not_import_torch_until_a_name_needs_it(tmp_path):
    """`import vae` (and vae.cli, for `python -m vae --help`'s parser module) leaves torch out; vae.VAE brings it."""
    code = ("import sys, vae, vae.cli, vae.options, vae.files, vae.datasets\n"
            "before = 'torch' in sys.modules\n"
            "print(before, 'torch' in sys.modules or vae.VAE.__module__, 'torch' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["False", "vae.model", "True"]


def test_the_installed_package_runs_from_any_folder(tmp_path):
    """`make` installs the project (pip install -e .): `python -m vae` and the `vae` command work outside it."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    for cmd in ([sys.executable, "-m", "vae", "--version"], [str(Path(sys.executable).parent / "vae"), "--version"]):
        done = subprocess.run(cmd, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0 and done.stdout.startswith("vae-latent-explorer "), (cmd, done.stderr)
