"""Errors that are the user's to fix, and how the command line reports them (no torch).

``rppg-distill`` turns a known error into one line on stderr and exit code 2; anything else is a
bug and keeps its traceback (``cli.main``). Known errors (``is_user_error``):

- :class:`UserError` and its subclasses (:class:`MissingExtraError`);
- ``ValueError`` (the package's convention for bad input: files, arguments, configs, contracts);
- ``OSError`` from the file system (missing file, permission, not a directory, disk full);
- YAML syntax errors (``yaml.YAMLError``);
- ``ModuleNotFoundError`` for an optional package (torch, onnx, ...): said with its extra.
"""

from __future__ import annotations

# optional package -> the extra that installs it
EXTRAS = {"torch": "train", "onnx": "train", "onnxscript": "train", "safetensors": "train",
          "mediapipe": "mediapipe", "tensorrt": "tensorrt"}


class UserError(Exception):
    """A mistake in the user's input or environment; its message says what to change."""


class MissingExtraError(UserError, ModuleNotFoundError):
    """A command needs an optional package that is not installed."""


def missing_extra(err: ModuleNotFoundError) -> MissingExtraError | None:
    """The install hint for an optional package's ModuleNotFoundError, or None (another module:
    a broken install or a bug, which keeps its traceback)."""
    top = (err.name or "").split(".")[0]
    extra = EXTRAS.get(top)
    if extra is None:
        return None
    out = MissingExtraError(f"needs the optional package '{top}', which is not installed: "
                            f'pip install "rppg-distill[{extra}]"')
    out.name = top
    return out


def is_user_error(err: BaseException) -> bool:
    if isinstance(err, (UserError, ValueError, OSError)):
        return True
    if isinstance(err, ModuleNotFoundError):
        return missing_extra(err) is not None
    return type(err).__module__.split(".")[0] == "yaml" and type(err).__name__.endswith("Error")


def one_line(err: BaseException) -> str:
    """The error as one line: OS errors with their reason and file, others by their message."""
    if isinstance(err, ModuleNotFoundError) and not isinstance(err, MissingExtraError):
        hint = missing_extra(err)
        if hint is not None:
            return str(hint)
    if isinstance(err, OSError) and err.strerror:
        text = err.strerror + (f": {err.filename}" if err.filename else "")
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())
