"""Every shipped model is what bench/quality.md says (issue 20): the command given there is the one the
file was trained with, run again on a few hundred images it builds a model of the same architecture and
options, and the test −ELBO quality.md and the README give is recomputed here from the shipped file."""
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

import vae
from vae import data
from vae.datasets import get_dataset
from vae.evaluate import evaluate_elbo
from vae.locations import SHIPPED

ROOT = Path(__file__).resolve().parents[1]
QUALITY = (ROOT / "bench" / "quality.md").read_text(encoding="utf-8")
RUN_DIR = re.compile(r"--run-dir \S+")


def quality_section(name: str) -> str:
    match = re.search(rf"^## `checkpoints/{re.escape(name)}`\n(.*?)(?=^## |\Z)", QUALITY, re.MULTILINE | re.DOTALL)
    assert match, f"bench/quality.md has no section for checkpoints/{name}"
    return match.group(1)


def given_command(name: str) -> str:
    match = re.search(r"trained with: `(python -m vae train [^`]+)`", quality_section(name))
    assert match, f"bench/quality.md gives no training command for {name}"
    return match.group(1)


def given_neg_elbo(name: str) -> float:
    row = next(line for line in QUALITY.splitlines() if line.startswith(f"| `checkpoints/{name}` |"))
    return float(row.split("|")[2])


def test_every_shipped_model_is_in_quality_md_and_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in SHIPPED:
        assert (ROOT / "checkpoints" / name).is_file(), name
        quality_section(name)
        assert f"checkpoints/{name}" in readme, f"the README does not name checkpoints/{name}"


@pytest.mark.parametrize("name", SHIPPED)
def test_the_given_command_is_the_one_the_file_was_trained_with(name):
    meta = vae.load_checkpoint(ROOT / "checkpoints" / name)[1]
    assert RUN_DIR.sub("", given_command(name)).split() == RUN_DIR.sub("", meta["command"]).split()


@pytest.mark.parametrize("name", SHIPPED)
def test_the_given_command_builds_the_same_model_with_the_same_options(name, tmp_path):
    """Run as given, on 256 images for one epoch: the same model_config, and the same training options but
    the epochs and the limit."""
    shipped = vae.load_checkpoint(ROOT / "checkpoints" / name)[1]
    words = shlex.split(RUN_DIR.sub("", given_command(name)))[3:]           # after `python -m vae`
    words = [w for i, w in enumerate(words) if w != "--epochs" and (i == 0 or words[i - 1] != "--epochs")]
    out = tmp_path / "run"
    subprocess.run([sys.executable, "-m", "vae", *words, "--run-dir", str(out), "--epochs", "1", "--limit", "256"],
                   check=True, capture_output=True, timeout=300, cwd=tmp_path)
    rebuilt = vae.load_checkpoint(out / "checkpoint.pt")[1]
    assert rebuilt["model_config"] == shipped["model_config"]
    assert rebuilt["dataset"] == shipped["dataset"]
    differ = {k for k in shipped["train_config"] if rebuilt["train_config"].get(k) != shipped["train_config"][k]}
    assert differ <= {"epochs", "limit"}, differ


@pytest.mark.parametrize("name", SHIPPED)
def test_the_given_test_neg_elbo_is_recomputed_from_the_shipped_file(name):
    model, meta = vae.load_checkpoint(ROOT / "checkpoints" / name)
    try:
        images, _ = data.load_dataset("test", dataset=get_dataset(meta["dataset"]), fetch=False)
    except data.DataError as exc:
        pytest.skip(f"{meta['dataset']} is not available here: {str(exc)[:200]}")
    assert evaluate_elbo(model, images)["neg_elbo"] == pytest.approx(given_neg_elbo(name), abs=0.02)
