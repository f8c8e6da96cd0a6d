"""Audio in: decoding to 16 kHz, signal helpers (the one sample rate and 10 ms frame), echo, speech activity."""
