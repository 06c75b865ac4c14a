"""The ronn-runtime wheel's build steps (the metadata is in pyproject.toml): see wheel_build.py."""

import sys
from pathlib import Path

from setuptools import setup

sys.path.insert(0, str(Path(__file__).resolve().parent))
from wheel_build import LIBRARY, RONN_RUN, BinaryDistribution, bdist_wheel, build_py_with_runtime  # noqa: E402

setup(distclass=BinaryDistribution,
      cmdclass={"build_py": build_py_with_runtime((LIBRARY, RONN_RUN)), "bdist_wheel": bdist_wheel})
