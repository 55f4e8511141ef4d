"""Every difference between targets, as data.

Emitters build one dialect-neutral sqlglot tree. Where sqlglot's own transpilation is
enough (casts, intervals, `||`, window functions, RLIKE vs `~` ...) nothing is needed
here. The few operations whose spelling or semantics differ are written in the tree
as *portable functions* — `CDPC_<NAME>(args)` placeholders — and `lower()` replaces
each by the target's template below, parsed with sqlglot in that target's dialect.
Templates use `{0}`, `{1}` for arguments and `{*}` for a variadic argument list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from typing import Iterator, Optional

import sqlglot
from sqlglot import exp
from sqlglot.dialects.dialect import Dialect as SqlglotDialect

PORTABLE_PREFIX = "CDPC_"

# A text already shaped `dddd-dd-dd...` names a day of the calendar, year 1 or later: the year,
# the month and the day in that month, leap years included, in plain SQL every target runs.
_YEAR, _MONTH, _DAY = ("CAST(SUBSTRING({0}, %d, %d) AS INT)" % part for part in ((1, 4), (6, 2), (9, 2)))
_YMD_BY_PARTS = (
    f"({_YEAR} >= 1 AND {_MONTH} BETWEEN 1 AND 12 AND {_DAY} BETWEEN 1 AND "
    f"CASE WHEN {_MONTH} IN (4, 6, 9, 11) THEN 30 "
    f"WHEN {_MONTH} = 2 THEN CASE WHEN (({_YEAR} % 4 = 0 AND {_YEAR} % 100 <> 0) OR {_YEAR} % 400 = 0) THEN 29 ELSE 28 END "
    f"ELSE 31 END)")

# The generic spelling (DuckDB's unless DuckDB overrides it), used by any target that does not override it.
GENERIC: dict[str, str] = {
    # lowercase hex SHA-256 / MD5 of a text value (UTF-8 bytes)
    "SHA256_HEX": "SHA256({0})",
    "MD5_HEX": "MD5({0})",
    # regex search (not anchored), regex replace of every match
    "REGEX_SEARCH": "REGEXP_MATCHES({0}, {1})",
    "REGEX_REPLACE_ALL": "REGEXP_REPLACE({0}, {1}, {2}, 'g')",
    # a list of texts with the NULL elements removed (rejection reasons)
    "TEXT_ARRAY_COMPACT": "LIST_FILTER([{*}], x -> x IS NOT NULL)",
    # that list holds no element (a row passes staging when it has no rejection reason)
    "ARRAY_IS_EMPTY": "LEN({0}) = 0",
    # ordering text by code point
    "CODEPOINT": "{0}",
    # cast a value to text (record keys, hashing of fields)
    "TO_TEXT": "CAST({0} AS TEXT)",
    # a text shaped `dddd-dd-dd...` names a day of the calendar (year 1 or later)
    "YMD_IS_DATE": _YMD_BY_PARTS,
}


@dataclass(frozen=True)
class Names:
    """How a target stores the schema and table names that cdpc writes (unquoted)."""
    max_bytes: Optional[int] = None  # the longest name it keeps; None: no limit a cdpc name can reach
    truncates: bool = False  # a longer name is silently cut to max_bytes (else the target refuses it)
    folds_case: bool = True  # names that differ only in case are one name

    def physical(self, name: str) -> str:
        """The name the target ends up with."""
        folded = name.lower() if self.folds_case else name
        if self.truncates and self.max_bytes is not None:
            folded = folded.encode("utf-8")[:self.max_bytes].decode("utf-8", errors="ignore")
        return folded

    def too_long(self, name: str) -> bool:
        return self.max_bytes is not None and len(name.encode("utf-8")) > self.max_bytes

    def limit_text(self) -> str:
        verb = "keeps only the first" if self.truncates else "refuses names longer than"
        return f"{verb} {self.max_bytes} bytes"


@dataclass(frozen=True)
class Grants:
    """How a target lets a database role read a view and nothing else: one statement for the
    view's schema, one per view. `{schema}`, `{view}` and `{role}` are replaced by the names as
    the target quotes them, and the statement is parsed and printed by sqlglot in the target's
    dialect (so a template that the target would not parse fails the compile, not the run)."""
    schema: str  # the role may use the schema (look its views up)
    view: str  # the role may select from the view


@dataclass(frozen=True)
class Dialect:
    """One target: everything cdpc knows about it. `DIALECTS` is the target registry: the
    model's `targets`, the CLI's choices and `cdpc run`'s engine lookup all read it."""
    name: str  # the target name, also sqlglot's dialect name
    # The module of the adapter `cdpc run` executes it with (its `connect(**options)`), imported
    # only when a run needs it; None: emitted and parse-checked only.
    engine: Optional[str] = None
    overrides: dict[str, str] = field(default_factory=dict)
    names: Names = Names()
    # GRANT for an access definition's role (docs/privacy.md); None: the target has no database
    # roles to grant to (its access views are written without grants)
    grants: Optional[Grants] = None
    no_grants: str = "it has no database roles to grant to"  # why, when grants is None
    # Run right after each CREATE TABLE ... AS by `cdpc run` ({table}: the new table); None: not
    # needed. PostgreSQL plans a join of tables it has no statistics for as if they were tiny
    # (autovacuum analyzes them only later): a nested loop over a map of millions of rows.
    after_create: Optional[str] = None

    @property
    def executes(self) -> bool:
        return self.engine is not None

    def template(self, function: str) -> str:
        return self.overrides.get(function, GENERIC[function])


