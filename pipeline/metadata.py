"""Call metadata from a JSON sidecar (``<audio file>.json``), a manifest row or a mapping, validated at the
boundary by one function for ``callscope analyze`` and ``callscope run`` alike."""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, get_args

from pipeline.errors import MetadataError
from pipeline.types import Role

FIELDS = ("call_id", "agent_id", "started_at", "queue", "direction", "hotwords", "initial_prompt", "channel_roles")
TEXT_FIELDS = FIELDS[:-1]
DIRECTIONS = ("inbound", "outbound")
ROLES = get_args(Role)
CALL_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
NAMES = ("agent_id", "queue")  # what analysts group and filter by: one spelling for one agent or queue


@dataclass(frozen=True)
class CallMetadata:
    """What the recording system knows about a call; every field optional.

    ``started_at``: ISO 8601; ``direction``: inbound or outbound; ``hotwords``, ``initial_prompt``: the ASR's
    vocabulary hints for this call (a queue's products and names), in place of the config's;
    ``channel_roles``: audio channel index -> agent, customer or unknown.
    """

    call_id: str | None = None
    agent_id: str | None = None
    started_at: str | None = None
    queue: str | None = None
    direction: str | None = None
    hotwords: str | None = None
    initial_prompt: str | None = None
    channel_roles: dict[int, Role] = field(default_factory=dict)

    def asr_hints(self) -> dict[str, str]:
        """The ASR settings this call replaces (``hotwords``, ``initial_prompt``) where it gives them."""
        return {k: v for k in ("hotwords", "initial_prompt") if (v := getattr(self, k))}

    @classmethod
    def from_fields(cls, fields: Mapping[str, Any]) -> CallMetadata:
        """From the fields ``validate_metadata`` returns (channel roles in channel order)."""
        return cls(**{k: fields.get(k) for k in TEXT_FIELDS},
                   channel_roles=dict(enumerate(fields.get("channel_roles") or [])))


def validate_metadata(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Every field of ``FIELDS``, checked and normalised (None where absent or empty; ``started_at`` in
    ISO 8601; ``channel_roles`` a list in channel order); ``MetadataError`` naming ``where`` and the field."""
    unknown = sorted(set(raw) - set(FIELDS))
    if unknown:
        raise MetadataError(f"{where}: unknown field {', '.join(map(repr, unknown))} (valid: {', '.join(FIELDS)})")
    out: dict[str, Any] = dict.fromkeys(FIELDS)
    for key, value in raw.items():
        if value is None or value == "":
            continue
        if key == "channel_roles":
            roles = value.split(";") if isinstance(value, str) else value
            if isinstance(roles, dict) and set(map(str, roles)) <= {"0", "1"}:  # {"0": "agent", ...}
                roles = [roles.get(str(ch), roles.get(ch, "unknown")) for ch in range(max(map(int, roles)) + 1)]
            if not isinstance(roles, list) or not 1 <= len(roles) <= 2 or any(r not in ROLES for r in roles):
                raise MetadataError(f"{where}: channel_roles {value!r} is not a list of 1-2 of {', '.join(ROLES)}")
            out[key] = list(roles)
            continue
        if not isinstance(value, str):
            raise MetadataError(f"{where}: {key} {value!r} is not a string")
        value = clean_text(key, value, where)
        if not value:
            continue
        if key == "call_id":
            check_call_id(value, where)
        if key == "direction" and value not in DIRECTIONS:
            raise MetadataError(f"{where}: direction {value!r} is not one of {', '.join(DIRECTIONS)}")
        if key == "started_at":
            try:
                value = datetime.fromisoformat(value).isoformat()
            except ValueError:
                raise MetadataError(f"{where}: started_at {value!r} is not an ISO 8601 time") from None
        out[key] = value
    return out


def clean_text(key: str, value: str, where: str) -> str:
    """``value`` as every output can hold it, or ``MetadataError`` naming ``where``, the field and the
    character: no lone surrogates (not Unicode: no database or file takes them) and no control
    characters but tab and newline. Names (``NAMES``) also lose surrounding spaces, take Unicode's
    composed form (NFC) and refuse format characters (bidi overrides, zero-width spaces), which would
    split one agent into several rows or spoof another's name."""
    name = key in NAMES
    value = value.strip() if name else value
    allowed = "" if name else "\t\n"
    for char in value:
        kind = unicodedata.category(char)
        if kind == "Cs" or (kind == "Cc" and char not in allowed) or (kind == "Cf" and name):
            what = {"Cs": "a lone surrogate", "Cc": "a control character", "Cf": "a format character"}[kind]
            raise MetadataError(f"{where}: {key} {value!r} holds {what} (U+{ord(char):04X})")
    return unicodedata.normalize("NFC", value) if name else value


def check_call_id(call_id: str, where: str) -> str:
    """``call_id`` when it is safe as a directory name; ``MetadataError`` naming ``where`` otherwise."""
    if not CALL_ID.fullmatch(call_id):
        raise MetadataError(f"{where}: call_id {call_id!r} must be letters, digits, '.', '_' or '-', "
                            "starting with a letter or digit")
    return call_id


def call_id_for(audio_path: Path, call_id: str | None) -> str:
    """The call id given, else the recording's file stem; ``MetadataError`` when the stem is no call id."""
    if call_id is None and not CALL_ID.fullmatch(audio_path.stem):
        raise MetadataError(f"{audio_path}: the file name is not a valid call id; give call_id in a sidecar")
    return call_id or audio_path.stem


def metadata_from_dict(data: Mapping[str, Any], source: str = "metadata") -> CallMetadata:
    """A ``CallMetadata`` from a mapping, checked by ``validate_metadata``."""
    return CallMetadata.from_fields(validate_metadata(data, source))


def read_sidecar(path: str | Path) -> dict[str, Any]:
    """A sidecar's JSON object, unchecked; ``MetadataError`` naming the file when it is not one."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MetadataError(f"{path}: not readable JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(doc, dict):
        raise MetadataError(f"{path}: expected a JSON object, got {type(doc).__name__}")
    return doc


def load_metadata(path: str | Path) -> CallMetadata:
    """A metadata JSON file, read and checked; ``MetadataError`` naming the file."""
    return metadata_from_dict(read_sidecar(path), str(path))


def sidecar_path(audio_path: str | Path) -> Path:
    """Where a recording's sidecar lives: the audio file name plus ``.json`` (``call.wav.json``)."""
    return Path(f"{audio_path}.json")


def sidecar_for(audio_path: str | Path) -> CallMetadata | None:
    """The recording's sidecar metadata, None when there is no sidecar."""
    path = sidecar_path(audio_path)
    return load_metadata(path) if path.is_file() else None
