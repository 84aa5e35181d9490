"""The README's first minutes, as written, on a clean checkout: the quick start's demo command, and the
install section's `pip install .` giving a `gitdeploy` command."""
from __future__ import annotations

import os
import re
import subprocess
import sys

from tests.integration.conftest import ROOT


def code_block_after(heading: str) -> list[str]:
    """The commands of the first ```sh block under `heading`, comments dropped."""
    text = (ROOT / "README.md").read_text()
    block = re.search(rf"^{re.escape(heading)}\n.*?```sh\n(.*?)```", text, re.S | re.M).group(1)
    return [line.split("#")[0].strip() for line in block.splitlines() if line.split("#")[0].strip()]


def test_the_quick_start_demo_and_the_install_work_on_a_clean_checkout(tmp_path):
    clone = tmp_path / "gitdeploy"
    subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
    demo = code_block_after("## Quick start")[0]
    assert demo == "scripts/demo.sh"     # (the other one, scripts/test.sh, is this very run)
    ran = subprocess.run(demo.split(), cwd=clone, capture_output=True, text=True, timeout=900,
                         env=os.environ | {"CI": "true"})
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "Synced" in ran.stdout or "Nothing to do" in ran.stdout

    install = code_block_after("## Install")
    assert "python3 -m pip install ." in install and install[-1] == "gitdeploy --version"
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "."], cwd=clone, check=True,
                   capture_output=True, timeout=600)
    version = subprocess.run([str(venv / "bin" / "gitdeploy"), "--version"], capture_output=True, text=True)
    assert re.fullmatch(r"gitdeploy \d+\.\d+\.\d+\n", version.stdout), version.stdout + version.stderr
