"""The nightly run over an archive: the scan, the run itself (resumable, in worker processes) and the catalog."""
