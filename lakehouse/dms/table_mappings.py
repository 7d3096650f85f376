"""A DMS task's table mappings (``{"rules": [...]}`` as AWS prints them) and the file layouts they give.

Contract:
- ``TableMappings.from_json(obj)`` reads the JSON (a dict, a list of rules or the text). Rule
  types: ``selection`` (``include``/``exclude``/``explicit``), ``transformation`` and
  ``table-settings`` (no effect on columns). Object locators match source names with ``%``
  wildcards (any run of characters; everything else literal).
- Transformation rules apply in rule order: by numeric ``rule-id``, then list position. Column
  rules change the file's columns: ``rename``, ``remove-column``, ``convert-uppercase``,
  ``convert-lowercase``, ``add-prefix``/``remove-prefix``/``replace-prefix``,
  ``add-suffix``/``remove-suffix``/``replace-suffix`` (on the data columns, located by their
  source name), ``add-column`` and ``add-before-image-columns`` (append columns).
- Schema- and table-target rules with those name actions rename the folders DMS writes a table
  under: ``folder(schema, table)`` gives them; ``source_of_folder`` finds the source table a
  folder holds (for discovery from the files). Ignored, because they change no column of an S3
  file: tablespace/index rules, ``change-data-type``, ``define-primary-key``, ``include-column``
  on a column that exists, ``data-masking-*`` (values, not layout). Any other ``rule-action`` is
  a ``ValueError`` naming the rule.
- ``layout(schema, table, columns, primary_key)`` gives a :class:`DmsLayout`: the data columns
  as the file names them (source order), then the added columns in rule order. In a file,
  ``[Op] [TimestampColumnName]`` precede them (``DmsLayout.names``).
- ``add-column`` roles by expression: ``$AR_H_CHANGE_SEQ`` → ``change_seq``, ``$AR_H_OPERATION``
  → ``operation``, any other ``$AR_H_…``/``$AR_M_…`` → ``header``, anything else → ``value`` (a
  computed data column). ``add-before-image-columns`` needs ``before-image-def`` with a
  ``column-prefix`` (``BI_`` is what DMS documents; ``""`` allowed only with a suffix) and
  ``column-filter`` ``pk-only``, ``non-lob`` (every column not named in ``lob_columns``) or
  ``all``; each gives ``<prefix><source column><suffix>`` with role ``before_image``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

from lakehouse.dms.settings import DmsS3Settings

OP_COLUMN = "Op"
Role = Literal["before_image", "change_seq", "operation", "header", "value"]

#: rule actions that change no column of an S3 target file
IGNORED_COLUMN_ACTIONS = frozenset(
    {"change-data-type", "define-primary-key", "include-column", "add-column-data-masking"}
)
_NAME_ACTIONS = frozenset(
    {
        "rename",
        "convert-uppercase",
        "convert-lowercase",
        "add-prefix",
        "remove-prefix",
        "replace-prefix",
        "add-suffix",
        "remove-suffix",
        "replace-suffix",
    }
)
#: rule actions (column target) that change the columns of a file
COLUMN_ACTIONS = _NAME_ACTIONS | frozenset(
    {"remove-column", "add-column", "add-before-image-columns"}
)
_COLUMN_FILTERS = ("pk-only", "non-lob", "all")


@dataclass(frozen=True)
class AddedColumn:
    """A column a transformation rule appends after the data columns."""

    name: str  # as written in the file
    role: Role
    source: str = ""  # the expression, or for a before-image the source column


@dataclass(frozen=True)
class DmsLayout:
    """Column layout of one table's DMS files after ``Op`` and the timestamp column.

    ``columns``: the data columns as the file names them, in source order; ``sources``: the
    source (registry) name of each (same length; equal unless a rule renamed it); ``added``: the
    rule-added columns in file order; ``label``: names the layout in error messages.
    """

    columns: tuple[str, ...]
    added: tuple[AddedColumn, ...] = ()
    sources: tuple[str, ...] = ()
    label: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "added", tuple(self.added))
        object.__setattr__(self, "sources", tuple(self.sources or self.columns))
        if len(self.sources) != len(self.columns):
            raise ValueError(f"layout {self.label!r}: sources and columns differ in length")
        names = [*self.columns, *(a.name for a in self.added)]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"layout {self.label!r}: duplicate column name(s) {dupes}")

    @classmethod
    def from_settings(
        cls, settings: DmsS3Settings, columns: Sequence[str], primary_key: Sequence[str]
    ) -> DmsLayout:
        """The layout ``before_image_key`` / ``change_seq_column`` stand for: data, ``BI_<key>``
        (if ``before_image_key``), then the change sequence (if set)."""
        added = []
        if settings.before_image_key:
            added += [AddedColumn(f"BI_{k}", "before_image", k) for k in primary_key]
        if settings.change_seq_column and settings.change_seq_column not in columns:
            added.append(AddedColumn(settings.change_seq_column, "change_seq", "$AR_H_CHANGE_SEQ"))
        return cls(tuple(columns), tuple(added), label="settings")

    def names(self, settings: DmsS3Settings, kind: str) -> list[str]:
        """Every column of a ``kind`` (load | cdc) file, in file order."""
        lead = [OP_COLUMN] if op_in_file(settings, kind) else []
        if settings.TimestampColumnName:
            lead.append(settings.TimestampColumnName)
        return [*lead, *self.columns, *(a.name for a in self.added)]

    @property
    def before_images(self) -> dict[str, str]:
        """File column → source column, for every before-image column."""
        return {a.name: a.source for a in self.added if a.role == "before_image"}

    @property
    def change_seq(self) -> str | None:
        return next((a.name for a in self.added if a.role == "change_seq"), None)

    @property
    def renames(self) -> dict[str, str]:
        """File name → source name of the data columns a rule renamed."""
        return {c: s for c, s in zip(self.columns, self.sources, strict=True) if c != s}

    @property
    def meaning(self) -> tuple:
        """What each position holds (names aside): equal meanings read a file the same way."""
        return (self.sources, tuple((a.role, a.source) for a in self.added))

    def describe(self) -> str:
        extra = ", ".join(f"{a.name}={a.role}" for a in self.added) or "no added columns"
        return f"{self.label or 'layout'} ({len(self.columns)} data columns; {extra})"


def op_in_file(settings: DmsS3Settings, kind: str) -> bool:
    """Whether ``Op`` is a column of a ``kind`` file under ``settings``.

    AWS: with ``CdcInsertsOnly`` or ``CdcInsertsAndUpdates`` and without
    ``IncludeOpForFullLoad`` the CDC records carry no ``Op`` (inserts and updates alike)."""
    if kind == "load":
        return settings.IncludeOpForFullLoad
    cdc_subset = settings.CdcInsertsOnly or settings.CdcInsertsAndUpdates
    return settings.IncludeOpForFullLoad or not cdc_subset


def _like(pattern: str | None, name: str) -> bool:
    if pattern is None:
        return True
    rx = "".join(".*" if ch == "%" else re.escape(ch) for ch in str(pattern))
    return re.fullmatch(rx, name, flags=re.DOTALL) is not None


def _rule_name(rule: dict) -> str:
    return f"rule-id {rule.get('rule-id')!r} (rule-name {rule.get('rule-name')!r})"


@dataclass(frozen=True)
class TableMappings:
    """The rules of a DMS table mapping (see the module docstring)."""

    rules: tuple[dict, ...]
    lob_columns: frozenset[str] = frozenset()

    @classmethod
    def from_json(cls, obj, *, lob_columns: Iterable[str] = ()) -> TableMappings:
        """Parse and validate table mappings (a dict ``{"rules": [...]}``, a rule list, or JSON
        text). ``lob_columns``: source columns a ``non-lob`` before-image filter leaves out."""
        if isinstance(obj, (str, bytes)):
            obj = json.loads(obj)
        rules = obj.get("rules") if isinstance(obj, dict) else obj
        if not isinstance(rules, list):
            raise ValueError('table mappings: expected {"rules": [...]} or a list of rules')
        ordered = sorted(enumerate(rules), key=lambda t: (_rule_order(t[1], t[0]), t[0]))
        out = cls(tuple(r for _, r in ordered), frozenset(lob_columns))
        for rule in out.rules:
            _validate(rule)
        return out

    def selects(self, schema: str, table: str) -> bool:
        """Whether a selection rule includes ``schema.table`` and none excludes it."""
        included = False
        for r in self.rules:
            if r["rule-type"] != "selection":
                continue
            loc = r.get("object-locator", {})
            if _like(loc.get("schema-name"), schema) and _like(loc.get("table-name"), table):
                if r["rule-action"] == "exclude":
                    return False
                included = True
        return included

    def _name_rules(self, target: str):
        for r in self.rules:
            if (r["rule-type"] == "transformation" and r.get("rule-target") == target
                    and r["rule-action"] in _NAME_ACTIONS):  # fmt: skip
                yield r, r.get("object-locator", {})

    def folder(self, schema: str, table: str) -> tuple[str, str]:
        """The ``(schema, table)`` folder names DMS writes source table ``schema.table`` under:
        the schema- and table-target name rules in rule order (their locators name the source)."""
        s, t = schema, table
        for r in self.rules:
            if r["rule-type"] != "transformation" or r["rule-action"] not in _NAME_ACTIONS:
                continue
            loc = r.get("object-locator", {})
            if not _like(loc.get("schema-name"), schema):
                continue
            if r.get("rule-target") == "schema":
                s = _rename(r["rule-action"], s, r)
            elif r.get("rule-target") == "table" and _like(loc.get("table-name"), table):
                t = _rename(r["rule-action"], t, r)
        return s, t

    def source_of_folder(self, schema: str, table: str) -> tuple[str, str] | None:
        """The selected source table whose folder is ``schema/table``: among the names the
        rules' locators spell out (no ``%``), the folder's own and what undoing each prefix or
        suffix rule gives, the one the rules map there, a spelled-out name first; None when no
        selected table maps there (a case conversion cannot be undone: spell the name out)."""
        candidates = {}
        for target, name in (("schema", schema), ("table", table)):
            names = {name}
            rules = list(self._name_rules(target))
            for r, _loc in reversed(rules):
                names |= {u for n in names for u in _undo(r["rule-action"], n, r)}
            spelled = {loc.get(f"{target}-name") for _r, loc in rules}
            candidates[target] = (names, {n for n in spelled if n and "%" not in n})
        found = [
            (s, t)
            for s in sorted(candidates["schema"][0] | candidates["schema"][1])
            for t in sorted(candidates["table"][0] | candidates["table"][1])
            if self.folder(s, t) == (schema, table) and self.selects(s, t)
        ]
        found.sort(key=lambda st: -((st[0] in candidates["schema"][1])
                                    + (st[1] in candidates["table"][1])))  # fmt: skip
        return found[0] if found else None

    def added_names(self, schema: str, table: str, columns: Sequence[str]) -> set[str]:
        """Every name a rule may add to a file of ``schema.table`` whose columns are ``columns``
        (a before-image of any of them, whatever its filter): what discovery leaves out."""
        names: set[str] = set()
        for r in self.rules:
            if r["rule-type"] != "transformation" or r.get("rule-target") not in (None, "column"):
                continue
            loc = r.get("object-locator", {})
            if not (_like(loc.get("schema-name"), schema) and _like(loc.get("table-name"), table)):
                continue
            if r["rule-action"] == "add-column":
                names.add(r["value"])
            elif r["rule-action"] == "add-before-image-columns":
                d = r["before-image-def"]
                prefix, suffix = d.get("column-prefix", ""), d.get("column-suffix", "") or ""
                names |= {f"{prefix}{c}{suffix}" for c in columns}
        return names

    def source_columns(self, schema: str, table: str, file_columns: Sequence[str]) -> list[str]:
        """The source name of each of a file's data columns (a column name rule undone: the
        name a locator spells out that the rules map to it; else the file's own name)."""
        spelled = []
        for r in self.rules:
            if (r["rule-type"] == "transformation" and r.get("rule-target") in (None, "column")
                    and r["rule-action"] in _NAME_ACTIONS):  # fmt: skip
                name = r.get("object-locator", {}).get("column-name")
                if name and "%" not in name and name not in spelled:
                    spelled.append(name)
        back: dict[str, str] = {}
        for source in [*spelled, *file_columns]:
            lay = self.layout(schema, table, [source], ())
            if lay.columns:
                back.setdefault(lay.columns[0], source)  # spelled-out names first
        return [back.get(c, c) for c in file_columns]

    def layout(
        self,
        schema: str,
        table: str,
        columns: Sequence[str],
        primary_key: Sequence[str],
        *,
        label: str = "",
    ) -> DmsLayout:
        """The file layout of ``schema.table`` with source ``columns`` (see module docstring)."""
        if not self.selects(schema, table):
            raise ValueError(
                f"table {schema}.{table} is not selected by these table mappings: add a "
                "selection rule including it"
            )
        names = {c: c for c in columns}  # source name -> file name
        removed: set[str] = set()
        added: list[AddedColumn] = []
        for r in self.rules:
            if r["rule-type"] != "transformation" or r.get("rule-target") not in (None, "column"):
                continue
            action = r["rule-action"]
            if action not in COLUMN_ACTIONS:
                continue
            loc = r.get("object-locator", {})
            if not (_like(loc.get("schema-name"), schema) and _like(loc.get("table-name"), table)):
                continue
            col_pat = loc.get("column-name")
            if action == "add-column":
                added.append(
                    AddedColumn(r["value"], _role(r.get("expression", "")), r.get("expression", ""))
                )
            elif action == "add-before-image-columns":
                d = r["before-image-def"]
                prefix, suffix = d.get("column-prefix", ""), d.get("column-suffix", "") or ""
                filt = d.get("column-filter", "pk-only")
                if filt == "pk-only":
                    chosen = [k for k in primary_key if k in names]
                elif filt == "non-lob":
                    chosen = [c for c in columns if c not in self.lob_columns]
                else:
                    chosen = list(columns)
                chosen = [c for c in chosen if c not in removed and _like(col_pat, c)]
                added += [AddedColumn(f"{prefix}{c}{suffix}", "before_image", c) for c in chosen]
            elif action == "remove-column":
                removed |= {c for c in columns if _like(col_pat, c)}
            else:
                for c in columns:
                    if _like(col_pat, c):
                        names[c] = _rename(action, names[c], r)
        kept = [c for c in columns if c not in removed]
        return DmsLayout(
            tuple(names[c] for c in kept),
            tuple(added),
            tuple(kept),
            label=label or f"{schema}.{table}",
        )


