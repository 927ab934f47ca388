"""Local or remote folders: write (or read) through a local staging copy when the folder is a
URI (gs://, s3://, ...), so pyarrow and the tokenizers library only ever see local files."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

_COPY_CHUNK = 1 << 20


def is_local(path: str) -> bool:
    return "://" not in path or path.startswith("file://")


def local_path(path: str) -> str:
    return path[len("file://") :] if path.startswith("file://") else path


@contextmanager
def staged_folder(output_dir: str) -> Iterator[str]:
    """A local folder to write into: ``output_dir`` itself when it is local; otherwise a
    temporary folder whose files are copied to ``output_dir`` (through Beam's FileSystems)
    when the block ends without an exception, and which is removed in any case."""
    if is_local(output_dir):
        yield local_path(output_dir)
        return
    from apache_beam.io.filesystems import FileSystems

    tmp = tempfile.mkdtemp(prefix="bertcorpus-stage-")
    try:
        yield tmp
        for name in sorted(os.listdir(tmp)):
            with (
                open(os.path.join(tmp, name), "rb") as src,
                FileSystems.create(FileSystems.join(output_dir, name)) as dst,
            ):
                shutil.copyfileobj(src, dst, _COPY_CHUNK)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def local_copy(directory: str, name: str) -> Iterator[str]:
    """The local path of ``directory``/``name``: the file itself when local; otherwise a
    temporary copy, removed when the block ends."""
    if is_local(directory):
        yield os.path.join(local_path(directory), name)
        return
    from apache_beam.io.filesystems import FileSystems

    tmp = tempfile.mkdtemp(prefix="bertcorpus-read-")
    try:
        local = os.path.join(tmp, os.path.basename(name))
        with FileSystems.open(FileSystems.join(directory, name)) as src, open(local, "wb") as dst:
            shutil.copyfileobj(src, dst, _COPY_CHUNK)
        yield local
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
