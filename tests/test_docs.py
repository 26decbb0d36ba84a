"""The README and docs/ run as written.

Blocks marked `<!-- runnable -->` run in order, one fresh folder per page, on small data
(shell blocks with bash, Python blocks with this interpreter). Every other `genlab ...`
line of a shell block is parsed by the real parser, so a renamed or removed flag fails
here, and every other Python block must compile.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import pytest
from conftest import PYTHON, REPO, subprocess_env

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
FENCE = re.compile(r"(<!-- runnable -->\n)?```(bash|python)\n(.*?)```", re.DOTALL)


def blocks(page: Path) -> list[tuple[bool, str, str]]:
    """(runnable, language, code) of each fenced shell or Python block of a page."""
    return [(bool(marker), language, code) for marker, language, code in FENCE.findall(page.read_text())]


def test_every_page_has_runnable_examples_and_every_link_resolves():
    for page in PAGES:
        if page.name != "benchmarks.md":
            assert any(runnable for runnable, _, _ in blocks(page)), f"{page.name} has no runnable example"
        for target in re.findall(r"\]\(([^)#:]+\.(?:md|png))\)", page.read_text()):
            assert (page.parent / target).is_file(), f"{page.name} links to missing {target}"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_commands_and_code_that_do_not_run_here_still_parse(page):
    from genlab.cli import build_parser

    parser = build_parser()
    for _, language, code in blocks(page):
        if language == "python":
            compile(code, f"{page.name} block", "exec")
            continue
        for line in code.splitlines():
            line = line.split("  #")[0].strip()
            if not line.startswith("genlab ") or "--help" in line:
                continue
            for command in line.split(" && "):
                argv = shlex.split(command)[1:]
                try:
                    parser.parse_args(argv)
                except SystemExit:
                    pytest.fail(f"{page.name}: `{command}` does not parse")


@pytest.mark.parametrize("page", PAGES, ids=lambda page: page.name)
def test_runnable_examples_run_as_written(page, tmp_path):
    runnable = [(language, code) for marked, language, code in blocks(page) if marked]
    if not runnable:
        pytest.skip(f"{page.name} has no runnable example")
    env = subprocess_env(GENLAB_DATA=str(tmp_path / "data"), MPLBACKEND="Agg")
    env["PATH"] = f"{Path(PYTHON).parent}{os.pathsep}{env.get('PATH', '')}"  # `genlab` and `python` of this install
    for index, (language, code) in enumerate(runnable):
        if language == "bash":
            command = ["bash", "-euo", "pipefail", "-c", code]
        else:
            script = tmp_path / f"block_{index}.py"
            script.write_text(code)
            command = [PYTHON, str(script)]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
        assert result.returncode == 0, f"{page.name}, runnable block {index + 1}:\n{code}\n{result.stderr[-3000:]}"
