import subprocess
import sys

import rppg_distill


def test_build_info_reports_what_was_compiled():
    info = rppg_distill.build_info()
    assert info["cpu"] is True
    assert isinstance(info["cuda"], bool)
    assert info["version"] == rppg_distill.__version__
    if info["cuda"]:
        assert "87" in info["cuda_archs"] and "90" in info["cuda_archs"]


def test_cli_info_runs():
    out = subprocess.run([sys.executable, "-m", "rppg_distill.cli", "info", "--json"],
                         capture_output=True, text=True, check=True)
    assert '"core"' in out.stdout
