"""The models, each loaded once per process from the package that ships it: ASR, speaker encoders,
segmentation, pyannote."""
