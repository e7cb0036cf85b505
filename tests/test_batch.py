"""Batch scans: many submissions in parallel, ranked, compared with each other, resumable, broken ones reported."""

from __future__ import annotations

import importlib.util
import json
import time
import zipfile
from pathlib import Path

import pytest

from tests.conftest import copy_models, transformers_models
from tests.processes import freeze, interrupt_frozen, start
from tests.test_cli import provscan

REPO = Path(__file__).resolve().parent.parent


def model_class(folder: str, name: str, rename: tuple[str, str]) -> str:
    text = (transformers_models() / folder / f"modeling_{folder}.py").read_text(encoding="utf-8")
    start = text.index(f"class {name}")
    return text[start : text.index("\n\n\n", start)].replace(*rename)


@pytest.fixture()
def batch(tmp_path) -> Path:
    """Five submissions: two entrants sharing original code, one copying GLM, a clean one, a corrupt archive and
    an archive with a bomb member; corpus 'glm' = glm4_moe."""
    source = copy_models(tmp_path / "corpus", ["glm4_moe"])
    done = provscan("corpus", "add", "glm", str(source), "--split-projects", "--jobs", "1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    root = tmp_path / "batch"
    # Original (non-corpus) code that entrant "bravo" took from entrant "alpha", renamed: provscan's own walker.
    shared = (REPO / "provscan" / "ignore.py").read_text(encoding="utf-8")
    (root / "alpha").mkdir(parents=True)
    (root / "alpha" / "filters.py").write_text(shared)
    (root / "alpha" / "router.py").write_text(
        "import torch\nfrom torch import nn\n\n\n" + model_class("glm4_moe", "Glm4MoeTopkRouter", ("Glm4Moe", "A"))
        + "\n"
    )
    (root / "bravo").mkdir()
    (root / "bravo" / "paths.py").write_text(shared.replace("PathFilter", "Gate").replace("report", "log"))
    (root / "charlie").mkdir()
    (root / "charlie" / "mine.py").write_text((REPO / "provscan" / "rulesdata.py").read_text(encoding="utf-8"))
    (root / "delta.zip").write_bytes(b"PK\x03\x04 this is not really a zip archive" * 20)
    with zipfile.ZipFile(root / "echo.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("echo/zeros.py", b"\0" * 30_000_000)  # compresses ~1000:1: an archive bomb
        archive.writestr("echo/main.py", model_class("glm4_moe", "Glm4MoeExperts", ("Glm4Moe", "E")))
    (root / "README.txt").write_text("submissions of the autumn round\n")
    return root


def test_batch_ranks_reports_and_compares_submissions(batch, tmp_path):
    out = tmp_path / "out"
    done = provscan("batch", str(batch), "--corpus", "glm", "--jobs", "2", "-o", str(out), "--no-license-detection",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "5 submission(s)" in done.stdout and "1 could not be scanned" in done.stdout
    assert "delta.zip" in done.stderr and "not a readable zip/tar archive" in done.stderr
    index = json.loads((out / "index.json").read_text())
    assert index["not_submissions"] == ["README.txt"]
    ranking = [s["name"] for s in index["ranking"]]
    assert ranking[0] == "delta.zip"  # broken: nobody has looked at it yet
    assert index["ranking"][0]["status"] == "error"
    ok = {s["name"]: s for s in index["ranking"] if s["status"] == "ok"}
    assert set(ok) == {"alpha", "bravo", "charlie", "echo.zip"}
    assert ok["alpha"]["findings"]["high"] >= 1 and ok["echo.zip"]["findings"]["high"] >= 1
    assert sum(ok["charlie"]["findings"].values()) == 0
    assert ranking.index("charlie") > max(ranking.index("alpha"), ranking.index("echo.zip"))

    has_html = importlib.util.find_spec("provscan.html_report") is not None
    for name in ok:  # per-submission reports, as `provscan scan --format json` (and --html) write them
        report = json.loads((out / "submissions" / name / "report.json").read_text())
        assert report["schema"] == "provscan-scan-result/1"
        assert (out / "submissions" / name / "report.html").exists() == has_html
        assert "html_error" not in ok[name]
    echo = json.loads((out / "submissions" / "echo.zip" / "report.json").read_text())
    assert echo["summary"]["skipped"].get("archive-bomb") == 1  # the bomb member is reported, the rest scanned
    assert any(f["location"]["path"] == "echo/main.py" for f in echo["findings"])

    pairs = {(p["a"], p["b"]): p for p in index["pairs"]}
    assert list(pairs)[0] == ("alpha", "bravo")  # the copied original code ranks first
    pair = pairs[("alpha", "bravo")]
    assert pair["unexplained_lines"] > 100
    evidence = pair["evidence"][0]
    assert (evidence["path"], evidence["other_path"]) == ("filters.py", "paths.py")
    assert not evidence["via_corpus"] and evidence["blocks"]
    # every pair that shares anything has a similarity, findings or not; the copy is far above the rest
    similarity = pair["similarity"]
    assert similarity["score"] > 0.5 and similarity["file_pairs"][0]["path"] == "filters.py"
    assert similarity["file_pairs"][0]["other_path"] == "paths.py"
    others = [p for key, p in pairs.items() if "charlie" in key]
    assert all(p["fragments"] == 0 and p["similarity"]["score"] < similarity["score"] / 2 for p in others)
    html = (out / "index.html").read_text()
    assert "submissions/alpha/report.json" in html and "filters.py" in html and "delta.zip" in html


def test_shared_corpus_code_is_labelled_via_the_corpus(batch, tmp_path):
    (batch / "bravo" / "router.py").write_text((batch / "alpha" / "router.py").read_text())
    out = tmp_path / "out"
    done = provscan("batch", str(batch), "--corpus", "glm", "--jobs", "1", "-o", str(out), "--no-license-detection",
                    cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    pair = next(p for p in json.loads((out / "index.json").read_text())["pairs"] if (p["a"], p["b"]) == ("alpha",
                                                                                                          "bravo"))
    routers = [e for e in pair["evidence"] if e["path"] == "router.py"]
    assert routers and all(e["via_corpus"] for e in routers)
    assert pair["unexplained_lines"] < pair["lines_a"]
    # the pair similarity leaves out what the corpus explains: the two identical router files share nothing else
    closest = {(fp["path"], fp["other_path"]): fp["score"] for fp in pair["similarity"]["file_pairs"]}
    assert closest.get(("router.py", "router.py"), 0.0) < 0.5 < closest[("filters.py", "paths.py")], closest


def test_a_rerun_skips_unchanged_submissions_and_rescans_changed_ones(batch, tmp_path):
    out = tmp_path / "out"
    args = ("batch", str(batch), "--corpus", "glm", "--jobs", "1", "-o", str(out), "--no-license-detection")
    assert provscan(*args, cwd=tmp_path).returncode == 0
    first = {s["name"]: s for s in json.loads((out / "index.json").read_text())["ranking"]}
    again = provscan(*args, cwd=tmp_path)
    assert "(5 unchanged, not rescanned" in again.stdout, again.stdout
    (batch / "charlie" / "more.py").write_text((transformers_models() / "glm4_moe" / "modeling_glm4_moe.py")
                                               .read_text(encoding="utf-8"))
    changed = provscan(*args, cwd=tmp_path)
    assert "(4 unchanged, not rescanned" in changed.stdout, changed.stdout
    second = {s["name"]: s for s in json.loads((out / "index.json").read_text())["ranking"]}
    assert second["charlie"]["findings"]["high"] > 0 and not second["charlie"].get("resumed")
    assert second["alpha"]["finished_at"] == first["alpha"]["finished_at"] and second["alpha"]["resumed"]
    other_settings = provscan(*args, "--min-similarity", "0.9", cwd=tmp_path)
    assert "(0 unchanged" in other_settings.stdout  # other settings: every submission is scanned again


def test_an_interrupted_batch_keeps_every_finished_submission(batch, tmp_path):
    for number in range(6):  # more work, so the interruption lands mid-batch
        (batch / f"extra{number}").mkdir()
        (batch / f"extra{number}" / "model.py").write_text(
            (transformers_models() / "glm4_moe" / "modeling_glm4_moe.py").read_text(encoding="utf-8")
        )
    out = tmp_path / "out"
    args = ["batch", str(batch), "--corpus", "glm", "--jobs", "1", "-o", str(out)]
    process = start(*args, cwd=tmp_path)
    while not list(out.glob("submissions/*/status.json")):  # a submission has finished: an observable state
        assert process.poll() is None, process.communicate()
        time.sleep(0.05)
    freeze(process)  # so that the batch cannot finish while the test looks
    before = {p.parent.name for p in out.glob("submissions/*/status.json")}
    assert len(before) < 11 and process.poll() is None, "the batch finished before it could be interrupted"
    interrupt_frozen(process)
    _, stderr = process.communicate()
    finished = {p.parent.name for p in out.glob("submissions/*/status.json")}
    assert before <= finished, stderr
    assert process.returncode == 130, stderr
    assert f"{len(finished)} finished submission(s) kept" in stderr and "Traceback" not in stderr
    resumed = provscan(*args, cwd=tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert f"({len(finished)} unchanged, not rescanned" in resumed.stdout, (finished, resumed.stdout)
    index = json.loads((out / "index.json").read_text())
    assert {s["name"] for s in index["ranking"] if s.get("resumed")} == finished
    assert len(index["ranking"]) == 11


def test_a_list_file_names_submissions_and_a_missing_one_is_reported(batch, tmp_path):
    listing = tmp_path / "round.txt"
    listing.write_text(f"# autumn round\n{batch / 'alpha'}\n\n{batch / 'charlie'}\n{batch / 'gone'}\nbatch/alpha\n")
    out = tmp_path / "out"
    done = provscan("batch", str(listing), "--corpus", "glm", "--jobs", "1", "-o", str(out), "--no-cross",
                    "--no-license-detection", "--fail-on", "high", cwd=tmp_path)
    assert done.returncode == 1, done.stderr  # alpha has a high finding
    index = json.loads((out / "index.json").read_text())
    status = {s["name"]: s for s in index["ranking"]}
    assert set(status) == {"alpha", "charlie", "gone", "alpha-2"}  # same folder name twice: both kept apart
    assert status["gone"]["status"] == "error" and "does not exist" in status["gone"]["error"]
    assert status["alpha-2"]["findings"] == status["alpha"]["findings"]
    assert index["pairs"] == []
