"""The ``callscope`` command line: parse, configure logging, call the library."""

from __future__ import annotations

import logging
import signal
import sys
import time
from contextlib import closing
from pathlib import Path

import click

from pipeline import __version__
from pipeline.config import load_config, with_overrides
from pipeline.errors import CallscopeError, ConfigError, Interrupted, MetadataError
from pipeline.metadata import call_id_for, check_call_id, sidecar_for

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
    from pipeline.outputs.store import write_call
    from pipeline.runner import analyze_call

    try:
        config = load_config(config_path)
        if diarization:
            config = with_overrides(config, "diarization", method=diarization)
    except ConfigError as exc:
        click.echo(f"callscope: config error: {exc}", err=True)
        sys.exit(2)
    try:  # checked as `callscope run` checks it
        metadata = sidecar_for(call_audio)  # <audio>.json beside the recording, if any
        given = check_call_id(call_id, "--call-id") if call_id else metadata and metadata.call_id
        call_id = call_id_for(call_audio, given)
    except MetadataError as exc:
        click.echo(f"callscope: metadata error: {exc}", err=True)
        sys.exit(2)

    def hook(stage: str, seconds: float, *, completed: int | None = None, total: int | None = None) -> None:
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


def _config_or_exit(config_path: Path | None):
    try:
        return load_config(config_path)
    except ConfigError as exc:
        click.echo(f"callscope: config error: {exc}", err=True)
        sys.exit(2)


def _date(text: str | None, name: str):
    from pipeline.nightly.archive import parse_date

    try:
        return parse_date(text, name) if text else None
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None


class _Progress:
    """The run's hook (``pipeline.hooks``) as a progress bar on stderr: calls done, audio hours, failures, ETA."""

    def __init__(self) -> None:
        self.bar, self.hours, self.failed = None, 0.0, 0

    def __call__(self, step: str, outcome, *, completed: int | None = None, total: int | None = None) -> None:
        if step == "start" and total:
            self.bar = click.progressbar(length=total, label="calls", show_eta=True, show_pos=True, file=sys.stderr,
                                         item_show_func=lambda _: f"{self.hours:.2f} h audio, {self.failed} failed")
            self.bar.render_progress()
        elif step == "call" and self.bar is not None:
            self.hours += outcome.audio_s / 3600
            self.failed += outcome.status == "failed"
            log.info("%s: %s in %.1f s", outcome.file, outcome.status, outcome.seconds)
            self.bar.update(1, outcome)
            if completed == total:
                self.bar.render_finish()


class _StopRequest:
    """Signal handler: while the run waits for its workers it stops at once, the calls in progress cut short
    (``engine.interruptible``); elsewhere (a catalog transaction) the request is noted and the run stops at
    its next check, within a call's bookkeeping. A second signal ends the process at once, which the atomic
    writes make safe."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __call__(self, signum: int, _frame) -> None:
        from pipeline.nightly.engine import waiting

        self.signum = self.signum or signum
        signal.signal(signum, signal.SIG_DFL)
        if waiting():
            raise Interrupted(signum)


@main.command()
@click.argument("archive_dir", type=click.Path(path_type=Path))
@click.option("--out", "out_dir", required=True, type=click.Path(path_type=Path),
              help="Directory of results: <call_id>/ per call, the catalog, run summaries.")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="YAML configuration.")
@click.option("--engine", type=click.Choice(["local", "ray"]),
              help="Where calls run: local worker processes, or a Ray cluster's actors [config run.engine: local].")
@click.option("--ray-address", help='With --engine ray: "auto", HOST:PORT, or "" for a Ray started here '
              "[config run.ray_address].")
@click.option("--workers", type=click.IntRange(0, 4096), help="Worker processes (local) or actors (ray), each "
              "loading the models once; 0: local 1, ray as many as the cluster's CPUs hold [config run.workers].")
@click.option("--threads", type=click.IntRange(0, 256), help="Threads per worker; 0: local cores / workers, "
              "ray 1 [config run.threads].")
@click.option("--since", help="Only calls started (sidecar date, else file time) on or after DATE (YYYY-MM-DD).")
def run(archive_dir: Path, out_dir: Path, config_path: Path | None, engine: str | None, ray_address: str | None,
        workers: int | None, threads: int | None, since: str | None) -> None:
    """Analyze every new or changed call of ARCHIVE_DIR into OUT (the nightly run).

    Exit codes: 0 all calls done, 1 some calls failed (listed), 2 usage, configuration, model, engine or output
    error (OUT full or read-only stops the run), 128 + N stopped by signal N (SIGTERM, SIGINT) within seconds,
    the calls in progress cut short (recorded as interrupted, analyzed again by the next run).
    """
    from pipeline.nightly.batch import run_archive
    from pipeline.nightly.engine import make_engine

    config = _config_or_exit(config_path)
    given = {"engine": engine, "ray_address": ray_address, "workers": workers, "threads": threads}
    config = with_overrides(config, "run", **{k: v for k, v in given.items() if v is not None})
    request = _StopRequest()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, request)
    try:
        with closing(make_engine(config)) as runner:
            summary = run_archive(archive_dir, out_dir, config, engine=runner, since=_date(since, "--since"),
                                  hook=_Progress(), stop=lambda: request.signum)
    except Interrupted as exc:
        click.echo(f"callscope: run {exc}; results written so far are kept, run again to resume", err=True)
        sys.exit(128 + exc.signum)
    except CallscopeError as exc:  # a bad archive or manifest, another run on OUT, an unwritable OUT, a model
        click.echo(f"callscope: {exc}", err=True)
        sys.exit(2)
    hours = summary["audio_s"] / 3600
    rate = hours / (summary["seconds"] / 3600) if summary["seconds"] else 0.0
    click.echo(f"run {summary['run_id']}: {summary['found']} calls found, {summary['analyzed']} analyzed, "
               f"{summary['skipped']} unchanged, {summary['failed']} failed; {hours:.3f} h audio in "
               f"{summary['seconds']:.1f} s ({rate:.1f} audio h/h, {summary['workers']} worker(s) x "
               f"{summary['threads_per_worker']} thread(s))")
    for e in summary["errors"]:
        click.echo(f"  failed {e['file']}: {e['stage']}: {e['cause']}")
    click.echo(f"summary: {out_dir / '_runs' / (summary['run_id'] + '.json')}")
    sys.exit(1 if summary["failed"] else 0)


@main.command()
@click.option("--db", "db_dir", required=True, type=click.Path(path_type=Path), help="Output directory of runs.")
@click.option("--level", required=True, type=click.Choice(["call", "speaker", "agent"]))
@click.option("--format", "fmt", default="csv", show_default=True, type=click.Choice(["csv", "parquet"]))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Report file.")
@click.option("--from", "date_from", help="First day (YYYY-MM-DD) of the calls' start.")
@click.option("--to", "date_to", help="Last day (YYYY-MM-DD), inclusive.")
@click.option("--agent", help="Only this agent's calls.")
@click.option("--redact", is_flag=True, help="Mask card, account and phone numbers and e-mail addresses in "
              "transcript text (redaction.*).")
@click.option("--config", "config_path", type=click.Path(path_type=Path),
              help="YAML configuration (archive.*, redaction.*).")
def export(db_dir: Path, level: str, fmt: str, out: Path, date_from: str | None, date_to: str | None,
           agent: str | None, redact: bool, config_path: Path | None) -> None:
    """Write an analysts' report (CSV or Parquet) and its data dictionary (OUT.dictionary.md)."""
    from pipeline.reporting.export import export as write_export

    config = _config_or_exit(config_path)
    try:
        table, dictionary = write_export(db_dir, level, fmt, out, date_from=_date(date_from, "--from"),
                                         date_to=_date(date_to, "--to"), agent=agent, redact_digits=redact,
                                         config=config)
    except CallscopeError as exc:
        click.echo(f"callscope: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{out}: {len(table.rows)} rows, {len(table.columns)} columns; dictionary {dictionary}")


