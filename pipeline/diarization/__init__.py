"""Who spoke when: one party per stereo channel, speaker embeddings on mono, or pyannote; words joined to speakers."""
