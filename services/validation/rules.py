"""Verdict rules as data: which patterns are acceptable, within which thresholds (default_rules.yaml).

Issue 9: the customer approves a region's switch when only invalid data failed. The default rules
accept the invalid-data patterns of the transform (within a ratio) and nothing that means the new
database disagrees with the legacy platform; a region can ship its own file (``--rules FILE``).
"""

from __future__ import annotations

import fnmatch
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from services.validation.errors import RulesError

RULES_FORMAT = "vitalsync.validation-rules.v1"
DEFAULT_RULES_FILE = "default_rules.yaml"
PatternStatus = Literal["accepted", "not_accepted", "over_threshold"]


class _Strict(BaseModel):
    # unknown keys are refused: a misspelled threshold must not silently accept everything
    model_config = ConfigDict(extra="forbid", frozen=True)


class PatternRule(_Strict):
    """One pattern's rule: accepted or not, and the most it may occur."""

    accepted: bool = False
    max_count: int | None = Field(default=None, ge=0)
    max_ratio: float | None = Field(default=None, ge=0, le=1)


class Limits(_Strict):
    """Limits over all patterns together."""

    max_legacy_failure_ratio: float | None = Field(default=None, ge=0, le=1)


class Rules(_Strict):
    """A rules file."""

    format: Literal["vitalsync.validation-rules.v1"]
    default: PatternRule = PatternRule()
    limits: Limits = Limits()
    patterns: dict[str, PatternRule] = Field(default_factory=dict)

    def rule_for(self, pattern: str) -> tuple[str, PatternRule]:
        """(the rule's name, the rule) for a pattern: exact name, else the first matching glob, else default."""
        if pattern in self.patterns:
            return pattern, self.patterns[pattern]
        for name, rule in self.patterns.items():
            if any(char in name for char in "*?[") and fnmatch.fnmatchcase(pattern, name):
                return name, rule
        return "default", self.default


def parse_rules(text: str, source: str) -> Rules:
    """Rules from YAML text; RulesError says what is wrong and where."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RulesError(f"{source}: not valid YAML: {exc}") from exc
    try:
        return Rules.model_validate(document)
    except ValidationError as exc:
        raise RulesError(f"{source}: {exc}") from exc


def load_rules(path: Path | None) -> tuple[Rules, str]:
    """(rules, where they came from): the file, or the package's default rules."""
    if path is None:
        text = resources.files(__package__).joinpath(DEFAULT_RULES_FILE).read_text(encoding="utf-8")
        return parse_rules(text, DEFAULT_RULES_FILE), f"(default) services/validation/{DEFAULT_RULES_FILE}"
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesError(f"{path}: cannot read the rules: {exc.strerror or exc}") from exc
    return parse_rules(text, str(path)), str(path)


@dataclass(frozen=True, slots=True)
class PatternJudgement:
    """What the rules say about one pattern's count."""

    rule: str
    accepted: bool
    status: PatternStatus
    ratio: float
    reason: str | None


def judge(rules: Rules, pattern: str, count: int, denominator: int) -> PatternJudgement:
    """The status of a pattern found `count` times among `denominator` legacy objects."""
    name, rule = rules.rule_for(pattern)
    ratio = count / denominator if denominator else (1.0 if count else 0.0)
    if not rule.accepted:
        return PatternJudgement(name, False, "not_accepted", ratio, f"{pattern}: {count} found, none accepted")
    if rule.max_count is not None and count > rule.max_count:
        reason = f"{pattern}: {count} found, at most {rule.max_count} accepted"
        return PatternJudgement(name, True, "over_threshold", ratio, reason)
    if rule.max_ratio is not None and ratio > rule.max_ratio:
        reason = f"{pattern}: {ratio:.2%} of legacy objects, at most {rule.max_ratio:.2%} accepted"
        return PatternJudgement(name, True, "over_threshold", ratio, reason)
    return PatternJudgement(name, True, "accepted", ratio, None)
