# Architecture rules for the pure layers, enforced with an AST scan of every module.
#
# Rules:
# 1. polyarb/events and polyarb/core are deterministic and do no I/O. They import no I/O,
#    clock, randomness or environment module, and they call no clock (`datetime.now()`), no
#    `open()`/`print()`/`input()`, no `hash()`/`id()` (both vary between processes) and no
#    `__import__`.
# 2. polyarb/events imports nothing from polyarb outside polyarb.events. polyarb/core never
#    imports the shells (journal, reports, venues, runtime, cli, sim).
# 3. A reviewed exception carries `# det-ok: <reason>` on the offending line. The reason must
#    not be empty. The escape covers that line only, so `import os  # det-ok: ...` does not
#    exempt a later `os.environ`.
# Every .py file under those directories is scanned, so modules added later are covered. The
# scanner is tested on small sources below, so a broken scanner cannot pass silently.
from __future__ import annotations

import ast
import io
import re
import tokenize
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PURE_DIRS = ("polyarb/events", "polyarb/core")

BANNED_MODULES = {
    "asyncio": "I/O",
    "websockets": "I/O",
    "httpx": "I/O",
    "duckdb": "I/O",
    "socket": "I/O",
    "ssl": "I/O",
    "select": "I/O",
    "selectors": "I/O",
    "signal": "process control",
    "subprocess": "I/O",
    "multiprocessing": "concurrency",
    "threading": "concurrency",
    "concurrent": "concurrency",
    "os": "environment and I/O",
    "pathlib": "filesystem",
    "shutil": "filesystem",
    "tempfile": "filesystem",
    "glob": "filesystem",
    "io": "I/O",
    "sqlite3": "I/O",
    "urllib": "I/O",
    "logging": "I/O side effects",
    "time": "clock",
    "random": "randomness",
    "secrets": "randomness",
    "uuid": "randomness",
    "importlib": "dynamic imports",
}
BANNED_CALLS = {
    "open": "file I/O",
    "print": "I/O",
    "input": "I/O",
    "breakpoint": "debugger",
    "__import__": "dynamic import",
    "hash": "varies with PYTHONHASHSEED",
    "id": "varies between processes",
}
BANNED_QUALIFIED_CALLS = {
    "datetime.datetime.now": "clock",
    "datetime.datetime.utcnow": "clock",
    "datetime.datetime.today": "clock",
    "datetime.date.today": "clock",
}
BANNED_ATTRIBUTES = {"sys.stdin", "sys.stdout", "sys.stderr", "sys.argv"}
CORE_FORBIDDEN = ("journal", "reports", "venues", "runtime", "cli", "sim")

ESCAPE = re.compile(r"#\s*det-ok:(?P<reason>.*)$")


@dataclass(frozen=True)
class Violation:
    module: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.module}:{self.line}: {self.message}"


def _escaped_lines(source: str) -> set[int]:
    """Lines with a `# det-ok: <reason>` comment whose reason is not blank."""
    lines: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            match = ESCAPE.search(tok.string)
            if match is not None and match["reason"].strip():
                lines.add(tok.start[0])
    return lines


def _resolve_from(module: str, is_package: bool, node: ast.ImportFrom) -> str:
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if is_package else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join([*base, node.module] if node.module else base)


def _within(name: str, prefix: str) -> bool:
    return name == prefix or name.startswith(prefix + ".")


