"""Results on disk: call.json, RTTM and transcript per call, written atomically."""
