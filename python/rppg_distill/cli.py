"""The `rppg-distill` command line: one subcommand per module in `rppg_distill.commands`.

Each command module defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported lazily so that `rppg-distill run` works without torch installed.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# subcommand -> module under rppg_distill.commands
COMMANDS = {
    "demo": "demo",
    "synth": "synth",
    "preprocess": "preprocess",
    "evaluate-classical": "evaluate_classical",
    "evaluate": "evaluate",
    "train": "train",
    "export": "export",
    "import-toolbox": "import_toolbox",
    "build-engine": "build_engine",
    "run": "run",
    "info": "info",
}


def _load(module_name: str):
    return importlib.import_module(f"rppg_distill.commands.{module_name}")


def build_parser(argv_command: str | None = None) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rppg-distill", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, module_name in COMMANDS.items():
        if argv_command is not None and name != argv_command:
            sub.add_parser(name, help=f"(run `rppg-distill {name} -h`)")
            continue
        try:
            module = _load(module_name)
        except ModuleNotFoundError as err:
            if err.name and err.name.startswith("rppg_distill.commands"):
                continue  # command not shipped in this build
            help_text = f"unavailable: {err.name} is not installed"
            sub.add_parser(name, help=help_text)
            continue
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else None
    parser = build_parser(command if command in COMMANDS else None)
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    try:
        module = _load(COMMANDS[args.command])
    except ModuleNotFoundError as err:
        print(f"rppg-distill {args.command}: needs the missing package '{err.name}' "
              f"(for training commands: pip install 'rppg-distill[train]')", file=sys.stderr)
        return 2
    return _run_reporting_errors(module, args)


def _run_reporting_errors(module, args) -> int:
    """Run a command: a known error (``rppg_distill.errors.is_user_error``) is one line on stderr
    and exit code 2, Ctrl-C is exit code 130, anything else keeps its traceback plus a hint."""
    from rppg_distill.errors import is_user_error, one_line

    try:
        return int(module.run(args) or 0)
    except KeyboardInterrupt:
        print(f"rppg-distill {args.command}: interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if is_user_error(err):
            print(f"rppg-distill {args.command}: error: {one_line(err)}", file=sys.stderr)
            return 2
        import traceback

        traceback.print_exc()
        print(f"rppg-distill {args.command}: unexpected {type(err).__name__}: this is a bug in "
              "rppg-distill; please report it with the command line and the traceback above",
              file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
