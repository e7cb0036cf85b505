"""The model stage's one error type (every bad artifact is reported the same way: the file and the problem), and
the guarded JSON read that config, index and tokenizer files share."""

from __future__ import annotations


class ModelFileError(Exception):
    """A model artifact that cannot be read as what it claims to be. The message names the file and the problem."""

    def __init__(self, path: str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = path
        self.problem = problem


def read_json(path, label: str, max_bytes: int, what: str):
    """A size-capped JSON artifact (config, index, tokenizer), or a ModelFileError saying what is wrong with it."""
    import json

    try:
        if path.stat().st_size > max_bytes:
            raise ModelFileError(label, f"{what} larger than {max_bytes} bytes")
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ModelFileError(label, f"cannot be read: {error.strerror or error}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelFileError(label, f"{what} is not valid JSON ({error})") from None
