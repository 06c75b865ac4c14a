"""ronn-aot's build steps (the metadata is in pyproject.toml): the package list, found rather
than listed so that a new subpackage cannot be left out of the wheel, and runtime_min's C
library built into the `ronn_runtime` package the wheel carries (runtime_min/wheel_build.py)."""

import sys
from pathlib import Path

from setuptools import find_namespace_packages, find_packages, setup

ROOT = Path(__file__).resolve().parent
sys.path.insert(0, str(ROOT / "runtime_min"))
from wheel_build import LIBRARY, BinaryDistribution, bdist_wheel, build_py_with_runtime  # noqa: E402


def packages() -> list[str]:
    """ronn_aot and its subpackages and data folders (models/images), the schedule rules
    (schedules/ -> ronn_aot.schedules), the folders pyproject.toml maps into the package, and the
    runtime binding."""
    compiler = find_namespace_packages(str(ROOT), include=["ronn_aot", "ronn_aot.*"], exclude=["*__pycache__"])
    schedules = ["ronn_aot.schedules", *(f"ronn_aot.schedules.{p}" for p in find_packages(str(ROOT / "schedules")))]
    return [*compiler, *schedules, "ronn_aot.targets_data", "ronn_aot.include.ronn", "ronn_runtime"]


setup(packages=packages(), distclass=BinaryDistribution,
      cmdclass={"build_py": build_py_with_runtime((LIBRARY,)), "bdist_wheel": bdist_wheel})