class _Scanner(ast.NodeVisitor):
    def __init__(self, module: str, is_package: bool) -> None:
        self.module = module
        self.is_package = is_package
        self.aliases: dict[str, str] = {}  # local name -> fully qualified name
        self.found: list[tuple[int, str]] = []

    def _flag(self, node: ast.AST, message: str) -> None:
        self.found.append((getattr(node, "lineno", 0), message))

    def _check_import(self, node: ast.AST, target: str) -> None:
        root = target.split(".")[0]
        if root in BANNED_MODULES:
            self._flag(node, f"imports {target} ({BANNED_MODULES[root]})")
        if _within(self.module, "polyarb.events"):
            if _within(target, "polyarb") and not _within(target, "polyarb.events"):
                self._flag(node, f"imports {target}: polyarb.events imports only itself")
        elif _within(self.module, "polyarb.core"):
            for shell in CORE_FORBIDDEN:
                if _within(target, f"polyarb.{shell}"):
                    self._flag(node, f"imports {target}: the core never imports shells")

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._check_import(node, alias.name)
            local = alias.asname or alias.name.split(".")[0]
            self.aliases[local] = alias.name if alias.asname else local

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        base = _resolve_from(self.module, self.is_package, node)
        self._check_import(node, base)
        for alias in node.names:
            if alias.name != "*":
                self._check_import(node, f"{base}.{alias.name}")
                self.aliases[alias.asname or alias.name] = f"{base}.{alias.name}"

    def _qualified(self, node: ast.expr) -> str | None:
        if isinstance(node, ast.Name):
            return self.aliases.get(node.id, node.id)
        if isinstance(node, ast.Attribute):
            base = self._qualified(node.value)
            return None if base is None else f"{base}.{node.attr}"
        return None

    def visit_Name(self, node: ast.Name) -> None:
        target = self.aliases.get(node.id)
        if target is not None and target.split(".")[0] in BANNED_MODULES:
            self._flag(node, f"uses {target}")

    def visit_Attribute(self, node: ast.Attribute) -> None:
        name = self._qualified(node)
        if name in BANNED_ATTRIBUTES:
            self._flag(node, f"uses {name} (I/O)")
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id not in self.aliases and func.id in BANNED_CALLS:
            self._flag(node, f"calls {func.id}() ({BANNED_CALLS[func.id]})")
        name = self._qualified(func)
        if name in BANNED_QUALIFIED_CALLS:
            self._flag(node, f"calls {name}() ({BANNED_QUALIFIED_CALLS[name]})")
        self.generic_visit(node)


def scan_source(source: str, module: str, *, is_package: bool = False) -> list[Violation]:
    """Return the rule violations in one module's source (see the rules at the top)."""
    scanner = _Scanner(module, is_package)
    scanner.visit(ast.parse(source))
    escaped = _escaped_lines(source)
    return [
        Violation(module, line, message)
        for line, message in sorted(set(scanner.found))
        if line not in escaped
    ]


def _pure_modules() -> list[Path]:
    return sorted(path for d in PURE_DIRS for path in (ROOT / d).rglob("*.py"))


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@pytest.mark.parametrize("path", _pure_modules(), ids=lambda p: str(p.relative_to(ROOT)))
def test_pure_module_obeys_layer_rules(path: Path) -> None:
    violations = scan_source(
        path.read_text(encoding="utf-8"),
        _module_name(path),
        is_package=path.name == "__init__.py",
    )

    assert violations == [], "\n".join(map(str, violations))


def test_pure_modules_found() -> None:
    names = {_module_name(p) for p in _pure_modules()}

    assert {"polyarb.events", "polyarb.events.codec", "polyarb.core"} <= names


# --- self-tests of the scanner ------------------------------------------------------------------

EVENTS = "polyarb.events.sample"
CORE = "polyarb.core.sample"


def _messages(source: str, module: str = CORE, *, is_package: bool = False) -> list[str]:
    return [v.message for v in scan_source(source, module, is_package=is_package)]


@pytest.mark.parametrize(
    "source",
    [
        "import asyncio\n",
        "import os.path\n",
        "from os import environ\n",
        "from time import monotonic\n",
        "import random as rng\n",
        "from uuid import uuid4\n",
        "import httpx, json\n",
        "from pathlib import Path\n",
        "import logging\n",
    ],
)
def test_scan_banned_import_caught(source: str) -> None:
    assert len(_messages(source)) >= 1


