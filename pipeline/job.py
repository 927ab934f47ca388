"""What every job entry point shares: flag parsing and the run -> stats.json epilogue.

Our flags are parsed by a plain argparse parser and every other flag goes to Beam untouched.
They are deliberately not a PipelineOptions subclass: Beam merges the flags of every such
subclass loaded in a process into one parser, so two jobs in one process (a notebook, a test
session, an orchestrator) would clash on --input/--output, and one job's defaults could
silently become another's.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import sys
import weakref
from collections.abc import Callable, Mapping

from schemas.cli import CommandParser, UserError, add_debug_flag
from schemas.run_record import RUN_FIELD, RunIdentity

BEAM_EPILOG = (
    "Every other flag goes to Apache Beam unchanged, e.g. --runner=DataflowRunner "
    "--project=P --region=R --temp_location=gs://B/tmp, or "
    "--direct_running_mode=multi_processing --direct_num_workers=4."
)


def parse_job_args(
    argv: list[str], *, prog: str, doc: str, add_args: Callable[[argparse.ArgumentParser], None]
) -> tuple[argparse.Namespace, list[str]]:
    """(our flags, Beam flags). ``--help`` prints ours and exits before Beam is imported."""
    parser = CommandParser(
        prog=prog,
        description=doc,
        epilog=BEAM_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        allow_abbrev=False,  # never let a Beam flag be read as an abbreviation of ours
    )
    add_args(parser)
    parser.add_argument(
        "--verbose", action="store_true", help="show Beam's and the libraries' log lines"
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="replace another run's outputs in --output (only the files the jobs write); "
        "without it a folder holding a run with other inputs or settings is refused",
    )
    add_debug_flag(parser)
    return parser.parse_known_args(argv)


# Pipeline -> its job's parsed flags (--verbose, --overwrite), so run_and_record needs no
# extra argument.
_FLAGS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def new_pipeline(
    argv: list[str] | None,
    *,
    prog: str,
    doc: str,
    add_args: Callable[[argparse.ArgumentParser], None],
):
    """(our flags, a Beam Pipeline over the other flags) from ``argv`` (None: sys.argv)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args, beam_args = parse_job_args(argv, prog=prog, doc=doc, add_args=add_args)
    from pipeline.console import quiet_libraries

    quiet_libraries(args.verbose)
    import apache_beam as beam  # after parsing, so --help stays instant

    options = beam_options(beam_args)
    pipeline = beam.Pipeline(runner=local_runner(options), options=options)
    _FLAGS[pipeline] = args
    return args, pipeline


def beam_options(beam_args: list[str]):
    from apache_beam.options.pipeline_options import PipelineOptions

    return PipelineOptions(beam_args)


def local_runner(options):
    """The runner when no ``--runner`` is given: Beam's FnApiRunner, in-process or, with
    ``--direct_running_mode=multi_processing``, with SDK worker processes; None otherwise.

    Beam's default DirectRunner first tries to download and start the Prism runner (a Go
    binary from GitHub) and falls back to this same FnApiRunner when it cannot, so a job's
    runner, its worker flags and its memory behaviour would depend on whether the machine is
    online. Pinning it keeps local runs alike everywhere (and skips the download attempt);
    ``--runner=PrismRunner`` still picks Prism.
    """
    from apache_beam.options.pipeline_options import StandardOptions

    if options.view_as(StandardOptions).runner is not None:
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    # As DirectRunner builds it: the options reach the SDK workers through provisioning.
    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    info = beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    return fn_runner.FnApiRunner(provision_info=fn_runner.ExtendedProvisionInfo(info))


# "schemas.shards.ShardError: shard X: sha256 mismatch ..." in a worker's traceback text.
_RAISED = re.compile(r"^((?:schemas|transforms|pipeline)(?:\.\w+)+)\.(\w+): (.+)$", re.M)


def worker_user_error(exc: BaseException) -> UserError | None:
    """The UserError a worker process raised, if it is what failed the run; else None.

    Runners with worker processes (multi_processing DirectRunner, Dataflow) re-raise a step's
    exception in the driver as a RuntimeError holding the worker's traceback as text; the
    last exception it names, when one of our UserError classes, is made a UserError again.
    """
    for module, name, message in reversed(_RAISED.findall(str(exc))):
        try:
            cls = getattr(importlib.import_module(module), name)
        except (ImportError, AttributeError):
            continue
        if isinstance(cls, type) and issubclass(cls, UserError):
            return UserError(message)
    return None


def run_and_record(
    pipeline,
    *,
    job: str,
    output: str,
    manifest: bool,
    settings: Mapping[str, object],
    extra: Callable[[object, dict], dict] | None = None,
    **fields: object,
) -> dict:
    """Run ``pipeline``; write OUTPUT/stats.json (counters + ledger + ``fields`` + ``extra`` +
    the run record), add the counters to the manifest and print the summary table.

    First OUTPUT is claimed for this run (pipeline/output_folder.py): refused when it holds
    another run (``settings``: what defines this one, inputs included) unless --overwrite,
    else cleared of our old outputs. Beam's log lines are captured (replayed if the run fails)
    unless the job ran with --verbose; a terminal shows a progress line meanwhile. A Dataflow
    dry run touches no file and returns {"dry_run": True}."""
    from apache_beam.options.pipeline_options import TestOptions

    from pipeline.console import Ticker, captured_stderr
    from pipeline.output_folder import claim_output
    from pipeline.summary import format_table, stage_row
    from transforms.shared.accounting import counters_from_result, write_stats
    from transforms.shared.shardio import finalize_manifest

    flags = _FLAGS.get(pipeline)
    identity = RunIdentity(job, settings)
    dry_run = pipeline.options.view_as(TestOptions).dry_run
    if not dry_run:
        claim_output(output, identity, overwrite=bool(getattr(flags, "overwrite", False)))
    stage = f"{job} {os.path.basename(output.rstrip('/'))}"
    with captured_stderr(not getattr(flags, "verbose", False)) as terminal:
        with Ticker(stage, output, terminal) as ticker:
            try:
                result = pipeline.run()
                result.wait_until_finish()
            except Exception as exc:
                user_error = None if isinstance(exc, UserError) else worker_user_error(exc)
                if user_error is None:
                    raise
                raise user_error from exc
    if dry_run:
        return {"dry_run": True}  # the graph was built; nothing ran, no files
    counters = counters_from_result(result)
    more = extra(result, counters) if extra else {}
    run = {RUN_FIELD: identity.record()}
    stats = write_stats(output, counters, job=job, **fields, **more, **run)
    if manifest:
        finalize_manifest(output, counters=counters)
    print(format_table([stage_row(stage, output, stats, ticker.seconds)]), flush=True)
    return stats
