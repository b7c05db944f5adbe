"""The codecs stay pure: no sockets, files, clocks or application imports, only the standard library's data
tools and the domain."""

from __future__ import annotations

import ast
from pathlib import Path

import kuzet.gateway.codecs as codecs

ALLOWED = {"__future__", "struct", "json", "hmac", "hashlib", "math", "re", "datetime", "dataclasses", "typing",
           "collections.abc", "urllib.parse"}


def test_codecs_import_only_data_tools_and_the_domain() -> None:
    for path in sorted(Path(codecs.__file__).parent.glob("*.py")):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            for name in names:
                assert name in ALLOWED or name.startswith("kuzet.domain"), f"{path.name} imports {name}"


def test_codecs_never_read_the_clock() -> None:
    for path in sorted(Path(codecs.__file__).parent.glob("*.py")):
        text = path.read_text()
        assert "datetime.now(" not in text and "time.time(" not in text, path.name
