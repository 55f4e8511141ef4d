"""The upload files of each platform: which changes of a sync go in which file, under which header.

`cdpc export` writes them (compiler/run/export.py) and validate checks that every column a
destination sends has a header on its platform (validate/destinations.py), both from
`upload_layout`. The header names are the ones the platforms document for a customer list
file (docs/commands/export.md cites each):

- `meta_custom_audiences`: `email`, `phone`, and one `value` column (customer value, a
  number); the file of adds and the file of removes share the layout.
- `google_customer_match`: `Email`, `Phone`; Google takes nothing but identifiers here.
- `generic`: the sync's own columns, after an `op` column, all changes in one file.

On Meta and Google, an identifier column is known by the identifier type's normalizer
(`email`, `phone`); a field is placed by what it holds: a pick of an identifier field goes
under that identifier's header (Meta takes up to three email and three phone columns, Google
several of each).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..model import Definitions, Destination
from ..model.contract import parse_field_type

OPS = ("add", "update", "remove")
NUMBERS = ("integer", "bigint", "double", "decimal")
# platform -> what an identifier normalized this way is called in its file
HEADERS: dict[str, dict[str, str]] = {
    "meta_custom_audiences": {"email": "email", "phone": "phone"},
    "google_customer_match": {"email": "Email", "phone": "Phone"},
}
VALUE_HEADER = {"meta_custom_audiences": "value"}  # the one numeric field a platform takes
PLATFORM_NAMES = {"meta_custom_audiences": "Meta's customer list", "google_customer_match": "Google's Customer Match file"}
PER_HEADER = {"meta_custom_audiences": 3}  # Meta takes up to three email and three phone columns


@dataclass(frozen=True)
class UploadFile:
    suffix: str  # `<segment><suffix>.csv`
    ops: tuple[str, ...]  # the changes it holds
    with_op: bool  # a leading `op` column


# An `update` re-adds the member with the values now sent: both platforms match an added
# row to the person it identifies and keep the person once. Removes carry every value the
# member was sent under (run/export.py), so that an old email still matched is removed too.
FILES: dict[str, tuple[UploadFile, ...]] = {
    "generic": (UploadFile("", OPS, True),),
    "meta_custom_audiences": (UploadFile(".add", ("add", "update"), False), UploadFile(".remove", ("remove",), False)),
    "google_customer_match": (UploadFile(".add", ("add", "update"), False), UploadFile(".remove", ("remove",), False)),
}


@dataclass
class Layout:
    """The files of one destination's syncs, and per sent column (a sync table's column) its header."""

    platform: str
    files: tuple[UploadFile, ...]
    columns: list[tuple[str, str]] = field(default_factory=list)  # (sync column, header)
    problems: list[tuple[tuple, str, str]] = field(default_factory=list)  # (loc path, message, hint)

    @property
    def headers(self) -> list[str]:
        return ["op"] * any(f.with_op for f in self.files) + [h for _, h in self.columns]


def upload_layout(defs: Definitions, destination: Destination) -> Layout:
    platform = destination.platform
    layout = Layout(platform, FILES[platform])
    if platform == "generic":
        layout.columns = [(c, c) for c in ("profile_id", *destination.identifiers, *destination.fields)]
        return layout
    headers, name = HEADERS[platform], PLATFORM_NAMES[platform]
    identity = defs.identity
    for index, id_type in enumerate(destination.identifiers):
        if identity is None or id_type not in identity.types:
            continue  # an unknown type: validate says so (CDP206)
        normalizer = identity.identifier(id_type).normalize
        if normalizer in headers:
            layout.columns.append((id_type, headers[normalizer]))
        else:
            layout.problems.append((("identifiers", index), f"identifier `{id_type}` has no column in {name}: it "
                                    f"takes identifiers normalized as {' or '.join(headers)}",
                                    f"send `{id_type}` to a destination with platform `generic`, or remove it"))
    for index, name_ in enumerate(destination.fields):
        attribute = defs.attributes.get(name_)
        if attribute is None:
            continue  # an unknown attribute: validate says so (CDP203)
        id_type = attribute.picked_identifier(identity)
        normalizer = identity.identifier(id_type).normalize if id_type else None
        kind = (parse_field_type(attribute.type) or ("",))[0]
        if normalizer in headers:
            layout.columns.append((name_, headers[normalizer]))
        elif kind in NUMBERS and platform in VALUE_HEADER and VALUE_HEADER[platform] not in layout.headers:
            layout.columns.append((name_, VALUE_HEADER[platform]))
        else:
            layout.problems.append((("fields", index), f"field `{name_}` has no column in {name}", _field_hint(platform)))
    most = PER_HEADER.get(platform)
    for header in sorted(set(layout.headers)):
        if most is not None and layout.headers.count(header) > most:
            layout.problems.append((("identifiers",), f"{name} takes at most {most} `{header}` columns, "
                                    f"`{destination.name}` sends {layout.headers.count(header)}",
                                    "send fewer email or phone picks"))
    return layout


def _field_hint(platform: str) -> str:
    if platform in VALUE_HEADER:
        return (f"it takes picks of an email or phone field, and one number (the `{VALUE_HEADER[platform]}` "
                "column, customer value); send other fields to a `generic` destination")
    return "it takes picks of an email or phone field only; send other fields to a `generic` destination"