def _rule_order(rule: dict, index: int) -> int:
    try:
        return int(rule.get("rule-id"))
    except (TypeError, ValueError):
        return 1 << 62  # no numeric id: after the numbered rules, in list order


def _role(expression: str) -> Role:
    e = str(expression).strip()
    if e == "$AR_H_CHANGE_SEQ":
        return "change_seq"
    if e == "$AR_H_OPERATION":
        return "operation"
    if e.startswith(("$AR_H_", "$AR_M_")) and re.fullmatch(r"\$AR_[HM]_\w+", e):
        return "header"
    return "value"


def _rename(action: str, name: str, r: dict) -> str:
    value = r.get("value", "")
    old = r.get("old-value", "")
    if action == "rename":
        return value
    if action == "convert-uppercase":
        return name.upper()
    if action == "convert-lowercase":
        return name.lower()
    if action == "add-prefix":
        return value + name
    if action == "add-suffix":
        return name + value
    if action == "remove-prefix":
        return name[len(value) :] if value and name.startswith(value) else name
    if action == "remove-suffix":
        return name[: -len(value)] if value and name.endswith(value) else name
    if action == "replace-prefix":
        return value + name[len(old) :] if old and name.startswith(old) else name
    if action == "replace-suffix":
        return name[: -len(old)] + value if old and name.endswith(old) else name
    raise AssertionError(action)


