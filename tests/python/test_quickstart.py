"""The quickstart example (python/examples/quickstart.py) runs and its comparison is all True."""

import os
import pathlib
import re
import subprocess
import sys

EXAMPLE = pathlib.Path(__file__).resolve().parents[2] / "python" / "examples" / "quickstart.py"


def test_quickstart_prints_identical_clear_and_fhe_predictions(tmp_path):
    result = subprocess.run(
        [sys.executable, str(EXAMPLE)],
        cwd=tmp_path,
        env=dict(os.environ),
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    out = result.stdout
    clear = re.search(r"In clear  : \[([0-9 ]+)\]", out).group(1).split()
    fhe = re.search(r"In FHE    : \[([0-9 ]+)\]", out).group(1).split()
    assert len(clear) == 20 and clear == fhe
    comparison = out.split("Comparison:", 1)[1]
    assert comparison.count("True") == 20 and "False" not in comparison
