"""The documentation: the site builds with warnings as errors, and every Python block of every
tutorial runs, page by page in one namespace, from a fresh folder (the setup a page declares in
its first line, ``<!-- test-setup: copy SRC DST -->``, copies a committed results folder there;
``--8<-- "path"`` lines include a file of the repository, as the site shows it)."""

import os
import re
import shutil
import subprocess
import sys

import pytest

pytestmark = pytest.mark.docs  # run by .ci/run after the suite: python -m pytest -m docs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIALS = os.path.join(ROOT, "docs", "tutorials")
PAGES = sorted(p for p in os.listdir(TUTORIALS) if p.endswith(".md"))
FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
INCLUDE = re.compile(r'^--8<-- "([^"]+)"$', re.M)


def python_blocks(text: str) -> list:
  """The page's ```python blocks, with ``--8<-- "path"`` include lines replaced by the file."""
  expand = lambda m: open(os.path.join(ROOT, m.group(1))).read()
  return [INCLUDE.sub(expand, block) for block in FENCE.findall(text)]


def test_python_blocks_are_found_and_includes_expanded():
  text = 'a\n```python\nx = 1\n```\n```bash\nls\n```\n```python\n--8<-- "LICENSE"\n```\n'
  blocks = python_blocks(text)
  assert blocks[0] == "x = 1\n" and blocks[1].startswith("MIT License")


def test_site_builds_strict(tmp_path):
  done = subprocess.run(
    [sys.executable, "-m", "mkdocs", "build", "--strict", "-q", "-d", str(tmp_path / "site")],
    cwd=ROOT, capture_output=True, text=True, env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
  )  # fmt: skip
  assert done.returncode == 0, done.stderr[-3000:]
  for page in ["index.html", "api/problem.html", "tutorials/quickstart.html"]:
    assert (tmp_path / "site" / page).exists()
  assert "LowRankDense" in (tmp_path / "site" / "api" / "nn.html").read_text()


@pytest.mark.parametrize("page", PAGES)
def test_tutorial_runs(page, tmp_path):
  """The page's blocks as one script, run as a user would run them (in a subprocess: the end-to-end
  convention of the suite, compiled without XLA's optimisation passes, tests/conftest.py)."""
  text = open(os.path.join(TUTORIALS, page)).read()
  setup = re.match(r"<!-- test-setup: (.*?) -->", text)
  for step in setup.group(1).split(";") if setup else []:
    verb, src, dst = step.split()
    assert verb == "copy", step
    shutil.copytree(os.path.join(ROOT, src), tmp_path / dst)
  blocks = python_blocks(text)
  assert blocks, f"{page} has no Python block"
  script = "".join(f"# block {i + 1}\n{block}\n" for i, block in enumerate(blocks))
  (tmp_path / "tutorial.py").write_text(script)
  env = {**os.environ, "MPLBACKEND": "Agg", "PYTHONPATH": ROOT}
  done = subprocess.run(
    [sys.executable, "tutorial.py"], cwd=tmp_path, env=env, capture_output=True, text=True
  )
  assert done.returncode == 0, f"{page}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}"