def _undo(action: str, name: str, r: dict) -> list[str]:
    """Names ``_rename`` may have turned into ``name`` under a prefix or suffix rule."""
    value, old = r.get("value", ""), r.get("old-value", "")
    if action == "add-prefix" and value and name.startswith(value):
        return [name[len(value) :]]
    if action == "add-suffix" and value and name.endswith(value):
        return [name[: -len(value)]]
    if action == "remove-prefix" and value:
        return [value + name]
    if action == "remove-suffix" and value:
        return [name + value]
    if action == "replace-prefix" and value and name.startswith(value):
        return [old + name[len(value) :]]
    if action == "replace-suffix" and value and name.endswith(value):
        return [name[: -len(value)] + old]
    return []


def _validate(rule: dict) -> None:
    if not isinstance(rule, dict):
        raise ValueError(f"table mappings: a rule must be an object, got {rule!r}")
    where = _rule_name(rule)
    rtype, action = rule.get("rule-type"), rule.get("rule-action")
    if rtype == "table-settings":
        return
    if rtype == "selection":
        if action not in ("include", "exclude", "explicit"):
            raise ValueError(
                f"table mappings {where}: selection rule-action {action!r} is not one of "
                "include/exclude/explicit; fix the rule"
            )
        return
    if rtype != "transformation":
        raise ValueError(
            f"table mappings {where}: rule-type {rtype!r} is not one of selection, "
            "transformation, table-settings"
        )
    target = rule.get("rule-target", "column")
    if target in ("schema", "table") and action in ("rename", "add-prefix", "add-suffix"):
        if not rule.get("value"):
            raise ValueError(f"table mappings {where}: {action} needs a non-empty 'value'")
    if target != "column":
        return  # schema/table rules rename folders (``folder``); tablespace ones storage
    if action in IGNORED_COLUMN_ACTIONS or str(action).startswith("data-masking"):
        return
    if action not in COLUMN_ACTIONS:
        raise ValueError(
            f"table mappings {where}: rule-action {action!r} is not supported for column rules "
            f"(supported: {sorted(COLUMN_ACTIONS)}; ignored: {sorted(IGNORED_COLUMN_ACTIONS)}); "
            "remove the rule or add support for it to lakehouse.dms.table_mappings"
        )
    if action in ("add-column", "rename", "add-prefix", "add-suffix") and not rule.get("value"):
        raise ValueError(f"table mappings {where}: {action} needs a non-empty 'value'")
    if action == "add-before-image-columns":
        d = rule.get("before-image-def")
        if not isinstance(d, dict):
            raise ValueError(
                f"table mappings {where}: add-before-image-columns needs a 'before-image-def' "
                'object, e.g. {"column-prefix": "BI_", "column-suffix": "", '
                '"column-filter": "pk-only"}'
            )
        if "column-prefix" not in d or not (d.get("column-prefix") or d.get("column-suffix")):
            raise ValueError(
                f"table mappings {where}: before-image-def has no column-prefix; give one "
                '(e.g. "column-prefix": "BI_") so before-image columns cannot be mistaken for '
                "data columns"
            )
        if d.get("column-filter", "pk-only") not in _COLUMN_FILTERS:
            raise ValueError(
                f"table mappings {where}: before-image-def column-filter "
                f"{d.get('column-filter')!r} is not one of {list(_COLUMN_FILTERS)}"
            )


