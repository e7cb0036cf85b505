"""End to end on real code: mutated transformers modeling files scanned against corpora built in the test."""

from __future__ import annotations

import shutil
import sysconfig
from pathlib import Path

import pytest

from provscan.corpus import add_corpus, list_corpora, remove_corpus
from provscan.scan import ScanSettings, scan
from tests.conftest import copy_models, transformers_models
from tests.mutate import code_tokens, definitions, mutate

SOURCES = {
    "qwen2/modeling_qwen2.py": {"Qwen2": "Zeta", "hidden_states": "hs", "attention_mask": "amask", "config": "cfg"},
    "glm4_moe/modeling_glm4_moe.py": {"Glm4Moe": "Orion", "hidden_states": "x", "residual": "skip"},
    "deepseek_v3/modeling_deepseek_v3.py": {"DeepseekV3": "Abyss", "hidden_states": "hs", "topk": "kbest"},
}
RELATIVES = ["llama", "mistral", "qwen3"]  # share code with the sources (true clones, grouped as "also in")
UNRELATED = ["bert", "gpt2", "vit", "wav2vec2", "clip"]
MIN_TOKENS = 50  # smaller definitions may fall under the trivial-match floor (30 shared 9-token shingles)


@pytest.fixture(scope="module")
def submission(tmp_path_factory) -> tuple[Path, dict]:
    """A submission of three mutated modeling files, with the expected source of every definition."""
    root = tmp_path_factory.mktemp("submission")
    expected = {}
    for seed, (relative, renames) in enumerate(SOURCES.items()):
        original = (transformers_models() / relative).read_text(encoding="utf-8")
        mutated, mapping = mutate(original, renames, seed=seed)
        name = relative.split("/")[0] + "_model.py"
        (root / "src").mkdir(exist_ok=True)
        (root / "src" / name).write_text(mutated, encoding="utf-8")
        expected[f"src/{name}"] = (relative, definitions(original), definitions(mutated), mapping)
    return root, expected


def _build(tmp_path: Path, folders: list[str], name: str = "models") -> None:
    source = copy_models(tmp_path / f"corpus-{name}", folders)
    report = add_corpus(name, source, split_projects=True, jobs=1)
    assert report.files_indexed > 0


def _locations(result) -> dict[tuple[str, int, int], tuple]:
    """(path, start, end) of every reported submission fragment (own findings and folded members)."""
    return {f.span: (f.source, f.also_in) for finding in result.code_findings for f in finding.fragments()}


def test_each_mutated_definition_maps_to_its_true_source_lines(tmp_path, submission):
    root, expected = submission
    _build(tmp_path, [r.split("/")[0] for r in SOURCES] + RELATIVES + UNRELATED)
    result = scan(root, ScanSettings(corpora=("models",), jobs=1))
    found = _locations(result)
    original_text = {r: (transformers_models() / r).read_text(encoding="utf-8") for r in SOURCES}
    checked = 0
    for path, (relative, original_defs, mutated_defs, mapping) in expected.items():
        for qualname, mutated in mutated_defs.items():
            original = original_defs[mapping[qualname]]
            if code_tokens(original_text[relative], original) < MIN_TOKENS:
                continue
            assert (path, mutated.start_line, mutated.end_line) in found, f"{path}: {qualname} not reported"
            source, _also = found[(path, mutated.start_line, mutated.end_line)]
            assert source.path == relative, f"{qualname} attributed to {source.path}"
            assert (source.start_line, source.end_line) == (original.start_line, original.end_line), qualname
            checked += 1
    assert checked >= 80
    # Each whole file is recognised as a copy of its source file, with high severity.
    files = {f.path: f for f in result.code_findings if f.fragment_kind == "file"}
    assert {p: files[p].source.path for p in expected} == {p: e[0] for p, e in expected.items()}
    assert all(files[p].severity == "high" for p in expected)
    assert result.coverage.matched_lines / result.coverage.code_lines > 0.9


