from __future__ import annotations

import importlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ["actorserve", "actorserve.domain", "actorserve.actors", "actorserve.adapters"]


@pytest.mark.parametrize("package", PACKAGES)
def test_all_is_sorted_and_every_name_exists(package: str) -> None:
    module = importlib.import_module(package)
    names = list(module.__all__)
    assert names == sorted(names, key=lambda n: (not n.isupper(), n)) or names == sorted(names)
    for name in names:
        assert hasattr(module, name), name


def test_public_names_of_the_design_are_exported() -> None:
    import actorserve
    import actorserve.actors
    import actorserve.adapters
    import actorserve.domain

    for name in ("ServingRuntime", "ModelServingInfrastructure", "get_model_serving_infrastructure"):
        assert name in actorserve.actors.__all__
    for name in ("SimulatedInvoker", "MockModelInvoker"):
        assert name in actorserve.adapters.__all__
    for name in ("ModelVersion", "ModelType", "ModelStatus", "ServingConfig", "RoutingStrategy", "ErrorCode"):
        assert name in actorserve.domain.__all__
    for name in ("ServingRuntime", "ModelVersion", "ServingConfig", "SimulatedInvoker", "ModelServingInfrastructure"):
        assert name in actorserve.__all__


def test_the_top_level_surface_is_the_layers_own_objects() -> None:
    import actorserve
    import actorserve.actors
    import actorserve.domain

    assert actorserve.ServingRuntime is actorserve.actors.ServingRuntime
    assert actorserve.ModelVersion is actorserve.domain.ModelVersion


@pytest.mark.slow
def test_the_wheel_installs_one_top_level_import_name(tmp_path: Path) -> None:
    # --no-build-isolation: the dev extra brings setuptools, so no index is needed
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "-w",
            str(tmp_path),
            ".",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = tmp_path.glob("actorserve-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith((".dist-info", ".data"))}
    assert tops == {"actorserve"}
    for layer in ("domain", "actors", "adapters"):
        assert f"actorserve/{layer}/__init__.py" in names
        assert f"actorserve/{layer}/py.typed" in names
    assert "actorserve/actors/experiments/ab.py" in names
    assert "actorserve/actors/version/core.py" in names
    assert not any(n.startswith(("actorserve/tests", "actorserve/benchmarks")) for n in names)
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    with zipfile.ZipFile(wheel) as archive:
        text = archive.read(entry_points).decode()
    assert "actorserve.adapters.simulated:SimulatedInvoker" in text
    assert "actorserve = actorserve.adapters.cli:main" in text
