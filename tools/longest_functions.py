"""Print the longest functions (lines, ``end_lineno - lineno + 1``) under the given folders.

Usage: python tools/longest_functions.py python/rppg_distill/train python/rppg_distill/data/cache \
           python/rppg_distill/commands [--top 3] [--max 80]
With ``--max N`` the exit status is 1 when a function is longer than N lines.
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path


def function_lengths(folder: Path) -> list[tuple[int, str]]:
    """(lines, "file:line name") for every function and method in ``folder``'s ``*.py`` files."""
    out = []
    for path in sorted(folder.rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                out.append((node.end_lineno - node.lineno + 1, f"{path}:{node.lineno} {node.name}"))
    return sorted(out, reverse=True)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folders", nargs="+", type=Path)
    ap.add_argument("--top", type=int, default=3, help="functions listed per folder (default 3)")
    ap.add_argument("--max", type=int, default=0, help="fail when a function is longer (0: never)")
    args = ap.parse_args(argv)
    too_long = False
    for folder in args.folders:
        if not folder.is_dir():
            raise SystemExit(f"not a folder: {folder}")
        lengths = function_lengths(folder)
        print(f"{folder}:")
        for n, where in lengths[:args.top]:
            print(f"  {n:4d}  {where}")
        too_long |= bool(args.max and lengths and lengths[0][0] > args.max)
    return 1 if too_long else 0


if __name__ == "__main__":
    sys.exit(main())
