"""The dependency direction: drivers and sync never import edge, nor each other."""

import subprocess
import sys

import pytest

FORBIDDEN = {"drivers": ("edge", "sync"), "sync": ("edge", "drivers")}


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_nothing_above_or_beside_it(package):
    probe = (
        "import importlib, pkgutil, sys\n"
        f"pkg = importlib.import_module({package!r})\n"
        "for mod in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "    importlib.import_module(mod.name)\n"
        "print(' '.join(sorted(m.split('.')[0] for m in sys.modules)))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True
    )
    loaded = set(result.stdout.split())
    assert package in loaded
    wrong = loaded & set(FORBIDDEN[package])
    assert not wrong, f"{package} imported {wrong}"
