"""Download raw corpora with checksum verification and resume.

    python -m pipeline.download --wiki ja --output data/raw [--date 20230501]
        [--base_url https://dumps.wikimedia.org] [--dump pages-articles]
    python -m pipeline.download --recipe en --output data/raw [--mirror URL] [--wiki_parts 1]

``--wiki``: Wikimedia publishes ``<db>-<date>-sha1sums.txt`` beside each dump; the file is
verified against it. ``--recipe``: every source a ``pipeline.corpus`` recipe reads (see
pipeline/catalog.py), laid out under OUTPUT as that recipe expects. An interrupted download
resumes with an HTTP Range request, within one run (a cut connection) and across runs (the
``.part`` file is kept). The cleaning job can also stream a dump straight from its URL
(smart_open); downloading first pays off when several jobs read the same dump.
"""

from __future__ import annotations

import argparse

from pipeline.catalog import fetch_recipe
from pipeline.fetch import DEFAULT_BASE_URL, DownloadError, WikiDump, download_wiki
from pipeline.recipes import RECIPES
from schemas.cli import CommandParser, UserError, add_debug_flag, run_command


def _add_args(parser: argparse.ArgumentParser) -> None:
    what = parser.add_mutually_exclusive_group(required=True)
    what.add_argument("--wiki", help="Wikipedia language code, e.g. en, ja, uk")
    what.add_argument(
        "--recipe", choices=sorted(RECIPES), help="every source of a pipeline.corpus recipe"
    )
    parser.add_argument("--output", required=True, help="folder to write the files to")
    parser.add_argument("--date", default="latest", help="dump date YYYYMMDD or 'latest'")
    parser.add_argument(
        "--dump",
        default="pages-articles",
        help="dump kind; pages-articles-multistream also fetches its index, so that "
        "pipeline.clean reads the dump with many workers",
    )
    parser.add_argument("--base_url", default=DEFAULT_BASE_URL, help="dumps mirror")
    parser.add_argument(
        "--mirror", default=None, help="--recipe: fetch https://HOST/PATH from MIRROR/HOST/PATH"
    )
    parser.add_argument(
        "--wiki_parts",
        type=int,
        default=1,
        help="--recipe: multistream parts per big Wikipedia (0: all; the whole dump)",
    )


def run(argv: list[str] | None = None) -> str:
    """Run the command (a user error or a failed download: one ``error:`` line, exit 2)."""
    return run_command(_run, argv)


def _run(argv: list[str]) -> str:
    parser = CommandParser(prog="python -m pipeline.download", description=__doc__.split("\n\n")[0])
    _add_args(parser)
    add_debug_flag(parser)
    args = parser.parse_args(argv)
    try:
        if args.recipe:
            paths = fetch_recipe(args.recipe, args.output, mirror=args.mirror,
                                 wiki_parts=args.wiki_parts, date=args.date)  # fmt: skip
            print("\n".join(paths))
            return args.output
        dump = WikiDump(args.wiki, args.date, args.dump, args.base_url)
        path = download_wiki(dump, args.output)
    except DownloadError as exc:  # a bad language, date or mirror, a checksum mismatch
        raise UserError(f"download failed: {exc}") from exc
    print(path)
    return path


if __name__ == "__main__":
    run()
