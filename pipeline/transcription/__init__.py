"""What was said: the ASR stage (faster-whisper), per channel on stereo calls."""