DIALECTS: dict[str, Dialect] = {
    # DuckDB and Spark match names case-insensitively and have no length limit a cdpc name reaches
    # the date check by DuckDB's own date cast: a fifth of the text and half the planning of a
    # staging statement with dates (DuckDB reads year 0 as 1 BC, hence the first test)
    "duckdb": Dialect("duckdb", engine="compiler.run.engines.duckdb", overrides={
        "YMD_IS_DATE": "(SUBSTRING({0}, 1, 4) <> '0000' AND NOT TRY_CAST(SUBSTRING({0}, 1, 10) AS DATE) IS NULL)",
    }, no_grants="DuckDB has no roles: whoever opens the database file reads every table"),
    # text order and min/max of text use COLLATE "C" (code-point order)
    "postgres": Dialect("postgres", engine="compiler.run.engines.postgres", after_create="ANALYZE {table}", overrides={
        "SHA256_HEX": "ENCODE(SHA256(CONVERT_TO({0}, 'UTF8')), 'hex')",
        "REGEX_SEARCH": "{0} ~ {1}",
        "TEXT_ARRAY_COMPACT": "ARRAY_REMOVE(ARRAY[{*}]::TEXT[], NULL)",
        "ARRAY_IS_EMPTY": "CARDINALITY({0}) = 0",
        "CODEPOINT": "{0} COLLATE \"C\"",
    }, names=Names(max_bytes=63, truncates=True),  # NAMEDATALEN - 1; longer names are cut with a NOTICE
        grants=Grants("GRANT USAGE ON SCHEMA {schema} TO {role}", "GRANT SELECT ON TABLE {schema}.{view} TO {role}")),
    # string comparison is binary (UTF-8 byte order equals code-point order)
    "spark": Dialect("spark", engine="compiler.run.engines.spark", overrides={
        "SHA256_HEX": "SHA2({0}, 256)",
        "REGEX_SEARCH": "{0} RLIKE {1}",
        "REGEX_REPLACE_ALL": "REGEXP_REPLACE({0}, {1}, {2})",
        "TEXT_ARRAY_COMPACT": "FILTER(ARRAY({*}), x -> x IS NOT NULL)",
        "ARRAY_IS_EMPTY": "SIZE({0}) = 0",
        "TO_TEXT": "CAST({0} AS STRING)",
    }, grants=Grants("GRANT USE SCHEMA ON SCHEMA {schema} TO {role}",  # Databricks Unity Catalog's privileges
                     "GRANT SELECT ON TABLE {schema}.{view} TO {role}")),
    # REGEXP_LIKE anchors the whole subject, so a search is REGEXP_INSTR > 0
    "snowflake": Dialect("snowflake", overrides={
        "SHA256_HEX": "SHA2({0}, 256)",
        "REGEX_SEARCH": "REGEXP_INSTR({0}, {1}) > 0",
        "REGEX_REPLACE_ALL": "REGEXP_REPLACE({0}, {1}, {2})",
        "TEXT_ARRAY_COMPACT": "ARRAY_COMPACT(ARRAY_CONSTRUCT({*}))",
        "ARRAY_IS_EMPTY": "ARRAY_SIZE({0}) = 0",
        "CODEPOINT": "COLLATE({0}, 'utf8')",
        "TO_TEXT": "CAST({0} AS VARCHAR)",
    }, names=Names(max_bytes=255),  # unquoted names fold to upper case
        grants=Grants("GRANT USAGE ON SCHEMA {schema} TO ROLE {role}", "GRANT SELECT ON VIEW {schema}.{view} TO ROLE {role}")),
    # SHA256 and MD5 return BYTES, hence TO_HEX
    "bigquery": Dialect("bigquery", overrides={
        "SHA256_HEX": "TO_HEX(SHA256({0}))",
        "MD5_HEX": "TO_HEX(MD5({0}))",
        "REGEX_SEARCH": "REGEXP_CONTAINS({0}, {1})",
        "REGEX_REPLACE_ALL": "REGEXP_REPLACE({0}, {1}, {2})",
        "TEXT_ARRAY_COMPACT": "ARRAY(SELECT x FROM UNNEST([{*}]) AS x WHERE x IS NOT NULL)",
        "ARRAY_IS_EMPTY": "ARRAY_LENGTH({0}) = 0",
        "TO_TEXT": "CAST({0} AS STRING)",
    }, names=Names(max_bytes=1024, folds_case=False),  # dataset and table names are case-sensitive
        no_grants="BigQuery grants to IAM principals, not to database roles: grant the role's group "
                  "roles/bigquery.dataViewer on the views' dataset, and nothing on the others"),
}


