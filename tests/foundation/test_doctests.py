"""The examples in the package's docstrings are run, so that they stay true."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import kuzet


def test_every_docstring_example_holds() -> None:
    attempted = 0
    failures: list[str] = []
    for info in pkgutil.walk_packages(kuzet.__path__, "kuzet."):
        module = importlib.import_module(info.name)
        result = doctest.testmod(module, report=False, optionflags=doctest.ELLIPSIS)
        attempted += result.attempted
        if result.failed:
            failures.append(f"{info.name}: {result.failed} of {result.attempted}")
    assert not failures
    assert attempted >= 20
