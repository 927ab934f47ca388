"""Where a training run executes and what it leaves behind: ranks/devices (torchrun), the CPU
allocator setting, and the run log (log.jsonl + stdout, JSON files written atomically)."""

from __future__ import annotations

import json
import os

LOG_FILE = "log.jsonl"
EVAL_FILE = "eval.json"  # the latest evaluation of a run


def set_cpu_math(threads: int) -> None:
    """torch's intra-op threads (0 keeps torch's default), and subnormal floats flushed to zero.

    Subnormals (|x| < 1.2e-38) cost x86 cores a microcode assist per operation. A small model
    that sits on the masked-LM plateau produces them in its backward pass: measured, an SOP run
    fell from 42k to 10k tokens/s on 2 threads, and the same steps ran 3.5x faster with
    flushing. Values that small change no update that matters; GPUs flush them anyway.
    """
    import torch

    if threads > 0:
        torch.set_num_threads(threads)
    torch.set_flush_denormal(True)


class Distributed:
    """Rank, world size and device from torchrun's env vars (RANK/WORLD_SIZE/LOCAL_RANK)."""

    def __init__(self, rank: int, world_size: int, local_rank: int, device_flag: str) -> None:
        import torch

        self.rank, self.world_size, self.local_rank = rank, world_size, local_rank
        self.is_main = rank == 0
        use_cuda = device_flag == "cuda" or (device_flag == "auto" and torch.cuda.is_available())
        self.device = torch.device(f"cuda:{local_rank}" if use_cuda else "cpu")
        if use_cuda:
            torch.cuda.set_device(self.device)
        if world_size > 1:
            torch.distributed.init_process_group("nccl" if use_cuda else "gloo")

    @classmethod
    def from_env(cls, device_flag: str) -> Distributed:
        env = os.environ
        return cls(
            int(env.get("RANK", 0)),
            int(env.get("WORLD_SIZE", 1)),
            int(env.get("LOCAL_RANK", 0)),
            device_flag,
        )

    def wrap(self, model):
        if self.world_size == 1:
            return model
        from torch.nn.parallel import DistributedDataParallel

        ids = [self.local_rank] if self.device.type == "cuda" else None
        return DistributedDataParallel(model, device_ids=ids)

    def all_sum(self, tensor):
        if self.world_size > 1:
            import torch.distributed

            torch.distributed.all_reduce(tensor)
        return tensor

    def gather(self, obj: object) -> list:
        if self.world_size == 1:
            return [obj]
        import torch.distributed

        out: list = [None] * self.world_size
        torch.distributed.all_gather_object(out, obj)
        return out

    def close(self) -> None:
        if self.world_size > 1:
            import torch.distributed

            # No rank may tear down gloo while another still talks to it (the main rank may
            # be writing the checkpoint): that aborts the process ("terminate called ...").
            torch.distributed.barrier()
            torch.distributed.destroy_process_group()


def tune_cpu_allocator() -> None:
    """Keep freed memory in glibc's heap instead of returning it to the OS.

    A training step frees and reallocates the same multi-MB activations; by default glibc
    serves them with fresh mmap()s whose page faults cost ~30% of a CPU step. No-op elsewhere.
    """
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    m_trim_threshold, m_mmap_threshold = -1, -3
    libc.mallopt(m_trim_threshold, 1 << 30)
    libc.mallopt(m_mmap_threshold, 1 << 30)


class RunLog:
    """log.jsonl + a progress display (trainer.progress) on the main rank. On resume, lines
    after the checkpoint's step (written by the interrupted run) are dropped, so the log
    reads as one run."""

    def __init__(self, run_dir: str, *, enabled: bool, keep_until: int = 0, progress=None) -> None:
        self.run_dir, self.enabled, self.progress = run_dir, enabled, progress
        if not enabled:
            return
        os.makedirs(run_dir, exist_ok=True)
        path = os.path.join(run_dir, LOG_FILE)
        kept: list[str] = []
        if keep_until and os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                kept = [line for line in f if json.loads(line).get("step", 0) <= keep_until]
        with open(path, "w", encoding="utf-8") as f:
            f.writelines(kept)

    def write(self, record: dict) -> None:
        if not self.enabled:
            return
        line = json.dumps(record, sort_keys=True)
        if self.progress is not None:
            self.progress.update(record)
        with open(os.path.join(self.run_dir, LOG_FILE), "a", encoding="utf-8") as f:
            f.write(line + "\n")

    def close(self) -> None:
        if self.enabled and self.progress is not None:
            self.progress.close()

    def write_json(self, name: str, payload: dict) -> None:
        if not self.enabled:
            return
        path = os.path.join(self.run_dir, name)
        with open(path + ".tmp", "w", encoding="utf-8") as f:
            json.dump(payload, f, indent=2, sort_keys=True)
            f.write("\n")
        os.replace(path + ".tmp", path)
