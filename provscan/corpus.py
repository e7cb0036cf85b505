"""Corpora of known open-source code: build, update, list, remove, open.

A corpus is a named index in the configured storage (`store`: a SQLite file in the cache directory, or Redis).
The default corpus is the `models/` folder of the installed `transformers` wheel, read from disk (never imported):
one project per model folder. Re-adding a corpus
only re-processes files whose content hash changed, and drops files that disappeared.
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from provscan import common_code
from provscan.common_code import common_literals, common_shingles
from provscan.diagnostics import reading
from provscan.fingerprint import AnalysisJob, FingerprintedFile, FingerprintSettings, analyse
from provscan.index import SCHEMA_VERSION, CorpusIndexError, FileRecord, FragmentRecord
from provscan.lineage import Lineage, defined_names, inherit_from_modular, lineage_of, model_name
from provscan.notices import header_notices, is_copyright_line
from provscan.parallel import parallel_map
from provscan.store import (
    EmbeddedStorage,
    IndexStore,
    Storage,
    WaitNotice,
    WritableIndexStore,
    index_url,
    select_storage,
)
from provscan.walk import Skip, WalkOptions, WalkReport, walk

DEFAULT_CORPUS = "transformers"
NORMALISER_VERSION = 1
DEFAULT_MIN_TOKENS = 30
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

ProgressCallback = Callable[[int, int], None]  # (done, total)


class CorpusError(Exception):
    """A corpus operation that cannot go ahead; the message names the corpus or path and the problem."""


def cache_dir() -> Path:
    """Where corpora live: $PROVSCAN_CACHE_DIR, else the platform's user cache directory."""
    override = os.environ.get("PROVSCAN_CACHE_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir("provscan"))


def corpus_path(name: str) -> Path:
    if not _NAME_RE.match(name):
        raise CorpusError(f"invalid corpus name {name!r}: use letters, digits, '.', '_' or '-' (max 64)")
    return cache_dir() / "corpora" / f"{name}.sqlite"


def storage() -> Storage:
    """Where corpora live: the index named by `--index`/$PROVSCAN_INDEX (Redis), else SQLite files in the cache."""
    return select_storage(index_url(), cache_dir() / "corpora")


def _index_errors(function):
    """Storage failures (an unreachable Redis, a corpus locked by another build) as CorpusError, for the CLI."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except CorpusIndexError as error:
            raise CorpusError(str(error)) from error

    return wrapper


@dataclass
class BuildReport:
    """What a build did, for the CLI to print and tests to check."""

    corpus: str
    files_indexed: int = 0
    files_unchanged: int = 0
    files_removed: int = 0
    fragments: int = 0
    skipped: Counter = field(default_factory=Counter)  # parse-stage skips by reason (walk skips are in `walk`)
    skips: list[Skip] = field(default_factory=list)
    walk: WalkReport = field(default_factory=WalkReport)
    distinct_contents: int = 0  # distinct fragment contents in the whole corpus after the build
    common_shingles: int = 0  # shingles too common across them to count as evidence (`common_code`)...
    common_threshold: int = 0  # ...because found in at least this many of them
    seconds: float = 0.0


@dataclass
class CorpusInfo:
    name: str
    path: Path | str  # the SQLite file, or where in a shared index
    meta: dict[str, str]
    stats: dict[str, int]


def default_corpus_source() -> tuple[Path, str]:
    """The installed transformers `models/` folder and transformers' version, found without importing it."""
    from importlib import metadata

    try:
        dist = metadata.distribution("transformers")
    except metadata.PackageNotFoundError as error:
        raise CorpusError("the default corpus needs the 'transformers' package installed (pip install .)") from error
    models = Path(str(dist.locate_file("transformers/models")))
    if not models.is_dir():
        raise CorpusError(f"{models}: transformers is installed but has no models/ folder")
    return models, dist.version


def _project_per_top_dir(fallback: str) -> Callable[[str], str]:
    """Each top-level directory is a project (transformers: a folder per model), and so is each top-level file,
    named after its stem without `modeling_`/`modular_` (inference engines: a flat folder with a file per model,
    `llama.py`, `qwen2.py`); a top-level `__init__.py` belongs to the corpus itself (`fallback`)."""
    def project_of(path: str) -> str:
        parts = PurePosixPath(path).parts
        if len(parts) > 1:
            return parts[0]
        stem = model_name(PurePosixPath(path).stem)
        return fallback if stem in ("", "__init__") else stem

    return project_of


@_index_errors
def build_corpus(
    name: str,
    source: Path,
    *,
    project_of: Callable[[str], str] | None = None,
    path_prefix: str = "",
    description: str = "",
    version: str = "",
    settings: FingerprintSettings | None = None,
    min_tokens: int = DEFAULT_MIN_TOKENS,
    jobs: int | None = None,
    walk_options: WalkOptions | None = None,
    progress: ProgressCallback | None = None,
    on_wait: WaitNotice | None = None,
    unless_current: bool = False,
) -> BuildReport | None:
    """Create or update corpus `name` from `source` (directory, file or archive).

    Builds of one corpus take turns (`Storage.build_lock`; `on_wait` is told when this one must wait). With
    `unless_current`, nothing is built when, once it is this build's turn, the corpus is there and current (another
    process built it meanwhile): None is returned.
    """
    settings = settings or FingerprintSettings()
    project_of = project_of or (lambda _path: name)
    corpus_path(name)  # checks the name
    store = storage()
    source = Path(source)
    if not source.exists():
        raise CorpusError(f"{source}: no such file or directory")
    with store.build_lock(name, on_wait):
        if unless_current and _stored_is_current(store, name):
            return None
        return _build_locked(store, name, source, project_of, path_prefix, description, version, settings,
                             min_tokens, jobs, walk_options, progress)


def _build_locked(store: Storage, name: str, source: Path, project_of: Callable[[str], str], path_prefix: str,
                  description: str, version: str, settings: FingerprintSettings, min_tokens: int, jobs: int | None,
                  walk_options: WalkOptions | None, progress: ProgressCallback | None) -> BuildReport:
    started = time.perf_counter()
    report = BuildReport(corpus=name)
    expected = _settings_meta(settings, min_tokens)
    # Fingerprints made with other settings are not comparable: start afresh rather than mix them.
    fresh = store.exists(name) and _stored_settings(store, name) != expected
    with store.open_writer(name, fresh=fresh) as index:
        known = index.file_hashes()
        seen: set[str] = set()
        jobs_todo: list[AnalysisJob] = []
        texts: dict[str, tuple[str, str]] = {}
        with reading(str(source)):
            for source_file in walk(source, walk_options or WalkOptions(), report.walk):
                stored_path = path_prefix + source_file.path
                seen.add(stored_path)
                if known.get(stored_path) == source_file.sha256:
                    report.files_unchanged += 1
                    continue
                texts[stored_path] = (source_file.sha256, source_file.text)
                jobs_todo.append(AnalysisJob(stored_path, source_file.text, settings, min_tokens))
        for vanished in set(known) - seen:
            index.remove_file(vanished)
            report.files_removed += 1

        references = _generated_from(texts)
        lineages = _lineages(texts, references, _by_file_name(seen), project_of,
                             lambda path: _read_source(source, path, path_prefix))
        total = len(jobs_todo)
        generated: dict[str, str] = {}  # stored path -> the file it was generated from, when it has no notice
        for done, result in enumerate(parallel_map(analyse, jobs_todo, jobs), start=1):
            if isinstance(result, Skip):
                report.skipped[result.reason] += 1
                report.skips.append(result)
            else:
                with reading(str(source / result.normalised.path.removeprefix(path_prefix))):
                    sha256, text = texts.pop(result.normalised.path)
                    record = _file_record(result, project_of, sha256, text)
                    record.lineage = lineages.get(record.path, {})
                    if record.path in references and not _has_copyright(record.notices):
                        generated[record.path] = references[record.path]
                    index.add_file(record)
                report.files_indexed += 1
                report.fragments += len(record.fragments)
            if progress:
                progress(done, total)
        _inherit_notices(index, generated)
        bands, rows = settings.bands_rows
        common, report.distinct_contents, report.common_threshold = common_shingles(
            ((fragment.content_hash, codes[fragment.tok_start : fragment.tok_end])
             for fragment, codes in index.all_fragments() if fragment.kind != "file"),
            settings.k,
        )
        report.common_shingles = int(common.size)
        common_strings = common_literals(index.all_literals())
        index.set_meta(
            {
                **expected,
                common_code.META_KEY: common_code.encode(common),
                common_code.LITERALS_META_KEY: common_code.encode(common_strings),
                "common_threshold": report.common_threshold,
                "name": name,
                "source": str(source),
                "description": description,
                "version": version,
                "bands": bands,
                "rows": rows,
                "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            }
        )
        index.commit()
    report.seconds = time.perf_counter() - started
    return report


_GENERATED_FROM = re.compile(r"automatically generated from\s+(\S+\.py)", re.IGNORECASE)


def _generated_from(texts: dict[str, tuple[str, str]]) -> dict[str, str]:
    """Stored path -> the file its header says it was generated from (transformers' modular converter)."""
    references = {}
    for path, (_sha, text) in texts.items():
        found = _GENERATED_FROM.search(text[:2000])
        if found:
            references[path] = found.group(1)
    return references


def _by_file_name(paths: Iterable[str]) -> dict[str, list[str]]:
    by_name: dict[str, list[str]] = defaultdict(list)
    for path in paths:
        by_name[path.rsplit("/", 1)[-1]].append(path)
    return by_name


def _file_named_by(reference: str, path: str, by_name: dict[str, list[str]]) -> str | None:
    """The stored file a generated file's header names (`src/transformers/models/x/modular_x.py` -> the stored
    `x/modular_x.py`), other than the generated file itself."""
    return next((p for p in by_name.get(reference.rsplit("/", 1)[-1], [])
                 if p != path and (reference == p or reference.endswith("/" + p))), None)


def _lineages(texts: dict[str, tuple[str, str]], references: dict[str, str], by_name: dict[str, list[str]],
              project_of: Callable[[str], str], read_unchanged: Callable[[str], str | None]) -> dict[str, Lineage]:
    """Lineage edges (provscan.lineage) of every file to be indexed; a generated file adds its modular file's,
    which is read from the source when it is unchanged since the last build (not among `texts`)."""
    own = {path: lineage_of(path, text, project_of) for path, (_sha, text) in texts.items()}
    lineages = dict(own)
    defined: dict[str, set[str]] = defaultdict(set)  # project -> names its files define at the top level
    for path, (_sha, text) in texts.items():
        defined[project_of(path)].update(defined_names(text))

    def defines(project: str, name: str) -> bool:
        # a project none of whose files is being indexed (unchanged since the last build) is taken at its word
        return project not in defined or name in defined[project]

    for path, reference in references.items():
        modular = _file_named_by(reference, path, by_name)
        if modular is None:
            continue
        modular_text = texts[modular][1] if modular in texts else read_unchanged(modular)
        if modular_text is not None:
            modular_lineage = own[modular] if modular in own else lineage_of(modular, modular_text, project_of)
            lineages[path] = inherit_from_modular(texts[path][1], own[path], modular_text, modular_lineage,
                                                  defines)
    return lineages


def _read_source(source: Path, stored_path: str, path_prefix: str) -> str | None:
    """An unchanged file's text from a source directory (None from an archive, or when it cannot be read)."""
    try:
        return (source / stored_path.removeprefix(path_prefix)).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def _has_copyright(notices: list[dict]) -> bool:
    return any(is_copyright_line(str(n["text"])) for n in notices)


def _inherit_notices(index: WritableIndexStore, generated: dict[str, str]) -> None:
    """A generated file without a notice takes the notices of the file it was generated from.

    transformers generates most modeling files from a `modular_*.py` file and leaves the copyright notice only
    there: the notice that applies to the generated code is the modular file's, and stripped-attribution checks
    need it. Each inherited notice records where it came from.
    """
    if not generated:
        return
    by_name = _by_file_name(index.file_hashes())
    for path, reference in generated.items():
        origin = _file_named_by(reference, path, by_name)
        if origin is None:
            continue
        notices = [n for n in index.notices_of(origin) if "from" not in n]
        if _has_copyright(notices):
            index.set_notices(path, [{**n, "from": origin} for n in notices])


def _stored_meta(store: Storage, name: str) -> dict[str, str]:
    """The committed metadata of corpus `name` ({} when it is missing or unreadable)."""
    if not store.exists(name):
        return {}
    try:
        with store.open(name) as index:
            return index.meta()
    except CorpusIndexError:
        return {}


def _stored_settings(store: Storage, name: str) -> dict[str, str]:
    meta = _stored_meta(store, name)
    return {key: meta.get(key, "") for key in _settings_meta(FingerprintSettings(), 0)}


def _stored_is_current(store: Storage, name: str) -> bool:
    return _is_current(_stored_meta(store, name))


def _settings_meta(settings: FingerprintSettings, min_tokens: int) -> dict[str, str]:
    return {
        "schema_version": str(SCHEMA_VERSION),
        "normaliser_version": str(NORMALISER_VERSION),
        "k": str(settings.k),
        "num_perm": str(settings.num_perm),
        "lsh_threshold": str(settings.lsh_threshold),
        "seed": str(settings.seed),
        "min_tokens": str(min_tokens),
    }


def settings_of(meta: dict[str, str]) -> FingerprintSettings:
    """The fingerprint settings a corpus was built with (a scan must fingerprint the submission the same way)."""
    return FingerprintSettings(
        k=int(meta["k"]), num_perm=int(meta["num_perm"]), lsh_threshold=float(meta["lsh_threshold"]),
        seed=int(meta["seed"]), bands=int(meta["bands"]), rows=int(meta["rows"]),
    )


def _file_record(result: FingerprintedFile, project_of: Callable[[str], str], sha256: str, text: str) -> FileRecord:
    nf = result.normalised
    fragments = [FragmentRecord(nf.fragments[i], result.band_keys[row]) for row, i in enumerate(result.indexed)]
    return FileRecord(
        project=project_of(nf.path),
        path=nf.path,
        sha256=sha256,
        language=nf.language,
        total_lines=nf.total_lines,
        code_lines=nf.code_lines,
        notices=header_notices(text),
        codes=nf.codes,
        lines=nf.lines,
        fragments=fragments,
        literals=nf.literals,
    )


def build_default_corpus(
    *, jobs: int | None = None, progress: ProgressCallback | None = None, settings: FingerprintSettings | None = None,
    min_tokens: int = DEFAULT_MIN_TOKENS, on_wait: WaitNotice | None = None, unless_current: bool = False,
) -> BuildReport | None:
    """Build (or update) the default corpus from the installed transformers (see `build_corpus` for the rest)."""
    models, version = default_corpus_source()
    return build_corpus(
        DEFAULT_CORPUS,
        models,
        project_of=_project_per_top_dir("transformers"),
        path_prefix="",
        description="transformers/models from the installed transformers wheel",
        version=f"transformers {version}",
        settings=settings,
        min_tokens=min_tokens,
        jobs=jobs,
        progress=progress,
        on_wait=on_wait,
        unless_current=unless_current,
    )


def add_corpus(
    name: str, source: Path, *, split_projects: bool = False, jobs: int | None = None,
    progress: ProgressCallback | None = None, settings: FingerprintSettings | None = None,
    min_tokens: int = DEFAULT_MIN_TOKENS, on_wait: WaitNotice | None = None,
) -> BuildReport:
    """Add or update a user corpus; with `split_projects`, each top-level directory is its own project."""
    project_of = _project_per_top_dir(name) if split_projects else None
    report = build_corpus(
        name, Path(source), project_of=project_of, description=f"added from {source}", settings=settings,
        min_tokens=min_tokens, jobs=jobs, progress=progress, on_wait=on_wait,
    )
    assert report is not None  # only `unless_current` builds can be skipped
    return report


@_index_errors
def list_corpora() -> list[CorpusInfo]:
    store = storage()
    infos = []
    for name in store.names():
        where = store.path(name) if isinstance(store, EmbeddedStorage) else store.where(name)
        try:
            with store.open(name) as index:
                infos.append(CorpusInfo(name, where, index.meta(), index.stats()))
        except CorpusIndexError as error:
            infos.append(CorpusInfo(name, where, {"error": str(error)}, {}))
    return infos


@_index_errors
def remove_corpus(name: str, on_wait: WaitNotice | None = None) -> None:
    corpus_path(name)  # checks the name
    if not storage().remove(name, on_wait):
        raise CorpusError(f"no corpus named {name!r} (see `provscan corpus list`)")


@_index_errors
def corpus_exists(name: str) -> bool:
    corpus_path(name)  # checks the name
    return storage().exists(name)


def _is_current(meta: dict[str, str]) -> bool:
    """Built to completion by a provscan whose index and normaliser formats match this one."""
    return (
        meta.get("schema_version") == str(SCHEMA_VERSION)
        and meta.get("normaliser_version") == str(NORMALISER_VERSION)
        and "bands" in meta
    )


@_index_errors
def corpus_is_current(name: str) -> bool:
    """True when corpus `name` exists and can be used as is (false for an unfinished or outdated build)."""
    if not corpus_exists(name):
        return False
    try:
        with storage().open(name) as index:
            return _is_current(index.meta())
    except CorpusIndexError:
        return False


@_index_errors
def default_corpus_release() -> tuple[str | None, str]:
    """(the transformers release the default corpus was built from, or None when it is missing or must be rebuilt;
    the installed release), e.g. ("transformers 5.23.0", "transformers 5.24.0")."""
    meta = _stored_meta(storage(), DEFAULT_CORPUS)
    built = meta.get("version", "") if _is_current(meta) else None
    try:
        installed = f"transformers {default_corpus_source()[1]}"
    except CorpusError:
        if built is None:
            raise
        installed = built  # transformers uninstalled since: the corpus built from it is used as it is
    return built, installed


@_index_errors
def open_corpus(name: str) -> IndexStore:
    """Corpus `name` for reading, in the configured storage (one consistent version for the reader's lifetime)."""
    corpus_path(name)  # checks the name
    store = storage()
    if not store.exists(name):
        raise CorpusError(f"no corpus named {name!r} (see `provscan corpus list`)")
    try:
        index = store.open(name)
        meta = index.meta()
    except CorpusIndexError as error:
        raise CorpusError(str(error)) from error
    if not _is_current(meta):
        index.close()
        raise CorpusError(
            f"corpus {name!r} was built by another provscan version or did not finish building; rebuild it "
            f"(`provscan corpus add {name} PATH`, or `provscan corpus build-default` for the default corpus)"
        )
    return index
