"""The wheel: it carries the package data, installs, and runs from where it was installed.

The wheel is built (`pip wheel --no-deps`) from a copy of the working tree, so the build
writes nothing into the repository. It is installed with `--no-deps` into a fresh venv
that sees the dependencies through a `.pth` line naming this venv's site-packages: a
plain path line adds the directory to `sys.path` without running the `.pth` files in it,
so the editable install's import hook (which maps `citytools` to this checkout) is not
loaded, and `import citytools` can only come from the installed wheel.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SKIP = shutil.ignore_patterns(
    ".git",
    ".venv",
    "build",
    "*.egg-info",
    "__pycache__",
    ".*_cache",
    "tests",
    "bench",
    "citytools-data*",
    "citytools-demo-data*",
)

pytestmark = pytest.mark.slow


def run(*args: str | Path, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CITYTOOLS_", "PYTHON"))}
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env={**clean, **env},
        timeout=300,
        check=False,
    )


def expected_data() -> set[str]:
    """Every package-data file the repository has, as its path inside the wheel."""
    layout = {
        "ontology": "citytools/ontology",
        "shapes": "citytools/shapes",
        "queries": "citytools/queries",
        "reference": "citytools/reference",
        "demo": "citytools/demo",
        "service/http/pages/templates": "citytools/service/http/pages/templates",
    }
    patterns = {
        "ontology": ["*.ttl"],
        "shapes": ["*.ttl"],
        "queries": ["*.rq"],
        "reference": ["*.csv", "PROVENANCE.md", "LICENCES.md"],
        "demo": ["*.csv"],
        "service/http/pages/templates": ["*.html"],
    }
    return {
        f"{layout[folder]}/{path.name}"
        for folder, globs in patterns.items()
        for glob in globs
        for path in (ROOT / folder).glob(glob)
    }


def test_the_wheel_installs_and_runs_from_its_own_files(tmp_path: Path) -> None:
    source = tmp_path / "src"
    shutil.copytree(ROOT, source, ignore=SKIP)
    wheels = tmp_path / "wheels"
    built = run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", wheels, source, cwd=tmp_path
    )
    assert built.returncode == 0, built.stderr
    [wheel] = wheels.glob("citytools-*.whl")

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    expected = expected_data()
    assert {
        "citytools/ontology/citytools.ttl",
        "citytools/shapes/citytools-shapes.ttl",
        "citytools/reference/PROVENANCE.md",
        "citytools/reference/LICENCES.md",
        "citytools/reference/london_local_authorities.csv",
        "citytools/demo/inventory.csv",
        "citytools/py.typed",
    } <= names
    assert sum(1 for n in expected if n.endswith(".rq")) >= 11
    assert sum(1 for n in expected if n.endswith(".html")) >= 1
    assert expected - names == set()
    assert "citytools = citytools.service.cli.main:main" in scripts

    venv = tmp_path / "venv"
    made = run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    site = Path(
        run(
            python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])", cwd=tmp_path
        ).stdout.strip()
    )
    (site / "citytools-test-deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    installed = run(
        sys.executable,
        "-m",
        "pip",
        "--python",
        python,
        "install",
        "--no-deps",
        "--no-index",
        "-q",
        wheel,
        cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stderr

    shown = run(venv / "bin" / "citytools", "--help", cwd=tmp_path, COLUMNS="200")
    assert shown.returncode == 0, shown.stderr
    commands = {line.split()[1] for line in shown.stdout.splitlines() if line.startswith("│ ")}
    assert {"load", "validate", "export", "query", "serve"} <= commands

    code = (
        "import citytools, citytools.resources as r\n"
        "print(citytools.__file__)\n"
        "print(r.ontology_file())\n"
        "print(r.ontology_file().read_text()[:50])\n"
    )
    imported = run(python, "-c", code, cwd=tmp_path)
    assert imported.returncode == 0, imported.stderr
    module, ontology, head = imported.stdout.split("\n", 2)
    for path in (module, ontology):
        assert Path(path).is_relative_to(venv), path
        assert not Path(path).is_relative_to(ROOT), path
    assert Path(ontology) == site / "citytools" / "ontology" / "citytools.ttl"
    assert head.rstrip("\n") == (ROOT / "ontology" / "citytools.ttl").read_text()[:50]

    # the installed shapes, ontology and reference data are enough to validate an inventory
    inventory = ROOT / "tests" / "data" / "loaders" / "inventory.csv"
    checked = run(venv / "bin" / "citytools", "validate", inventory, cwd=tmp_path, COLUMNS="500")
    assert checked.returncode == 0, checked.stderr
    assert checked.stdout.strip() == f"{inventory}: conforms (4 warning(s))"
