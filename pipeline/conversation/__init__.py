"""How they talked: timeline and text primitives, turn-taking, prosody, acoustics, language cues, roles and scores."""