@main.command()
@click.argument("call_dir", required=False, type=click.Path(path_type=Path, file_okay=False))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="HTML page to write.")
@click.option("--agent", help="Write this agent's trend page from the catalog instead of a call page.")
@click.option("--db", "db_dir", type=click.Path(path_type=Path), help="Output directory of runs (with --agent).")
@click.option("--from", "date_from", help="First day (YYYY-MM-DD) of the calls' start (with --agent).")
@click.option("--to", "date_to", help="Last day (YYYY-MM-DD), inclusive (with --agent).")
@click.option("--config", "config_path", type=click.Path(path_type=Path), help="YAML configuration (cue lexicons).")
def report(call_dir: Path | None, out: Path, agent: str | None, db_dir: Path | None, date_from: str | None,
           date_to: str | None, config_path: Path | None) -> None:
    """Write a self-contained HTML page: of the call in CALL_DIR, or of one agent (--agent ID --db DIR).

    A call page plays the recording when it sits beside the page under its own file name.
    """
    import json

    from pipeline.reporting import report as pages

    if (call_dir is None) == (agent is None):
        raise click.UsageError("give either CALL_DIR or --agent ID with --db DIR")
    if agent is None:
        try:
            doc = json.loads((call_dir / "call.json").read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            click.echo(f"callscope: {call_dir}: no readable call.json ({exc})", err=True)
            sys.exit(2)
        name = Path(doc["source"]).name
        recording = name if (out.parent / name).is_file() else None
        pages.write_page(pages.call_page(doc, _config_or_exit(config_path), recording), out)
        click.echo(f"{out}: call {doc['call_id']}" + (f", playing {recording}" if recording else ""))
        return
    if db_dir is None:
        raise click.UsageError("--agent needs --db DIR")
    from pipeline.nightly.catalog import connect
    from pipeline.reporting.export import build

    first, last = _date(date_from, "--from"), _date(date_to, "--to")
    try:
        con = connect(db_dir, read_only=True)
    except CallscopeError as exc:
        click.echo(f"callscope: {exc}", err=True)
        sys.exit(2)
    try:
        table = build(con, "speaker", date_from=first, date_to=last, agent=agent)
    finally:
        con.close()
    period = f"{first or 'first call'} to {last or 'last call'}"
    pages.write_page(pages.agent_page(table, agent, period), out)
    click.echo(f"{out}: agent {agent}, {len({r[0] for r in table.rows})} call(s)")


@main.group()
def catalog() -> None:
    """The DuckDB catalog of an output directory."""


@catalog.command()
@click.option("--db", "db_dir", required=True, type=click.Path(path_type=Path, file_okay=False, exists=True),
              help="Output directory of runs.")
def rebuild(db_dir: Path) -> None:
    """Make the catalog again from the per-call files and run summaries."""
    from pipeline.nightly import catalog as store
    from pipeline.nightly.batch import run_lock

    try:
        with run_lock(db_dir):
            store.rebuild(db_dir)
    except CallscopeError as exc:
        click.echo(f"callscope: {exc}", err=True)
        sys.exit(2)
    click.echo(f"{db_dir / store.CATALOG}: rebuilt")


if __name__ == "__main__":
    main()