def test_scan_clean_source_passes() -> None:
    source = (
        "import datetime as _dt\nfrom decimal import Decimal\nimport msgspec\n"
        "from polyarb.events.base import Event\n"
        "def day(ts_ns: int) -> str:\n"
        "    return _dt.datetime.fromtimestamp(ts_ns // 10**9, _dt.UTC).date().isoformat()\n"
    )

    assert _messages(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "import datetime\nx = datetime.datetime.now()\n",
        "import datetime as _dt\nx = _dt.datetime.utcnow()\n",
        "from datetime import datetime\nx = datetime.now(tz=None)\n",
        "from datetime import date as d\nx = d.today()\n",
        "x = open('f').read()\n",
        "print('hello')\n",
        "x = hash('token')\n",
        "m = __import__('os')\n",
        "import sys\nsys.stdout.write('x')\n",
    ],
)
def test_scan_banned_call_caught(source: str) -> None:
    assert len(_messages(source)) == 1


def test_scan_use_after_escaped_import_still_caught() -> None:
    source = "import os  # det-ok: reviewed\nx = os.environ['HOME']\ny = os.getenv('X')\n"

    assert [v.line for v in scan_source(source, CORE)] == [2, 3]


def test_scan_escape_with_reason_exempts_line() -> None:
    source = "import time  # det-ok: only used for a type annotation in a docstring example\n"

    assert _messages(source) == []


@pytest.mark.parametrize(
    "comment", ["# det-ok:", "# det-ok:   ", "# det-ok", "# detok: reason", "# DET-OK: x"]
)
def test_scan_escape_without_reason_does_not_exempt(comment: str) -> None:
    assert len(_messages(f"import time  {comment}\n")) == 1


def test_scan_escape_inside_string_does_not_exempt() -> None:
    assert len(_messages("import time; s = '# det-ok: sneaky'\n")) == 1


def test_scan_escape_covers_its_line_only() -> None:
    source = "import time  # det-ok: reviewed\nimport random\n"

    assert [v.line for v in scan_source(source, CORE)] == [2]


@pytest.mark.parametrize(
    "source",
    [
        "from polyarb.core import book\n",
        "import polyarb.journal\n",
        "from polyarb import venues\n",
        "from .. import core\n",
        "from ..journal import writer\n",
    ],
)
def test_scan_events_importing_other_polyarb_caught(source: str) -> None:
    assert len(_messages(source, EVENTS)) >= 1


@pytest.mark.parametrize(
    "source",
    [
        "from polyarb.events import codec\n",
        "from polyarb.events.base import Event\n",
        "from . import inputs\n",
        "from .base import Event\n",
    ],
)
def test_scan_events_importing_events_passes(source: str) -> None:
    assert _messages(source, EVENTS) == []


def test_scan_relative_import_in_package_init_resolved() -> None:
    # In polyarb/events/__init__.py, `from . import codec` is polyarb.events.codec.
    assert _messages("from . import codec\n", "polyarb.events", is_package=True) == []
    assert _messages("from .. import core\n", "polyarb.events", is_package=True) != []


@pytest.mark.parametrize(
    "source",
    [
        "import polyarb.journal.writer\n",
        "from polyarb.reports import pnl\n",
        "from polyarb import venues\n",
        "from polyarb.runtime import run\n",
        "import polyarb.cli\n",
        "from polyarb.sim.exchange import SimExchange\n",
        "from ..journal import writer\n",
    ],
)
def test_scan_core_importing_shell_caught(source: str) -> None:
    assert len(_messages(source, CORE)) >= 1


@pytest.mark.parametrize(
    "source",
    [
        "from polyarb.events.decisions import Leg\n",
        "from polyarb.core.book import Book\n",
        "from .book import Book\n",
        "from polyarb.simple import x\n",
    ],
)
def test_scan_core_importing_pure_passes(source: str) -> None:
    assert _messages(source, CORE) == []