def test_evidence_blocks_point_at_the_same_code_on_both_sides(tmp_path, submission):
    root, expected = submission
    _build(tmp_path, ["qwen2"])
    result = scan(root, ScanSettings(corpora=("models",), jobs=1))
    finding = next(f for f in result.code_findings if f.path == "src/qwen2_model.py")
    source_lines = (transformers_models() / "qwen2/modeling_qwen2.py").read_text(encoding="utf-8").splitlines()
    submission_lines = (root / "src/qwen2_model.py").read_text(encoding="utf-8").splitlines()
    member = next(m for m in finding.members if m.name == "repeat_kv")
    block = max(member.evidence, key=lambda b: b.shingles)
    # The block's last line on both sides is the same statement (identifiers renamed, layout changed).
    assert source_lines[block.src_end - 1].strip().startswith("return hidden_states.reshape")
    assert submission_lines[block.sub_end - 1].strip().startswith("return hs.reshape")


def test_duplicated_corpus_code_is_one_finding_with_also_in(tmp_path):
    # rotate_half / repeat_kv recur verbatim in llama, mistral, qwen2 and qwen3: one finding each, grouped.
    submission = tmp_path / "sub"
    submission.mkdir()
    text = (transformers_models() / "qwen2/modeling_qwen2.py").read_text(encoding="utf-8")
    defs = definitions(text)
    lines = text.splitlines()
    picked = [defs[name] for name in ("repeat_kv", "rotate_half")]
    (submission / "util.py").write_text(
        "import torch\n\n\n" + "\n\n\n".join("\n".join(lines[d.start_line - 1 : d.end_line]) for d in picked) + "\n"
    )
    _build(tmp_path, ["qwen2", "llama", "mistral", "qwen3"])
    result = scan(submission, ScanSettings(corpora=("models",), jobs=1))
    by_name = {f.fragment_name: f for f in result.code_findings if f.fragment_kind == "function"}
    assert set(by_name) == {"repeat_kv", "rotate_half"}
    for finding in by_name.values():
        projects = {finding.source.project} | {a.source.project for a in finding.also_in}
        assert {"llama", "mistral", "qwen2", "qwen3"} <= projects
        assert finding.also_in_total == len(finding.also_in) >= 3


def test_corpus_without_the_sources_gives_no_false_match(tmp_path, submission):
    # Other transformers models are not independent of Qwen2 (they share HF's attention and LM-head code, which
    # provscan rightly reports), so the source-free corpus is real, unrelated code: stdlib packages.
    root, _expected = submission
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    corpus = tmp_path / "stdlib"
    for package in ("email", "json", "http", "logging", "concurrent", "xml", "importlib"):
        shutil.copytree(stdlib / package, corpus / package, ignore=shutil.ignore_patterns("__pycache__"))
    assert add_corpus("models", corpus, split_projects=True, jobs=1).files_indexed > 50
    result = scan(root, ScanSettings(corpora=("models",), jobs=1))
    assert result.code_findings == []
    assert result.coverage.matched_lines == 0


@pytest.mark.parametrize("package", ["click", "rich", "pathspec"])
def test_unrelated_real_project_stays_clean(tmp_path, package):
    _build(tmp_path, [r.split("/")[0] for r in SOURCES] + RELATIVES + UNRELATED)
    result = scan(Path(sysconfig.get_paths()["purelib"]) / package, ScanSettings(corpora=("models",), jobs=1))
    assert len(result.files) > 5
    assert result.code_findings == []


def test_re_adding_unchanged_corpus_costs_nothing_and_changes_are_picked_up(tmp_path):
    source = copy_models(tmp_path / "c", ["qwen2", "llama"])
    first = add_corpus("m", source, jobs=1)
    assert first.files_indexed >= 4 and first.files_unchanged == 0
    again = add_corpus("m", source, jobs=1)
    assert (again.files_indexed, again.files_removed, again.files_unchanged) == (0, 0, first.files_indexed)
    (source / "llama" / "modeling_llama.py").write_text("def replaced():\n    return 1\n")
    (source / "qwen2" / "modular_qwen2.py").unlink()
    third = add_corpus("m", source, jobs=1)
    assert (third.files_indexed, third.files_removed) == (1, 1)
    info = {i.name: i for i in list_corpora()}["m"]
    assert info.stats["files"] == first.files_indexed - 1
    remove_corpus("m")
    assert list_corpora() == []


