"""Call metadata from a JSON sidecar (``<audio file>.json``) or a mapping, validated at the boundary."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, get_args

from pipeline.errors import ConfigError
from pipeline.types import Role

ROLES = get_args(Role)
TEXT_FIELDS = ("call_id", "agent_id", "started_at", "queue", "direction")


@dataclass(frozen=True)
class CallMetadata:
    """What the recording system knows about a call; every field optional.

    ``started_at``: ISO 8601 text as given; ``direction``: e.g. inbound, outbound;
    ``channel_roles``: audio channel index -> agent, customer or unknown.
    """

    call_id: str | None = None
    agent_id: str | None = None
    started_at: str | None = None
    queue: str | None = None
    direction: str | None = None
    channel_roles: dict[int, Role] = field(default_factory=dict)


def metadata_from_dict(data: Any, source: str = "metadata") -> CallMetadata:
    """A ``CallMetadata`` from a mapping; raises ``ConfigError`` naming ``source`` and the bad key."""
    if not isinstance(data, Mapping):
        raise ConfigError(f"{source}: expected a JSON object, got {type(data).__name__}")
    valid = [f.name for f in fields(CallMetadata)]
    unknown = sorted(set(data) - set(valid))
    if unknown:
        raise ConfigError(f"{source}: unknown key {', '.join(map(repr, unknown))} (valid: {', '.join(valid)})")
    for key in TEXT_FIELDS:
        if data.get(key) is not None and not isinstance(data[key], str):
            raise ConfigError(f"{source}: {key} must be text, got {data[key]!r}")
    roles = data.get("channel_roles") or {}
    if isinstance(roles, list):  # ["agent", "customer"]: roles in channel order, as the archive manifest has them
        roles = dict(enumerate(roles))
    if not isinstance(roles, Mapping):
        raise ConfigError(f"{source}: channel_roles must map channel numbers to roles, got {roles!r}")
    channel_roles = {}
    for channel, role in roles.items():
        if not str(channel).isdigit() or role not in ROLES:
            raise ConfigError(f"{source}: channel_roles entry {channel!r}: {role!r} needs a channel number "
                              f"and one of {', '.join(ROLES)}")
        channel_roles[int(channel)] = role
    return CallMetadata(**{k: data.get(k) for k in TEXT_FIELDS}, channel_roles=channel_roles)


def load_metadata(path: str | Path) -> CallMetadata:
    """Read a metadata JSON file; raises ``ConfigError`` naming the file when it is unreadable or invalid."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read metadata: {exc}".replace("\n", " ")) from exc
    return metadata_from_dict(data, str(path))


def sidecar_path(audio_path: str | Path) -> Path:
    """Where a recording's sidecar lives: the audio file name plus ``.json`` (``call.wav.json``)."""
    return Path(f"{audio_path}.json")


def sidecar_for(audio_path: str | Path) -> CallMetadata | None:
    """The recording's sidecar metadata, None when there is no sidecar."""
    path = sidecar_path(audio_path)
    return load_metadata(path) if path.is_file() else None
