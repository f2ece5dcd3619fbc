"""Load experiment definitions from a file or directory and report every problem found."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from offerlab.definitions.fields import KEY_PATTERN
from offerlab.definitions.messages import describe_error
from offerlab.definitions.problems import DefinitionProblem, Location, format_location
from offerlab.definitions.schema import (
    ExperimentDefinition,
    PlacementsDefinition,
    cross_field_issues,
)
from offerlab.definitions.yaml_source import SourceIssue, YamlDocument, read_yaml
from offerlab.domain.model import KNOWN_PLACEMENTS, Experiment

YAML_SUFFIXES = (".yaml", ".yml")
PLACEMENTS_FILES = ("placements.yaml", "placements.yml")


@dataclass(frozen=True)
class LoadResult:
    """Valid experiments, every problem of every file, and where each experiment came from."""

    experiments: tuple[Experiment, ...]
    problems: tuple[DefinitionProblem, ...]
    sources: Mapping[str, tuple[Path, int]]  # every key seen, including those of invalid files
    placements: tuple[str, ...] = KNOWN_PLACEMENTS

    @property
    def ok(self) -> bool:
        """True when no problem was found."""
        return not self.problems


@dataclass(frozen=True)
class _Parsed:
    path: Path
    definition: ExperimentDefinition | None
    key: str | None
    key_line: int | None
    problems: tuple[DefinitionProblem, ...]


@dataclass
class _Collector:
    path: Path
    document: YamlDocument
    problems: list[DefinitionProblem] = field(default_factory=list)

    def add(self, location: Location, message: str, line: int | None = None) -> None:
        line = line if line is not None else self.document.line_of(location)
        self.problems.append(DefinitionProblem(self.path, line, format_location(location), message))

    def add_validation_error(self, error: ValidationError) -> None:
        for details in error.errors(include_url=False):
            location = tuple(details["loc"])
            text = self.document.scalar_texts.get(location)
            self.add(location, describe_error(details, source_text=text))


def load_definitions(path: Path) -> LoadResult:
    """Load one experiment file, or every `*.yaml`/`*.yml` directly inside a directory."""
    shown = _shown_path(Path(path))
    if not shown.exists():
        return _failed(DefinitionProblem(shown, None, "", "no such file or directory"))
    directory = shown if shown.is_dir() else shown.parent
    placements, placement_problems = _load_placements(directory)
    if shown.is_dir():
        files = _experiment_files(shown)
    elif shown.name in PLACEMENTS_FILES:
        files = []
    elif shown.suffix not in YAML_SUFFIXES:
        return _failed(DefinitionProblem(shown, None, "", "not a .yaml or .yml file"))
    else:
        files = [shown]
    parsed = [_parse_file(file, placements) for file in files]
    return _combine(parsed, placement_problems, placements)


def _shown_path(path: Path) -> Path:
    """Paths are shown relative to the working directory when they lie below it."""
    if not path.is_absolute():
        return path
    try:
        return path.relative_to(Path.cwd())
    except ValueError:
        return path


def _failed(problem: DefinitionProblem) -> LoadResult:
    return LoadResult(experiments=(), problems=(problem,), sources={})


def _experiment_files(directory: Path) -> list[Path]:
    return sorted(
        entry
        for entry in directory.iterdir()
        if entry.is_file() and entry.suffix in YAML_SUFFIXES and entry.name not in PLACEMENTS_FILES
    )


def _read_document(path: Path) -> YamlDocument:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        document = YamlDocument()
        document.issues.append(_unreadable(error))
        return document
    return read_yaml(text)


def _unreadable(error: OSError | UnicodeDecodeError) -> SourceIssue:
    reason = "not valid UTF-8" if isinstance(error, UnicodeDecodeError) else error.strerror
    return SourceIssue(None, (), f"cannot read file: {reason}")


def _start(path: Path) -> tuple[_Collector, bool]:
    """Read a file; the flag says whether its top level is a mapping worth validating."""
    document = _read_document(path)
    collector = _Collector(path, document)
    for issue in document.issues:
        collector.add(issue.location, issue.message, issue.line)
    if document.data is None:
        return collector, False
    if not isinstance(document.data, dict):
        collector.add((), "the file must be a mapping of fields")
        return collector, False
    return collector, True


def _validate(collector: _Collector, model: type[BaseModel]) -> Any:
    try:
        return model.model_validate(collector.document.data)
    except ValidationError as error:
        collector.add_validation_error(error)
        return None


def _load_placements(directory: Path) -> tuple[tuple[str, ...], list[DefinitionProblem]]:
    files = [directory / name for name in PLACEMENTS_FILES if (directory / name).is_file()]
    placements = list(KNOWN_PLACEMENTS)
    problems: list[DefinitionProblem] = []
    for file in files:
        collector, usable = _start(file)
        if usable:
            _validate(collector, PlacementsDefinition)
            placements.extend(_declared_placements(collector, known=placements))
        problems.extend(collector.problems)
    return tuple(placements), problems


def _declared_placements(collector: _Collector, *, known: list[str]) -> list[str]:
    """Placement keys that are well-formed, even when other entries of the file are not."""
    entries = collector.document.data.get("placements")
    declared: list[str] = []
    for index, entry in enumerate(entries if isinstance(entries, list) else ()):
        key = entry.get("key") if isinstance(entry, dict) else None
        if not isinstance(key, str) or not re.fullmatch(KEY_PATTERN, key):
            continue
        if key in declared:
            collector.add(("placements", index, "key"), f"duplicate placement {key!r}")
        elif key not in known:
            declared.append(key)
    return declared


def _parse_file(path: Path, placements: tuple[str, ...]) -> _Parsed:
    collector, usable = _start(path)
    if not usable:
        return _Parsed(path, None, None, None, tuple(collector.problems))
    data = collector.document.data
    definition = _validate(collector, ExperimentDefinition)
    for location, message in cross_field_issues(data, placements=placements):
        collector.add(location, message)
    key = data.get("key") if isinstance(data.get("key"), str) else None
    key_line = collector.document.line_of(("key",))
    if collector.problems:
        definition = None
    return _Parsed(path, definition, key, key_line, tuple(collector.problems))


def _combine(
    parsed: list[_Parsed], problems: list[DefinitionProblem], placements: tuple[str, ...]
) -> LoadResult:
    experiments: list[Experiment] = []
    sources: dict[str, tuple[Path, int]] = {}
    all_problems = list(problems)
    for item in parsed:
        all_problems.extend(item.problems)
        if item.key is None:
            continue
        if item.key in sources:
            all_problems.append(_duplicate_key(item, sources[item.key]))
            continue
        sources[item.key] = (item.path, item.key_line or 1)
        if item.definition is not None:
            experiments.append(item.definition.to_domain())
    return LoadResult(
        experiments=tuple(experiments),
        problems=tuple(_sorted(all_problems)),
        sources=sources,
        placements=placements,
    )


def _duplicate_key(item: _Parsed, first: tuple[Path, int]) -> DefinitionProblem:
    message = f"duplicate experiment key {item.key!r} (first defined in {first[0]}:{first[1]})"
    return DefinitionProblem(item.path, item.key_line, "key", message)


def _sorted(problems: Iterable[DefinitionProblem]) -> list[DefinitionProblem]:
    return sorted(problems, key=lambda p: (str(p.path), p.line or 0, p.field, p.message))
