"""The ``callscope`` command line: parse, configure logging, call the library."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import click

from pipeline import __version__
from pipeline.config import load_config, with_overrides
from pipeline.errors import CallscopeError, ConfigError
from pipeline.metadata import sidecar_for

log = logging.getLogger("callscope")


@click.group()
@click.version_option(__version__, prog_name="callscope")
@click.option("-v", "--verbose", count=True, help="More log output (-v info, -vv debug).")
def main(verbose: int) -> None:
    """callscope: who said what, when and how, in recorded customer-service calls."""
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(levelname)s %(name)s: %(message)s")


@main.command()
@click.argument("call_audio", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Directory that receives <call_id>/ with call.json, RTTM and transcript.")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="YAML configuration (defaults: configs/default.yaml).")
@click.option("--diarization", type=click.Choice(["auto", "channels", "embedding", "pyannote"]),
              help="Override diarization.method.")
@click.option("--call-id", help="Call id (default: the sidecar's call_id, else the file stem).")
def analyze(call_audio: Path, out_dir: Path, config_path: Path | None, diarization: str | None,
            call_id: str | None) -> None:
    """Analyze one recorded call into OUT/<call_id>/; metadata from CALL_AUDIO.json if present."""
    from pipeline.runner import analyze_call
    from pipeline.store import write_call

    try:
        config = load_config(config_path)
        if diarization:
            config = with_overrides(config, "diarization", method=diarization)
        metadata = sidecar_for(call_audio)  # <audio>.json beside the recording, if any
    except ConfigError as exc:
        click.echo(f"callscope: config error: {exc}", err=True)
        sys.exit(2)

    def hook(stage: str, seconds: float) -> None:
        log.info("%s: %s done in %.2f s", call_audio, stage, seconds)

    try:
        result = analyze_call(call_audio, config, hook=hook, call_id=call_id, metadata=metadata)
        t0 = time.perf_counter()
        target = write_call(result, out_dir)
    except CallscopeError as exc:
        click.echo(f"callscope: error: {exc}", err=True)
        sys.exit(1)
    log.info("wrote %s in %.2f s", target, time.perf_counter() - t0)
    click.echo(f"{target}: {len(result.alignment.words)} words, "
               f"{len({s.speaker for s in result.alignment.segments})} speakers, "
               f"{result.audio.duration_s:.1f} s audio in {result.timings_s['total']:.1f} s")


if __name__ == "__main__":
    main()
