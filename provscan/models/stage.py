"""The scan's model stage: model directories among the walked files, profiled and compared with the references.

Runs after the walk. Its candidates are the walked files named like model artifacts (config.json, tokenizer files,
*.safetensors, *.gguf, index files), whether the walk yielded them (text) or skipped them (binary, too large). Files
it reads successfully are claimed: the walk's and the parse stage's skips of them are withdrawn and they are counted
as analysed by this stage instead, once. A config.json that states no architecture is left to the other stages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from provscan.models.artifacts import find_artifacts
from provscan.models.compare import compare_profiles
from provscan.models.config_facts import nearest_families, reportable
from provscan.models.findings import ModelFinding, architecture_finding, comparison_findings
from provscan.models.profile import build_profile

CLAIMABLE_SKIPS = ("binary", "too-large")
MIN_CONFIG_FACTS = 3


@dataclass
class ModelReport:
    directory: str
    profile: dict
    families: list[dict]
    comparisons: list[dict]

    def to_dict(self) -> dict:
        return {"directory": self.directory, **self.profile, "nearest_families": self.families,
                "comparisons": self.comparisons}


@dataclass
class ModelStageResult:
    models: list[ModelReport] = field(default_factory=list)
    findings: list[ModelFinding] = field(default_factory=list)
    claimed: set[str] = field(default_factory=set)
    references: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def run_model_stage(target: Path, candidates: list[str], references: tuple[str, ...] | None = None
                    ) -> ModelStageResult:
    from provscan.models.refstore import load_references
    from provscan.walk import is_archive

    target = Path(target)
    root = target if target.is_dir() else target.parent
    result = ModelStageResult()
    if not target.is_dir():
        if is_archive(str(target)):  # archive members are not analysed (they stay skipped)
            return result
        candidates = [target.name] if target.name in {PurePosixPath(c).name for c in candidates} else []
    groups = find_artifacts(candidates)
    if not groups:
        return result
    loaded, result.problems = load_references(references)
    result.references = sorted(loaded)
    for group in groups:
        profile = build_profile(group.label, root, group)
        if profile.weights is None and profile.tokenizer is None and len(profile.facts) < MIN_CONFIG_FACTS:
            continue  # not a model directory (a config.json of something else)
        result.claimed.update(profile.files)
        families = nearest_families(profile.facts) if len(profile.facts) >= MIN_CONFIG_FACTS else []
        if families and reportable(families[0]) and profile.config_path:
            result.findings.append(architecture_finding(group.label, profile.config_path, families[0]))
        weights_path = (profile.weights.files[0] if profile.weights and profile.weights.files
                        else group.index or (group.safetensors or [group.label])[0])
        comparisons = []
        for _name, reference in sorted(loaded.items()):
            comparison = compare_profiles(profile, reference)
            comparisons.append(comparison.to_dict())
            tokenizer_path = profile.tokenizer.path if profile.tokenizer else None
            result.findings.extend(comparison_findings(group.label, weights_path, tokenizer_path, comparison))
        result.models.append(ModelReport(group.label, profile.summary(), [f.to_dict() for f in families],
                                         comparisons))
    return result


def claim_files(walk_report, parse_skips: list, claimed: set[str]) -> list:
    """Withdraw the walk's and parse stage's skips of files the model stage analysed; return the parse skips left.

    A file the walk skipped (binary, too large) is counted as yielded instead, so that files_seen still equals
    files_yielded plus the skips.
    """
    if not claimed:
        return parse_skips
    kept = []
    for skip in walk_report.skips:
        if skip.path in claimed and skip.reason in CLAIMABLE_SKIPS:
            walk_report.skipped[skip.reason] -= 1
            if not walk_report.skipped[skip.reason]:
                del walk_report.skipped[skip.reason]
            walk_report.files_yielded += 1
        else:
            kept.append(skip)
    walk_report.skips[:] = kept
    return [skip for skip in parse_skips if skip.path not in claimed]


def scan_models(target, references: tuple[str, ...] | None, yielded: list[str], walk_report, parse_skips: list
                ) -> tuple[ModelStageResult | None, list]:
    """The scan's entry point: run the stage on the walk's candidates, claim what it read, note its problems."""
    candidates = list(yielded) + [s.path for s in walk_report.skips if s.reason in CLAIMABLE_SKIPS]
    stage = run_model_stage(Path(target), candidates, references)
    if not stage.models and not stage.problems:
        return (stage if stage.models else None), parse_skips
    for problem in stage.problems:
        walk_report.add_warning(str(target), "model-reference-unavailable", problem)
    for model in stage.models:
        for error in model.profile["errors"]:
            path, _, detail = error.partition(": ")
            walk_report.add_warning(path, "model-file-error", detail)
    return stage, claim_files(walk_report, parse_skips, stage.claimed)
