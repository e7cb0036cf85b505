"""Tests for provscan.walk: every file is either yielded or counted, and hostile input stays contained.

All inputs are real files, symlinks, FIFOs and archives built in tmp_path; nothing is mocked.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import sys
import tarfile
import threading
import zipfile
from pathlib import Path

import pytest

from provscan.ignore import _default_vendored_patterns
from provscan.walk import (
    SourceFile,
    WalkError,
    WalkOptions,
    WalkReport,
    is_archive,
    walk,
)

needs_symlinks = pytest.mark.skipif(sys.platform == "win32", reason="POSIX symlinks")


def write(root: Path, rel: str, content: str | bytes = "x = 1\n") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        path.write_bytes(content)
    return path


def run(root: Path | str, **opts: object) -> tuple[list[SourceFile], WalkReport]:
    report = WalkReport()
    files = list(walk(root, WalkOptions(**opts), report))  # type: ignore[arg-type]
    return files, report


def paths(files: list[SourceFile]) -> list[str]:
    return [f.path for f in files]


def reasons(report: WalkReport) -> dict[str, str]:
    """path -> reason for every stored skip."""
    return {s.path: s.reason for s in report.skips}


def assert_balanced(report: WalkReport) -> None:
    assert report.files_seen == report.files_yielded + sum(report.skipped.values())


def make_zip(path: Path, members: dict[str, bytes | str]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def tar_add(tf: tarfile.TarFile, name: str, data: bytes | str) -> None:
    raw = data.encode() if isinstance(data, str) else data
    info = tarfile.TarInfo(name)
    info.size = len(raw)
    tf.addfile(info, io.BytesIO(raw))


def make_tar(path: Path, members: dict[str, bytes | str], mode: str = "w:gz") -> Path:
    with tarfile.open(path, mode) as tf:
        for name, data in members.items():
            tar_add(tf, name, data)
    return path


def listing(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


# --------------------------------------------------------------------------------------------------
# Plain trees


def test_plain_tree_with_nested_dirs(tmp_path: Path) -> None:
    write(tmp_path, "a.py", "print('a')\n")
    write(tmp_path, "pkg/b.py", "b = 2\r\n")  # CRLF must survive: text is kept as decoded
    write(tmp_path, "pkg/sub/deep/c.rs", "fn main() {}\n")
    write(tmp_path, "README.md", "# hi\n")
    (tmp_path / "empty_dir").mkdir()

    files, report = run(tmp_path)

    assert paths(files) == ["README.md", "a.py", "pkg/b.py", "pkg/sub/deep/c.rs"]
    b = files[2]
    assert b.text == "b = 2\r\n"
    assert b.encoding == "utf-8"
    assert b.size == 7
    assert b.sha256 == hashlib.sha256(b"b = 2\r\n").hexdigest()
    assert report.files_seen == 4 and report.files_yielded == 4
    assert not report.skipped and not report.skips
    assert_balanced(report)


def test_nonexistent_root_raises_naming_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    with pytest.raises(WalkError, match="nope.*does not exist"):
        walk(missing)


def test_single_file_root(tmp_path: Path) -> None:
    f = write(tmp_path, "dir/only.py", "x = 'solo'\n")
    write(tmp_path, "dir/other.py")
    files, report = run(f)
    assert paths(files) == ["only.py"]
    assert files[0].text == "x = 'solo'\n"
    assert report.files_seen == 1 and report.files_yielded == 1


def test_order_is_sorted_and_deterministic(tmp_path: Path) -> None:
    # A naive per-directory sort would yield "a/b.py" before "a.py"; global path order must not.
    for rel in ["a.py", "a/b.py", "a-b.py", "a/c/d.py", "b.py", "A.py", "a.zip.py"]:
        write(tmp_path, rel)
    make_zip(tmp_path / "a.zip", {"z.py": "z = 1\n", "m/n.py": "n = 1\n"})

    first = paths(run(tmp_path)[0])
    second = paths(run(tmp_path)[0])

    assert first == sorted(first)
    assert first == second
    assert first.index("a.py") < first.index("a/b.py")
    assert "a.zip!/m/n.py" in first and "a.zip!/z.py" in first


# --------------------------------------------------------------------------------------------------
# Excludes


def test_gitignore_root_nested_and_negation(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\n!keep.log\nsecrets/\n# a comment\n/top_only.py\n")
    write(tmp_path, "app.log", "noise\n")
    write(tmp_path, "keep.log", "kept\n")
    write(tmp_path, "top_only.py")
    write(tmp_path, "secrets/a.py")
    write(tmp_path, "secrets/b.py")
    write(tmp_path, "src/top_only.py")  # "/top_only.py" is anchored to the root: not ignored here
    write(tmp_path, "src/.gitignore", "generated.py\n!important.log\n")
    write(tmp_path, "src/generated.py")
    write(tmp_path, "src/important.log", "re-included by the nested file\n")
    write(tmp_path, "src/other.log", "still ignored by the root file\n")
    write(tmp_path, "generated.py")  # nested patterns do not apply above their directory

    files, report = run(tmp_path)
    got = paths(files)

    assert got == [
        ".gitignore",
        "generated.py",
        "keep.log",
        "src/.gitignore",
        "src/important.log",
        "src/top_only.py",
    ]
    r = reasons(report)
    assert r == {
        "app.log": "gitignored",
        "secrets": "gitignored",  # the whole directory counts once
        "src/generated.py": "gitignored",
        "src/other.log": "gitignored",
        "top_only.py": "gitignored",
    }
    assert report.skipped["gitignored"] == 5
    secrets = next(s for s in report.skips if s.path == "secrets")
    assert "not descended" in secrets.detail and ".gitignore" in secrets.detail
    gen = next(s for s in report.skips if s.path == "src/generated.py")
    assert "src/.gitignore" in gen.detail and "generated.py" in gen.detail
    assert_balanced(report)


def test_gitignore_can_be_disabled(tmp_path: Path) -> None:
    write(tmp_path, ".gitignore", "*.log\n")
    write(tmp_path, "app.log", "x\n")
    files, report = run(tmp_path, honour_gitignore=False)
    assert paths(files) == [".gitignore", "app.log"]
    assert report.skipped["gitignored"] == 0


def test_default_vendored_dirs_skipped_once_each(tmp_path: Path) -> None:
    for rel in [
        "node_modules/left-pad/index.js",
        "node_modules/left-pad/package.json",
        ".git/config",
        ".venv/lib/site-packages/torch/nn.py",
        "pkg/__pycache__/m.cpython-311.pyc",
        "build/lib/x.py",
        "mylib.egg-info/PKG-INFO",
        "bazel-out/k8/x.py",
        "rust/target/debug/x.rs",
    ]:
        write(tmp_path, rel)
    write(tmp_path, "third_party/copied/model.py", "class Copied: ...\n")
    write(tmp_path, "pkg/m.py")
    write(tmp_path, "vendor/v.py")

    files, report = run(tmp_path)

    # third_party/ and vendor/ are exactly what a provenance reviewer wants to see.
    assert paths(files) == ["pkg/m.py", "third_party/copied/model.py", "vendor/v.py"]
    assert reasons(report) == {
        ".git": "vendored",
        ".venv": "vendored",
        "bazel-out": "vendored",
        "build": "vendored",
        "mylib.egg-info": "vendored",
        "node_modules": "vendored",
        "pkg/__pycache__": "vendored",
        "rust/target": "vendored",
    }
    assert report.skipped == {"vendored": 8}
    assert all("not descended" in s.detail for s in report.skips)
    assert_balanced(report)


def test_default_excludes_can_be_disabled(tmp_path: Path) -> None:
    write(tmp_path, "node_modules/x.js", "module.exports = 1;\n")
    files, report = run(tmp_path, use_default_excludes=False)
    assert paths(files) == ["node_modules/x.js"]
    assert report.skipped["vendored"] == 0


def test_excludes_toml_has_required_entries_and_keeps_third_party() -> None:
    patterns = _default_vendored_patterns()
    for name in [
        ".git", ".hg", ".svn", "node_modules", "__pycache__", ".venv", "venv", ".tox", ".mypy_cache",
        ".pytest_cache", ".ruff_cache", "build", "dist", "site-packages", ".eggs", "*.egg-info", "target",
        "bazel-*", ".ipynb_checkpoints",
    ]:  # fmt: skip
        assert name in patterns
    assert "third_party" not in patterns and "vendor" not in patterns


def test_user_excludes(tmp_path: Path) -> None:
    write(tmp_path, "app.js", "a();\n")
    write(tmp_path, "app.min.js", "a();\n")
    write(tmp_path, "static/lib.min.js", "b();\n")
    write(tmp_path, "docs/conf.py")
    write(tmp_path, "docs/api/x.py")
    write(tmp_path, "src/docs/keep.py")  # "/docs" is anchored to the root

    files, report = run(tmp_path, exclude=("*.min.js", "/docs"))

    assert paths(files) == ["app.js", "src/docs/keep.py"]
    assert reasons(report) == {"app.min.js": "excluded", "docs": "excluded", "static/lib.min.js": "excluded"}
    docs = next(s for s in report.skips if s.path == "docs")
    assert "'/docs'" in docs.detail and "not descended" in docs.detail
    assert_balanced(report)


def test_exclude_must_not_be_a_bare_string() -> None:
    with pytest.raises(TypeError):
        WalkOptions(exclude="*.log")  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# Content: binary, size, encodings


def test_binary_file_skipped(tmp_path: Path) -> None:
    write(tmp_path, "model.bin", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR")
    write(tmp_path, "late_nul.txt", b"a" * 9000 + b"\x00")  # NUL after the 8 KiB sniff window: text
    write(tmp_path, "ok.py")

    files, report = run(tmp_path)

    assert paths(files) == ["late_nul.txt", "ok.py"]
    assert reasons(report) == {"model.bin": "binary"}
    assert "NUL byte at offset 8" in report.skips[0].detail


def test_too_large_file_skipped_before_reading(tmp_path: Path) -> None:
    write(tmp_path, "big.py", "x" * 101)
    write(tmp_path, "edge.py", "y" * 100)

    files, report = run(tmp_path, max_file_bytes=100)

    assert paths(files) == ["edge.py"]
    assert reasons(report) == {"big.py": "too-large"}
    assert "101 bytes" in report.skips[0].detail


def test_encodings_bom_utf16_and_latin1_fallback(tmp_path: Path) -> None:
    write(tmp_path, "bom8.py", b"\xef\xbb\xbfname = '\xc3\xa9'\n")
    write(tmp_path, "utf16le.py", "\ufeffs = 'ü'\n".encode("utf-16-le"))  # contains NUL bytes
    write(tmp_path, "utf16be.txt", "\ufeffhi\n".encode("utf-16-be"))
    write(tmp_path, "legacy.c", b"/* caf\xe9 */\nint x;\n")
    write(tmp_path, "plain.py", "ok = 'é'\n")

    files, report = run(tmp_path)
    by = {f.path: f for f in files}

    assert sorted(by) == ["bom8.py", "legacy.c", "plain.py", "utf16be.txt", "utf16le.py"]
    assert (by["bom8.py"].encoding, by["bom8.py"].text) == ("utf-8-sig", "name = 'é'\n")
    assert (by["utf16le.py"].encoding, by["utf16le.py"].text) == ("utf-16", "s = 'ü'\n")
    assert (by["utf16be.txt"].encoding, by["utf16be.txt"].text) == ("utf-16", "hi\n")
    assert (by["legacy.c"].encoding, by["legacy.c"].text) == ("latin-1", "/* café */\nint x;\n")
    assert by["plain.py"].encoding == "utf-8"
    assert by["utf16le.py"].size == len("\ufeffs = 'ü'\n".encode("utf-16-le"))
    # The fallback is yielded, not skipped, but it is counted and named.
    assert report.skipped == {}
    assert report.warning_counts == {"latin-1-fallback": 1}
    (warning,) = report.warnings
    assert warning.path == "legacy.c" and "legacy.c" in warning.detail and "offset 6" in warning.detail


# --------------------------------------------------------------------------------------------------
# Symlinks and special files


@needs_symlinks
def test_symlinks_inside_root_are_followed(tmp_path: Path) -> None:
    root = tmp_path / "root"
    write(root, "real/mod.py", "m = 1\n")
    (root / "link.py").symlink_to("real/mod.py")
    (root / "linkdir").symlink_to("real", target_is_directory=True)

    files, report = run(root)

    assert paths(files) == ["link.py", "linkdir/mod.py", "real/mod.py"]
    assert files[0].text == "m = 1\n" and files[0].sha256 == files[2].sha256
    assert not report.skips


@needs_symlinks
def test_second_symlink_to_same_dir_not_walked_twice(tmp_path: Path) -> None:
    write(tmp_path, "a_real/m.py")
    (tmp_path / "b_link").symlink_to("a_real", target_is_directory=True)
    (tmp_path / "c_link").symlink_to("b_link", target_is_directory=True)

    files, report = run(tmp_path)

    assert paths(files) == ["a_real/m.py"]
    assert reasons(report) == {"b_link": "symlink-loop", "c_link": "symlink-loop"}
    assert "already walked as 'a_real'" in report.skips[0].detail


@needs_symlinks
def test_symlinks_outside_root_are_not_followed(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    write(outside, "secret.py", "TOKEN = 'reviewer-private'\n")
    root = tmp_path / "root"
    write(root, "ok.py")
    (root / "steal.py").symlink_to(outside / "secret.py")
    (root / "stealdir").symlink_to(outside, target_is_directory=True)
    (root / "up.py").symlink_to("../outside/secret.py")

    files, report = run(root)

    assert paths(files) == ["ok.py"]
    assert all("reviewer-private" not in f.text for f in files)
    assert reasons(report) == {
        "steal.py": "symlink-outside-root",
        "stealdir": "symlink-outside-root",
        "up.py": "symlink-outside-root",
    }
    assert "outside the scanned root" in report.skips[0].detail


@needs_symlinks
def test_symlink_loop_terminates_and_is_counted(tmp_path: Path) -> None:
    write(tmp_path, "a/x.py")
    (tmp_path / "a" / "back").symlink_to("..", target_is_directory=True)  # a/back -> root
    (tmp_path / "a" / "self").symlink_to("self")  # ELOOP

    files, report = run(tmp_path)

    assert paths(files) == ["a/x.py"]
    assert reasons(report) == {"a/back": "symlink-loop", "a/self": "symlink-loop"}
    assert report.skipped["symlink-loop"] == 2
    back = next(s for s in report.skips if s.path == "a/back")
    assert "points back to 'the scanned root'" in back.detail


@needs_symlinks
def test_broken_symlink_counted(tmp_path: Path) -> None:
    write(tmp_path, "ok.py")
    (tmp_path / "dangling.py").symlink_to("does-not-exist.py")

    files, report = run(tmp_path)

    assert paths(files) == ["ok.py"]
    assert reasons(report) == {"dangling.py": "broken-symlink"}
    assert "does-not-exist.py" in report.skips[0].detail


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs os.mkfifo")
def test_fifo_is_skipped_without_hanging(tmp_path: Path) -> None:
    write(tmp_path, "ok.py")
    os.mkfifo(tmp_path / "pipe.py")
    result: dict[str, object] = {}

    def target() -> None:
        result["files"], result["report"] = run(tmp_path)

    worker = threading.Thread(target=target, daemon=True)
    worker.start()
    worker.join(timeout=20)
    assert not worker.is_alive(), "walk blocked on a FIFO"
    report = result["report"]
    assert isinstance(report, WalkReport)
    assert paths(result["files"]) == ["ok.py"]  # type: ignore[arg-type]
    assert reasons(report) == {"pipe.py": "special-file"}
    assert "FIFO" in report.skips[0].detail


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() == 0, reason="root can read any file")
def test_unreadable_file_counted(tmp_path: Path) -> None:
    locked = write(tmp_path, "locked.py")
    write(tmp_path, "ok.py")
    locked.chmod(0)
    try:
        files, report = run(tmp_path)
    finally:
        locked.chmod(0o644)
    assert paths(files) == ["ok.py"]
    assert reasons(report) == {"locked.py": "unreadable"}
    assert "ermission" in report.skips[0].detail


# --------------------------------------------------------------------------------------------------
# Archives as the root


def test_zip_root_read_in_memory(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "sub.zip",
        {"src/": "", "src/a.py": "a = 1\n", "README.md": "# r\n", "img.png": b"\x89PNG\x00\x00"},
    )
    before = listing(tmp_path)

    files, report = run(z)

    assert listing(tmp_path) == before  # nothing extracted to disk
    assert paths(files) == ["README.md", "src/a.py"]
    assert files[1].text == "a = 1\n" and files[1].sha256 == hashlib.sha256(b"a = 1\n").hexdigest()
    assert reasons(report) == {"img.png": "binary"}
    assert report.files_seen == 3  # the "src/" directory entry is not a file


@pytest.mark.parametrize(
    ("suffix", "mode"), [(".tar.gz", "w:gz"), (".tar.xz", "w:xz"), (".tar.bz2", "w:bz2"), (".tar", "w")]
)
def test_tar_roots_read_in_memory(tmp_path: Path, suffix: str, mode: str) -> None:
    t = make_tar(tmp_path / f"sub{suffix}", {"./pkg/z.py": "z = 1\n", "pkg/a.py": "a = 1\n", "b.txt": "b\n"}, mode)
    before = listing(tmp_path)

    files, report = run(t)

    assert listing(tmp_path) == before
    assert paths(files) == ["b.txt", "pkg/a.py", "pkg/z.py"]  # sorted, "./" stripped
    assert files[2].text == "z = 1\n"
    assert report.files_yielded == 3 and not report.skipped


def test_zip_hostile_member_names_skipped(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "evil.zip",
        {
            "../evil.py": "import os\n",
            "/abs.py": "x\n",
            "C:/win.py": "x\n",
            "a/../../up.py": "x\n",
            "..\\back.py": "x\n",
            "good/ok.py": "ok = True\n",
            "good/..data.py": "dots in a name are fine\n",
        },
    )

    files, report = run(z)

    assert paths(files) == ["good/..data.py", "good/ok.py"]
    assert reasons(report) == {
        "../evil.py": "archive-path-traversal",
        "a/../../up.py": "archive-path-traversal",
        "..\\back.py": "archive-path-traversal",
        "/abs.py": "archive-absolute-path",
        "C:/win.py": "archive-absolute-path",
    }
    evil = next(s for s in report.skips if s.path == "../evil.py")
    assert evil.detail == "member '../evil.py' escapes the archive root"
    assert not (tmp_path.parent / "evil.py").exists()


def test_tar_link_and_device_members_skipped(tmp_path: Path) -> None:
    t = tmp_path / "links.tar.gz"
    with tarfile.open(t, "w:gz") as tf:
        tar_add(tf, "real.py", "r = 1\n")
        sym = tarfile.TarInfo("sym.py")
        sym.type, sym.linkname = tarfile.SYMTYPE, "/etc/passwd"
        tf.addfile(sym)
        hard = tarfile.TarInfo("hard.py")
        hard.type, hard.linkname = tarfile.LNKTYPE, "real.py"
        tf.addfile(hard)
        dev = tarfile.TarInfo("dev")
        dev.type = tarfile.CHRTYPE
        tf.addfile(dev)

    files, report = run(t)

    assert paths(files) == ["real.py"]
    assert reasons(report) == {"sym.py": "archive-link", "hard.py": "archive-link", "dev": "archive-link"}
    sym_skip = next(s for s in report.skips if s.path == "sym.py")
    assert "symlink" in sym_skip.detail and "/etc/passwd" in sym_skip.detail


def test_zip_symlink_member_skipped(tmp_path: Path) -> None:
    z = tmp_path / "l.zip"
    with zipfile.ZipFile(z, "w") as zf:
        info = zipfile.ZipInfo("link.py")
        info.external_attr = (0o120777) << 16  # S_IFLNK
        zf.writestr(info, "/etc/passwd")
        zf.writestr("a.py", "a = 1\n")
    files, report = run(z)
    assert paths(files) == ["a.py"]
    assert reasons(report) == {"link.py": "archive-link"}


def test_zip_bomb_ratio_detected(tmp_path: Path) -> None:
    z = tmp_path / "bomb.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("zeros.txt", "w") as member:
            chunk = b"0" * (1024 * 1024)
            for _ in range(50):
                member.write(chunk)
        zf.writestr("fine.py", "fine = 1\n")

    files, report = run(z, max_file_bytes=1024)

    assert paths(files) == ["fine.py"]
    assert reasons(report) == {"zeros.txt": "archive-bomb"}  # named a bomb, not merely too large
    assert "52428800 bytes" in report.skips[0].detail and "limit 200:1" in report.skips[0].detail


def test_member_over_size_cap_is_too_large(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "s.zip", {"big.py": os.urandom(3000).hex(), "small.py": "s\n"})
    t = make_tar(tmp_path / "s.tar.gz", {"big.py": "y" * 5000, "small.py": "s\n"})
    for archive in (z, t):
        files, report = run(archive, max_file_bytes=4000)
        assert paths(files) == ["small.py"]
        assert reasons(report) == {"big.py": "too-large"}


def test_root_zip_over_total_cap_raises(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "t.zip", {f"m{i}.py": os.urandom(200).hex() for i in range(3)})  # 3 x 400 bytes
    with pytest.raises(WalkError, match=r"t\.zip.*exceeds the limit of 1000"):
        run(z, max_archive_total_bytes=1000)
    # just under the limit: fine
    files, _ = run(z, max_archive_total_bytes=1200)
    assert len(files) == 3


def test_root_tar_gz_over_total_cap_raises(tmp_path: Path) -> None:
    t = make_tar(tmp_path / "t.tar.gz", {f"m{i}.py": "x" * 400 for i in range(3)})
    with pytest.raises(WalkError, match=r"t\.tar\.gz.*exceeds the limit"):
        run(t, max_archive_total_bytes=1000)


def test_compressed_tar_counts_bytes_of_skipped_members(tmp_path: Path) -> None:
    # 3 MiB of zeros is skipped as too-large, but reaching the next member means decompressing it.
    t = make_tar(tmp_path / "t.tar.gz", {"huge.txt": b"0" * (3 * 1024 * 1024), "after.py": "a\n"})
    with pytest.raises(WalkError, match="exceeds the limit"):
        run(t, max_archive_total_bytes=1024 * 1024)


def test_root_archive_member_count_cap(tmp_path: Path) -> None:
    z = make_zip(tmp_path / "many.zip", {f"f{i}.py": "x\n" for i in range(11)})
    with pytest.raises(WalkError, match="11 members, over the limit of 10"):
        run(z, max_archive_members=10)
    t = make_tar(tmp_path / "many.tar", {f"f{i}.py": "x\n" for i in range(11)}, "w")
    with pytest.raises(WalkError, match="more than 10 members"):
        run(t, max_archive_members=10)


@pytest.mark.parametrize("name", ["bad.zip", "bad.tar.gz", "bad.tar"])
def test_corrupt_root_archive_raises(tmp_path: Path, name: str) -> None:
    bad = write(tmp_path, name, b"this is not an archive at all" * 20)
    with pytest.raises(WalkError, match=re.escape(f"{name}: not a readable zip/tar archive: ")):
        run(bad)


def test_truncated_tar_gz_root_raises(tmp_path: Path) -> None:
    good = make_tar(tmp_path / "full.tar.gz", {f"m{i}.py": os.urandom(3000).hex() for i in range(5)})
    cut = tmp_path / "cut.tar.gz"
    cut.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    with pytest.raises(WalkError, match=r"cut\.tar\.gz: not a readable zip/tar archive"):
        run(cut)


# --------------------------------------------------------------------------------------------------
# Archives inside a directory


def test_archive_inside_directory_yields_bang_paths(tmp_path: Path) -> None:
    write(tmp_path, "main.py")
    (tmp_path / "sub").mkdir()
    make_zip(tmp_path / "sub" / "x.zip", {"a.py": "a\n", "d/b.py": "b\n"})
    make_tar(tmp_path / "sub" / "y.tgz", {"c.py": "c\n"})

    files, report = run(tmp_path)

    assert paths(files) == ["main.py", "sub/x.zip!/a.py", "sub/x.zip!/d/b.py", "sub/y.tgz!/c.py"]
    assert files[1].text == "a\n"
    assert report.files_seen == 4 and not report.skipped  # expanded archives are not counted themselves


def test_corrupt_archive_in_directory_counted_and_walk_continues(tmp_path: Path) -> None:
    write(tmp_path, "a.py")
    write(tmp_path, "b/broken.zip", b"PK\x03\x04 garbage that is not a zip")
    write(tmp_path, "b/broken.tar.xz", b"\xfd7zXZ\x00 not really xz")
    write(tmp_path, "c.py")

    files, report = run(tmp_path)

    assert paths(files) == ["a.py", "c.py"]
    assert reasons(report) == {"b/broken.zip": "archive-corrupt", "b/broken.tar.xz": "archive-corrupt"}
    assert "not a readable zip/tar archive" in report.skips[0].detail
    assert_balanced(report)


def test_bomb_archive_in_directory_counted_and_walk_continues(tmp_path: Path) -> None:
    write(tmp_path, "a.py")
    make_zip(tmp_path / "big.zip", {f"m{i}.py": os.urandom(200).hex() for i in range(3)})
    write(tmp_path, "z.py")

    files, report = run(tmp_path, max_archive_total_bytes=1000)

    # members read before the limit was hit are kept; the archive is recorded as a bomb
    assert paths(files) == ["a.py", "big.zip!/m0.py", "big.zip!/m1.py", "z.py"]
    assert reasons(report) == {"big.zip": "archive-bomb"}
    assert "exceeds the limit of 1000" in report.skips[0].detail
    assert_balanced(report)


def test_nested_archive_counted_not_expanded(tmp_path: Path) -> None:
    inner = io.BytesIO()
    with zipfile.ZipFile(inner, "w") as zf:
        zf.writestr("inner.py", "i\n")
    z = make_zip(tmp_path / "outer.zip", {"inner.zip": inner.getvalue(), "deps/lib.tar.gz": b"x", "o.py": "o\n"})

    files, report = run(z)

    assert paths(files) == ["o.py"]
    assert reasons(report) == {"inner.zip": "nested-archive", "deps/lib.tar.gz": "nested-archive"}


def test_vendored_and_excluded_dirs_inside_archive_counted_once(tmp_path: Path) -> None:
    z = make_zip(
        tmp_path / "w.zip",
        {
            "node_modules/a/index.js": "1\n",
            "node_modules/b/index.js": "2\n",
            "node_modules/c.js": "3\n",
            "gen/x.py": "x\n",
            "src/app.py": "app\n",
            "third_party/lib.py": "lib\n",
        },
    )

    files, report = run(z, exclude=("gen/",))

    assert paths(files) == ["src/app.py", "third_party/lib.py"]
    assert reasons(report) == {"node_modules": "vendored", "gen": "excluded"}
    nm = next(s for s in report.skips if s.path == "node_modules")
    assert "not read (3 members)" in nm.detail
    assert_balanced(report)


# --------------------------------------------------------------------------------------------------
# Report


def test_report_to_dict_and_balance(tmp_path: Path) -> None:
    write(tmp_path, "ok.py")
    write(tmp_path, "bin.dat", b"\x00\x01")
    write(tmp_path, "odd.txt", b"\xff\xfeabc")  # UTF-16 BOM but an odd number of bytes: not text
    write(tmp_path, "lat.txt", b"caf\xe9\n")
    write(tmp_path, "node_modules/x.js")
    for i in range(205):
        write(tmp_path, f"many/f{i:03}.bin", b"\x00")

    files, report = run(tmp_path)
    d = report.to_dict()

    assert json.loads(json.dumps(d)) == d  # JSON-ready
    assert set(d) == {"files_seen", "files_yielded", "skipped", "warnings", "skips"}
    assert d["files_yielded"] == 2 == len(files)
    assert d["skipped"] == {"binary": 207, "vendored": 1}
    assert d["files_seen"] == 2 + 207 + 1
    assert d["warnings"] == {"latin-1-fallback": 1}
    assert len(d["skips"]) == 200  # capped in the summary ...
    assert len(report.skips) == 208  # ... but every skip is kept in the report
    assert d["skips"][0] == {"path": "bin.dat", "reason": "binary", "detail": report.skips[0].detail}
    odd = next(s for s in report.skips if s.path == "odd.txt")
    assert odd.reason == "binary" and "UTF-16" in odd.detail
    assert_balanced(report)


def test_stored_skips_capped_but_counting_continues(tmp_path: Path) -> None:
    z = tmp_path / "many.zip"
    with zipfile.ZipFile(z, "w") as zf:
        for i in range(10_005):
            zf.writestr(f"../x{i}.py", "")
    files, report = run(z, max_archive_members=20_000)
    assert files == []
    assert report.skipped == {"archive-path-traversal": 10_005}
    assert len(report.skips) == 10_000
    assert report.files_seen == 10_005


def test_is_archive() -> None:
    for name in ["a.zip", "A.ZIP", "x.tar", "x.tar.gz", "x.tgz", "x.tar.xz", "x.tar.bz2", "dir/x.zip"]:
        assert is_archive(name), name
    for name in ["a.py", "x.gz", "zip", "x.zip.py", "x.tar.gz.txt"]:
        assert not is_archive(name), name


def test_invalid_exclude_pattern_is_a_walk_error_naming_it(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    with pytest.raises(WalkError, match="invalid pattern"):
        list(walk(tmp_path, WalkOptions(exclude=("[z-a]",))))


def test_binary_behind_a_utf16_bom_is_binary(tmp_path):
    (tmp_path / "blob.dat").write_bytes(b"\xff\xfe" + b"\x00\x00\x01\x00" * 64)
    (tmp_path / "text.py").write_bytes("x = 1\n".encode("utf-16"))
    report = WalkReport()
    paths = [f.path for f in walk(tmp_path, WalkOptions(), report)]
    assert paths == ["text.py"]
    assert report.skipped["binary"] == 1
