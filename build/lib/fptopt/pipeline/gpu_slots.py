"""Give each concurrent local training job its own GPU.

``snakemake --cores 16 --resources gpu=4`` caps how many jobs declaring
``resources: gpu=1`` run at once, but it does not say *which* GPU a job should
use.  :func:`gpu_slot` fills that gap: it claims free device ids with an
exclusive, non-blocking ``fcntl.flock`` on one lock file per device
(``<lock_dir>/gpu<id>.lock``) and sets ``CUDA_VISIBLE_DEVICES`` to them for
the duration of the ``with`` block::

    with gpu_slot(n_wanted=snakemake.resources.gpu):
        run_training_job(...)

It must be entered before CUDA is initialized in the process (i.e. before the
first ``torch.cuda`` call); torch is never imported here.

The locks belong to the open file descriptors, so the kernel releases them when
the process exits in any way, including ``SIGKILL`` or an out-of-memory kill:
there are no stale locks to clean up, and lock files are never deleted.  (A
forked child such as a DataLoader worker shares the descriptor, so the slot is
only freed once those children are gone too.)

Devices are counted, in this order: the ``visible`` argument; the entries of an
existing ``CUDA_VISIBLE_DEVICES`` (set e.g. by SLURM; ids are then picked among
those entries and keep their labels); ``FPTOPT_FAKE_GPU_COUNT`` (tests); the
line count of ``nvidia-smi -L``; otherwise 0.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Iterator, Sequence

ENV = "CUDA_VISIBLE_DEVICES"
_POLL_S = 0.1
_claimed: list[str] = []  # ids held by open gpu_slot blocks of this process


def default_lock_dir() -> Path:
    """``$FPTOPT_GPU_LOCK_DIR``, else ``<tmpdir>/fptopt-gpu-locks-<uid>``.

    Inside a SLURM job the job id is appended: SLURM renumbers the GPUs of
    each job from 0, so two jobs on one node must not share lock files.
    """
    if os.environ.get("FPTOPT_GPU_LOCK_DIR"):
        return Path(os.environ["FPTOPT_GPU_LOCK_DIR"])
    name = f"fptopt-gpu-locks-{os.getuid()}"
    if os.environ.get("SLURM_JOB_ID"):
        name += f"-slurm{os.environ['SLURM_JOB_ID']}"
    return Path(tempfile.gettempdir()) / name


def visible_devices(visible: Sequence[str | int] | None = None) -> list[str]:
    """Labels of the devices this process may use (see module docstring)."""
    if visible is not None:
        return [str(v).strip() for v in visible]
    if ENV in os.environ:
        return [d.strip() for d in os.environ[ENV].split(",") if d.strip()]
    fake = os.environ.get("FPTOPT_FAKE_GPU_COUNT")
    if fake:
        return [str(i) for i in range(int(fake))]
    try:
        out = subprocess.run(
            ["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30, check=True
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    n = sum(1 for line in out.splitlines() if line.startswith("GPU "))
    return [str(i) for i in range(n)]


def claimed_devices() -> list[str]:
    """Device labels claimed by the ``gpu_slot`` blocks open in this process."""
    return list(_claimed)


def _try_lock(path: Path) -> int | None:
    """Open ``path`` and take an exclusive non-blocking flock; fd or None."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as exc:
        os.close(fd)
        if exc.errno in (errno.EAGAIN, errno.EACCES, errno.EWOULDBLOCK):
            return None
        raise
    os.ftruncate(fd, 0)
    os.write(fd, f"{os.getpid()}\n".encode())  # holder pid, for humans only
    return fd


def _release(fds: list[int]) -> None:
    for fd in fds:
        with contextlib.suppress(OSError):
            fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)


def _warn_if_cuda_initialized() -> None:
    torch = sys.modules.get("torch")
    with contextlib.suppress(Exception):
        if torch is not None and torch.cuda.is_initialized():
            print("gpu_slot: CUDA was already initialized in this process; "
                  f"{ENV} set now has no effect", file=sys.stderr)


@contextlib.contextmanager
def gpu_slot(
    n_wanted: int = 1,
    lock_dir: str | os.PathLike | None = None,
    visible: Sequence[str | int] | None = None,
    timeout_s: float = 3600.0,
) -> Iterator[list[str]]:
    """Claim ``n_wanted`` free GPUs and set ``CUDA_VISIBLE_DEVICES`` to them.

    Yields the claimed device labels (comma-joined into the variable).  With
    ``n_wanted == 0`` (CPU job) nothing is touched and ``[]`` is yielded; the
    same holds, with a note on stderr, when no GPU is found at all, so the
    training code reports its own "no CUDA device" error.  All devices are
    claimed together or none: a partial claim is released before waiting.
    On exit, also through an exception, the previous value of the variable
    (or its absence) is restored and the locks are released.

    Raises ValueError if more devices are wanted than exist, and RuntimeError
    (naming the lock dir) if they are not free within ``timeout_s`` seconds.
    Blocks do not nest without ``visible``: an inner block would only see the
    outer block's (locked) devices, so that raises RuntimeError at once.
    """
    n_wanted = int(n_wanted or 0)
    if n_wanted <= 0:
        yield []
        return
    if _claimed and visible is None:
        raise RuntimeError(f"gpu_slot: this process already holds GPU(s) "
                           f"{','.join(_claimed)}; nested gpu_slot needs visible=")
    devices = visible_devices(visible)
    if not devices:
        print(f"gpu_slot: {n_wanted} GPU(s) wanted but none found; "
              f"{ENV} left unchanged", file=sys.stderr)
        yield []
        return
    if n_wanted > len(devices):
        raise ValueError(f"gpu_slot: {n_wanted} GPUs wanted, only {len(devices)} "
                         f"visible ({','.join(devices)})")
    lock_dir = Path(lock_dir) if lock_dir is not None else default_lock_dir()
    lock_dir.mkdir(parents=True, exist_ok=True)

    deadline = time.monotonic() + timeout_s
    waited = False
    while True:
        got: list[str] = []
        fds: list[int] = []
        for dev in devices:
            fd = _try_lock(lock_dir / f"gpu{re.sub(r'[^A-Za-z0-9_.-]', '_', dev)}.lock")
            if fd is not None:
                got.append(dev)
                fds.append(fd)
                if len(got) == n_wanted:
                    break
        if len(got) == n_wanted:
            break
        _release(fds)
        if time.monotonic() >= deadline:
            raise RuntimeError(
                f"gpu_slot: no {n_wanted} free GPU(s) among {','.join(devices)} "
                f"within {timeout_s:g} s; held locks are in {lock_dir}")
        if not waited:
            print(f"gpu_slot: all GPUs busy (locks in {lock_dir}); waiting",
                  file=sys.stderr)
            waited = True
        time.sleep(_POLL_S)

    previous = os.environ.get(ENV)
    _warn_if_cuda_initialized()
    os.environ[ENV] = ",".join(got)
    _claimed.extend(got)
    try:
        yield list(got)
    finally:
        if previous is None:
            os.environ.pop(ENV, None)
        else:
            os.environ[ENV] = previous
        for dev in got:
            _claimed.remove(dev)
        _release(fds)