def test_scan_of_an_archive_submission(tmp_path, submission):
    import tarfile

    root, expected = submission
    _build(tmp_path, ["qwen2"])
    archive = tmp_path / "submission.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(root / "src", arcname="src")
    result = scan(archive, ScanSettings(corpora=("models",), jobs=1))
    assert any(
        f.path == "src/qwen2_model.py" and f.source.path == "qwen2/modeling_qwen2.py" for f in result.code_findings
    )


def test_an_embedded_build_is_invisible_until_it_commits_and_a_failed_one_leaves_the_previous_version(
        tmp_path, isolated_cache):
    from provscan.corpus import corpus_exists, open_corpus

    settings = ScanSettings(corpora=("models",), jobs=1, license_detection=False, model_analysis=False)
    demo = Path(__file__).resolve().parent.parent / "examples" / "demo-submission"

    def findings() -> list[str]:
        return [f.id for f in scan(demo, settings).code_findings]

    add_corpus("models", copy_models(tmp_path / "v1", ["qwen2"]), split_projects=True, jobs=1)
    before = findings()
    with open_corpus("models") as index:
        stats_before = index.stats()
    reader = open_corpus("models")  # a scan that opened the corpus before the rebuild below
    update = copy_models(tmp_path / "v2", ["qwen2", "glm4_moe", "solar_open"])
    seen = []

    def look(done: int, total: int) -> None:
        if done == total - 1:  # all but the last file written to the build's private copy
            with open_corpus("models") as index:
                seen.append(index.stats())
            seen.append(findings())

    add_corpus("models", update, split_projects=True, jobs=1, progress=look)
    assert seen == [stats_before, before]
    assert findings() != before and reader.stats() == stats_before  # the early reader keeps its version
    reader.close()
    checks = []
    add_corpus("fresh", tmp_path / "v1", jobs=1, progress=lambda done, total: checks.append(corpus_exists("fresh")))
    assert checks and not any(checks) and corpus_exists("fresh")

    # A build that fails half-way leaves the committed version and no staging file; one left by a build that was
    # killed outright (this file stands for it) is collected by the next build.
    after = findings()

    def crash(done: int, total: int) -> None:
        if done == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        add_corpus("models", copy_models(tmp_path / "v3", ["llama"]), split_projects=True, jobs=1, progress=crash)
    assert findings() == after
    corpora = isolated_cache / "corpora"
    assert not [p for p in corpora.iterdir() if ".build-" in p.name]
    (corpora / "models.sqlite.build-1-deadbeef").write_bytes(b"left by a killed build")
    add_corpus("models", update, split_projects=True, jobs=1)
    assert findings() == after and not [p for p in corpora.iterdir() if ".build-" in p.name]


def test_a_flat_folder_of_model_files_splits_into_one_project_per_file(tmp_path):
    """Inference engines keep one file per model in one folder (`models/llama.py`, `models/qwen2.py`): with
    --split-projects each such file is a project, named after it, as each folder of transformers is."""
    from provscan.corpus import open_corpus

    models = transformers_models()
    flat = tmp_path / "engine-models"
    flat.mkdir()
    shutil.copy(models / "llama" / "modeling_llama.py", flat / "llama.py")
    shutil.copy(models / "qwen2" / "modeling_qwen2.py", flat / "modeling_qwen2.py")
    (flat / "__init__.py").write_text("from .llama import *\n")
    copy_models(flat, ["mistral"])  # a folder beside the files is a project too
    add_corpus("engine", flat, split_projects=True, jobs=1)
    with open_corpus("engine") as index:
        projects = {project for project, _files, _lines in index.projects()}
    assert projects == {"llama", "qwen2", "mistral", "engine"}  # __init__.py belongs to the corpus itself
