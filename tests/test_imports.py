import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_import_vae_loads_no_ui_and_touches_no_file(tmp_path):
    code = ("import sys, vae, vae.inference, vae.runs, vae.evaluate\n"
            "print(sorted(m for m in ('streamlit', 'plotly', 'torchvision') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VAE_DATA_ROOT": str(tmp_path / "data")}
    done = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
    assert list(tmp_path.iterdir()) == []        # no data folder, no cache, nothing written