def target_names() -> tuple[str, ...]:
    return tuple(DIALECTS)


def engine_names() -> tuple[str, ...]:
    """The targets `cdpc run` can execute."""
    return tuple(name for name, dialect in DIALECTS.items() if dialect.executes)


# The functions each warehouse that cdpc emits for but does not execute documents, by the
# name the generated SQL calls them (tests/test_warehouse_sql.py asserts that the SQL for
# these targets calls nothing else). Extend a list only with a function the warehouse's
# reference documents, and keep its behaviour in mind (NULL handling, rounding, collation).
#   snowflake  https://docs.snowflake.com/en/sql-reference/functions-all
#   bigquery   https://cloud.google.com/bigquery/docs/reference/standard-sql/functions-all
DOCUMENTED_FUNCTIONS: dict[str, frozenset[str]] = {
    "snowflake": frozenset("""
        ABS ANY_VALUE ARRAY_AGG ARRAY_COMPACT ARRAY_CONSTRUCT ARRAY_CONTAINS ARRAY_SIZE ARRAY_TO_STRING AVG
        BOOLAND_AGG BOOLOR_AGG CAST CEIL CHARINDEX COALESCE COLLATE CONCAT CONTAINS COUNT COUNT_IF
        CURRENT_DATE CURRENT_TIMESTAMP DATE_PART DATE_TRUNC DATEADD DATEDIFF DAY DAYOFWEEK DAYOFYEAR
        DENSE_RANK DIV0 ENDSWITH EXP EXTRACT FLOOR GREATEST IFF IFNULL INITCAP LAST_DAY LEAST LEFT LENGTH
        LISTAGG LN LOG LOWER LPAD LTRIM MAX MD5 MEDIAN MIN MOD MONTH NULLIF NVL POSITION POWER QUARTER RANK
        REGEXP_INSTR REGEXP_LIKE REGEXP_REPLACE REGEXP_SUBSTR REPEAT REPLACE REVERSE RIGHT ROUND ROW_NUMBER
        RPAD RTRIM SHA2 SIGN SPLIT_PART SQRT STARTSWITH STDDEV SUBSTR SUBSTRING SUM TIMESTAMPADD TIMESTAMPDIFF
        TO_CHAR TO_DATE TO_TIMESTAMP TRANSLATE TRIM TRUNC TRY_CAST TRY_TO_DATE TRY_TO_NUMBER TRY_TO_TIMESTAMP
        UPPER VARIANCE WEEK YEAR
    """.split()),
    "bigquery": frozenset("""
        ABS ANY_VALUE ARRAY ARRAY_AGG ARRAY_CONCAT ARRAY_LENGTH ARRAY_TO_STRING AVG CAST CEIL CEILING COALESCE
        CONCAT CONTAINS_SUBSTR COUNT COUNTIF CURRENT_DATE CURRENT_DATETIME CURRENT_TIMESTAMP DATE DATE_ADD
        DATE_DIFF DATE_SUB DATE_TRUNC DATETIME DATETIME_ADD DATETIME_DIFF DATETIME_SUB DATETIME_TRUNC
        DENSE_RANK DIV ENDS_WITH EXP EXTRACT FLOOR FORMAT FORMAT_DATE FORMAT_DATETIME FORMAT_TIMESTAMP
        GENERATE_ARRAY GREATEST IF IFNULL INITCAP INSTR LAST_DAY LEAST LEFT LENGTH LN LOG LOG10 LOGICAL_AND
        LOGICAL_OR LOWER LPAD LTRIM MAX MD5 MIN MOD NULLIF PARSE_DATE PARSE_DATETIME PARSE_TIMESTAMP POW POWER
        RANK REGEXP_CONTAINS REGEXP_EXTRACT REGEXP_INSTR REGEXP_REPLACE REPEAT REPLACE REVERSE RIGHT ROUND
        ROW_NUMBER RPAD RTRIM SAFE_CAST SAFE_DIVIDE SHA1 SHA256 SHA512 SIGN SPLIT SQRT STARTS_WITH STDDEV
        STRING_AGG STRPOS SUBSTR SUBSTRING SUM TIMESTAMP TIMESTAMP_ADD TIMESTAMP_DIFF TIMESTAMP_SUB
        TIMESTAMP_TRUNC TO_HEX TRIM TRUNC UNNEST UPPER VARIANCE
    """.split()),
}