def known_layouts(
    schema: str,
    table: str,
    columns: Sequence[str],
    primary_key: Sequence[str],
    *,
    settings: DmsS3Settings | None = None,
    mappings: Sequence[TableMappings | dict | str] = (),
    layouts: Sequence[DmsLayout] = (),
) -> list[DmsLayout]:
    """Every layout a table's files may have, oldest first: one per table mapping in
    ``mappings`` (the task's mapping and each later revision), then ``layouts`` given directly;
    when both are empty, the layout ``settings`` stands for (``DmsLayout.from_settings``).
    Layouts with the same meaning are kept once (the first)."""
    out: list[DmsLayout] = []
    for i, m in enumerate(mappings):
        tm = m if isinstance(m, TableMappings) else TableMappings.from_json(m)
        out.append(tm.layout(schema, table, columns, primary_key, label=f"table mappings #{i + 1}"))
    out += list(layouts)
    if not out:
        out.append(DmsLayout.from_settings(settings or DmsS3Settings(), columns, primary_key))
    seen, unique = set(), []
    for lay in out:
        if (lay.columns, lay.meaning, tuple(a.name for a in lay.added)) in seen:
            continue
        seen.add((lay.columns, lay.meaning, tuple(a.name for a in lay.added)))
        unique.append(lay)
    return unique
