"""Who is the agent: from a channel map (metadata sidecar, then config) or from the words.

Evidence (docs/metrics.md, *Roles*): each speaker earns agent-likeness points,

    phrase_weight x (agent phrases - customer phrases, each capped at max_phrases)
    + opens_call_weight if they say the call's first words + question_share_weight x their share of the questions,

and the two most agent-like speakers are compared: ``confidence = 1 / (1 + exp(-(a1 - a2)))``. At
``min_confidence`` or above the first is the agent and everybody else a customer; below, all are
``unknown``. Speaking first and asking questions alone reach at most 0.73: only service phrases
("thank you for calling", "how can I help", "your account") can make a speaker the agent.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Literal

from pipeline.config import RolesConfig
from pipeline.conversation.text import count_phrases, tokens
from pipeline.types import Alignment, CallCues, Role, RoleAssignment


def from_channels(channel_of: Mapping[str, int], channel_roles: Mapping[int, Role],
                  source: Literal["metadata", "config"]) -> dict[str, RoleAssignment]:
    """Roles of channel-diarized speakers from a channel map; a channel not in the map is ``unknown``."""
    return {spk: RoleAssignment(channel_roles.get(ch, "unknown"), 1.0, source, 0.0) for spk, ch in channel_of.items()}


def agent_evidence(alignment: Alignment, cues: CallCues, config: RolesConfig) -> dict[str, float]:
    """Agent-likeness points per speaker (see the module docstring)."""
    asked = sum(c.questions for c in cues.speakers.values())
    first = alignment.words[0].speaker if alignment.words else None  # who says the first words of the call
    out = {}
    for spk, c in cues.speakers.items():
        said = tokens(" ".join(w.text for w in alignment.words if w.speaker == spk))
        phrases = (min(count_phrases(said, config.agent_phrases), config.max_phrases)
                   - min(count_phrases(said, config.customer_phrases), config.max_phrases))
        out[spk] = (config.phrase_weight * phrases + config.opens_call_weight * (spk == first)
                    + config.question_share_weight * (c.questions / asked if asked else 0.0))
    return out


def assign(alignment: Alignment, cues: CallCues, config: RolesConfig,
           channel_roles: Mapping[int, Role] | None = None) -> dict[str, RoleAssignment]:
    """Role of every speaker of ``cues``: a metadata channel map, else the config's, else the evidence.

    Channel maps apply only to channel-diarized calls (``alignment.channel_of`` set).
    """
    if alignment.channel_of and channel_roles:
        return from_channels(alignment.channel_of, channel_roles, "metadata")
    if alignment.channel_of and config.channel_roles:
        return from_channels(alignment.channel_of, dict(enumerate(config.channel_roles)), "config")
    return from_evidence(alignment, cues, config)


def from_evidence(alignment: Alignment, cues: CallCues, config: RolesConfig) -> dict[str, RoleAssignment]:
    """Roles from what each speaker said (the module docstring), whatever channel map there is."""
    points = agent_evidence(alignment, cues, config)
    if not points:
        return {}
    ranked = sorted(points, key=lambda s: -points[s])
    runner_up = points[ranked[1]] if len(ranked) > 1 else 0.0
    confidence = 1 / (1 + math.exp(-(points[ranked[0]] - runner_up)))
    sure = confidence >= config.min_confidence
    return {spk: RoleAssignment(("agent" if spk == ranked[0] else "customer") if sure else "unknown",
                                confidence, "evidence", points[spk]) for spk in points}


def map_doubt(assigned: Mapping[str, RoleAssignment], by_words: Mapping[str, RoleAssignment],
              channel_of: Mapping[str, int]) -> str | None:
    """A note when a channel map calls customer the speaker whom the words name the agent at
    ``min_confidence`` or above (a recorder that swapped its channels, or a wrong sidecar); else None.
    The map's roles stand: the note tells the analyst to check them."""
    agent = next((spk for spk, r in by_words.items() if r.role == "agent"), None)
    mapped = assigned.get(agent)
    if mapped is None or mapped.source == "evidence" or mapped.role != "customer":
        return None
    return (f"roles: the {mapped.source} channel map makes channel {channel_of[agent]} the customer, but its words "
            f"are the agent's (confidence {by_words[agent].confidence:.2f}): channels swapped?")