def grant_sql(dialect: Dialect, template: str, **names: str) -> str:
    """One of the dialect's `Grants` templates with its names in place, as the target prints it."""
    quoted = {key: exp.to_identifier(name).sql(dialect=dialect.name) for key, name in names.items()}
    return _sqlglot_dialect(dialect.name).generate(sqlglot.parse_one(template.format(**quoted), read=dialect.name),
                                                   pretty=True)


def portable(function: str, *args: exp.Expression) -> exp.Expression:
    """A placeholder call that `lower` replaces per target (see the table above)."""
    if function not in GENERIC:
        raise KeyError(function)
    return exp.Anonymous(this=PORTABLE_PREFIX + function, expressions=list(args))


def lower(tree: exp.Expression, dialect: Dialect) -> exp.Expression:
    """A copy of `tree` with every portable placeholder replaced by the dialect's spelling.

    One copy, then in-place replacement: innermost placeholders first (reversed pre-order
    puts every node after its descendants), so an outer template receives lowered args.
    """
    tree = tree.copy()
    for node in reversed(list(_placeholders(tree))):
        name = str(node.this)[len(PORTABLE_PREFIX):]
        lowered = _instantiate(dialect.name, dialect.template(name), list(node.expressions))
        tree = lowered if node is tree else tree
        node.replace(lowered)
    return tree


def has_portable(tree: exp.Expression) -> bool:
    return any(_placeholders(tree))


def _placeholders(tree: exp.Expression) -> Iterator[exp.Anonymous]:
    """The portable calls in `tree`, in pre-order (a node before its descendants)."""
    return (node for node in tree.find_all(exp.Anonymous, bfs=False) if str(node.this).startswith(PORTABLE_PREFIX))


def render(tree: exp.Expression, dialect: Dialect, *, lower_needed: bool = True, release: bool = True) -> str:
    """The tree as the target's SQL text. The generator gets a private copy (its dialect
    transforms may edit it); `lower_needed=False` when the tree holds no placeholder;
    `release=False` where the caller's garbage is never collected (a forked child)."""
    lowered = lower(tree, dialect) if lower_needed else tree.copy()
    text = _sqlglot_dialect(dialect.name).generate(lowered, copy=False, pretty=True)
    if release:
        _release(lowered)
    return text


@lru_cache(maxsize=None)
def _sqlglot_dialect(name: str) -> SqlglotDialect:
    return SqlglotDialect.get_or_raise(name)  # made once: .sql(dialect="name") makes one per call


def _release(tree: exp.Expression) -> None:
    """Unlink a throwaway tree's parent pointers so reference counting frees it at once.

    Every sqlglot tree is a reference cycle (children point at their parent). Rendering a
    project makes millions of such nodes per target; left to the cyclic GC they cost more
    than rendering itself, as each collection also rescans the long-lived plan."""
    for node in tree.walk():
        node.parent = None


@lru_cache(maxsize=None)
def _parsed_template(dialect: str, template: str) -> exp.Expression:
    text = template.replace("{*}", "__cdpc_args")
    for i in range(10):
        text = text.replace("{%d}" % i, f"__cdpc_arg{i}")
    return without_positions(sqlglot.parse_one(text, read=dialect))


def without_positions(tree: exp.Expression) -> exp.Expression:
    """Drop the parser's line/column metadata: emitted SQL never needs it, and every
    later copy of the tree would deep-copy one dict per parsed node (a third of render)."""
    for node in tree.walk():
        node._meta = None
    return tree


def _instantiate(dialect: str, template: str, args: list[exp.Expression]) -> exp.Expression:
    """The template with the args in place; each arg moves in once, a second use is a copy."""
    tree = _parsed_template(dialect, template).copy()
    moved: set[int] = set()

    def take(index: int) -> exp.Expression:
        first = index not in moved
        moved.add(index)
        return args[index] if first else args[index].copy()

    if isinstance(tree, exp.Column) and tree.name.startswith("__cdpc_arg"):  # the template is `{0}`
        return take(int(tree.name[len("__cdpc_arg"):]))
    for column in list(tree.find_all(exp.Column)):
        name = column.name
        if name == "__cdpc_args":
            _splice(column, args)
        elif name.startswith("__cdpc_arg"):
            column.replace(take(int(name[len("__cdpc_arg"):])))
    return tree


def _splice(placeholder: exp.Column, args: list[exp.Expression]) -> None:
    parent, key = placeholder.parent, placeholder.arg_key
    siblings = parent.args.get(key)
    if not isinstance(siblings, list):
        raise ValueError("a variadic placeholder must stand in an argument list")
    index = next(i for i, s in enumerate(siblings) if s is placeholder)
    parent.set(key, siblings[:index] + list(args) + siblings[index + 1:])
