"""fptopt.pipeline.gpu_slots: one GPU per concurrent job via flock'ed lock files.

No GPU needed: FPTOPT_FAKE_GPU_COUNT stands in for nvidia-smi.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from fptopt.pipeline.gpu_slots import ENV, claimed_devices, gpu_slot, visible_devices

HOLDER = """
import glob, json, os, sys, time
from fptopt.pipeline.gpu_slots import gpu_slot
out, hold, barrier = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
with gpu_slot(1, timeout_s=30):
    t_got = time.time()
    open(out + ".got", "w").close()
    # optional barrier: hold until `barrier` jobs hold a slot at once (robust under load)
    deadline = time.time() + 20
    while len(glob.glob(os.path.join(os.path.dirname(out), "*.got"))) < barrier:
        assert time.time() < deadline, "barrier never reached"
        time.sleep(0.02)
    time.sleep(hold)
    t_release = time.time()
    dev = os.environ["CUDA_VISIBLE_DEVICES"]
with open(out, "w") as f:
    json.dump({"dev": dev, "t_got": t_got, "t_release": t_release}, f)
"""


@pytest.fixture
def fake3(tmp_path, monkeypatch):
    """3 fake GPUs, no inherited CUDA_VISIBLE_DEVICES, lock dir under tmp_path."""
    lock_dir = tmp_path / "locks"
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.setenv("FPTOPT_FAKE_GPU_COUNT", "3")
    monkeypatch.setenv("FPTOPT_GPU_LOCK_DIR", str(lock_dir))
    return lock_dir


def _start(tmp_path, name, hold, barrier=0):
    out = tmp_path / f"{name}.json"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(out), str(hold), str(barrier)],
                            env=dict(os.environ))
    return proc, out


def _run_concurrently(tmp_path, n, hold=1.0, barrier=0):
    procs = [_start(tmp_path, f"job{i}", hold, barrier) for i in range(n)]
    for proc, _ in procs:
        assert proc.wait(timeout=30) == 0
    return [json.loads(out.read_text()) for _, out in procs]


def _wait_for(path, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_three_processes_get_distinct_devices(fake3, tmp_path):
    res = _run_concurrently(tmp_path, 3, hold=0.5, barrier=3)
    assert sorted(r["dev"] for r in res) == ["0", "1", "2"]
    # they really held their slots at the same time
    assert max(r["t_got"] for r in res) < min(r["t_release"] for r in res)
    assert sorted(p.name for p in fake3.iterdir()) == ["gpu0.lock", "gpu1.lock", "gpu2.lock"]


def test_fourth_process_waits_for_a_release(fake3, tmp_path):
    res = sorted(_run_concurrently(tmp_path, 4), key=lambda r: r["t_got"])
    first, last = res[:3], res[3]
    assert sorted(r["dev"] for r in first) == ["0", "1", "2"]
    released_before = [r for r in first if r["t_release"] <= last["t_got"]]
    assert released_before, "4th job got a GPU while all 3 were still held"
    assert last["dev"] in {r["dev"] for r in released_before}


def test_existing_visible_devices_restrict_choice(fake3, tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, "5,7")  # e.g. set by SLURM; wins over the fake count
    assert visible_devices() == ["5", "7"]
    res = _run_concurrently(tmp_path, 2, hold=0.2, barrier=2)
    assert sorted(r["dev"] for r in res) == ["5", "7"]
    with gpu_slot(1, timeout_s=2) as a:
        assert a == [os.environ[ENV]] and a[0] in {"5", "7"}
        assert claimed_devices() == a
        with pytest.raises(RuntimeError, match="nested"):
            with gpu_slot(1, timeout_s=0.2):
                pass
    assert os.environ[ENV] == "5,7" and claimed_devices() == []
    with gpu_slot(2, timeout_s=2) as both:
        assert both == ["5", "7"] and os.environ[ENV] == "5,7"
    assert sorted(p.name for p in fake3.iterdir()) == ["gpu5.lock", "gpu7.lock"]


def test_sigkill_frees_the_slot(fake3, tmp_path, monkeypatch):
    monkeypatch.setenv("FPTOPT_FAKE_GPU_COUNT", "1")
    proc, out = _start(tmp_path, "victim", hold=60)
    try:
        _wait_for(out.with_name(out.name + ".got"))
        with pytest.raises(RuntimeError):  # held by the victim
            with gpu_slot(1, timeout_s=0.2):
                pass
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    with gpu_slot(1, timeout_s=5) as got:
        assert got == ["0"] and os.environ[ENV] == "0"


def test_zero_gpus_leaves_environment_untouched(fake3, monkeypatch):
    before = dict(os.environ)
    with gpu_slot(0) as got:
        assert got == [] and dict(os.environ) == before
    assert dict(os.environ) == before and not fake3.exists()
    monkeypatch.setenv(ENV, "3")
    with gpu_slot(n_wanted=0):
        assert os.environ[ENV] == "3"


def test_timeout_names_lock_dir(fake3):
    with gpu_slot(3, visible=[0, 1, 2], timeout_s=2):  # all three taken
        t0 = time.monotonic()
        with pytest.raises(RuntimeError, match=str(fake3)):
            with gpu_slot(1, visible=[0, 1, 2], timeout_s=0.3):
                pass
        assert 0.3 <= time.monotonic() - t0 < 3


def test_exception_restores_env_and_releases(fake3):
    with pytest.raises(ZeroDivisionError):
        with gpu_slot(3, timeout_s=2):
            assert os.environ[ENV] == "0,1,2"
            1 / 0
    assert ENV not in os.environ and claimed_devices() == []
    with gpu_slot(3, timeout_s=0.5) as got:  # all three free again
        assert got == ["0", "1", "2"]


def test_explicit_visible_and_too_many(fake3, tmp_path):
    with gpu_slot(1, lock_dir=tmp_path / "other", visible=["GPU-ab:cd", 4], timeout_s=2) as got:
        assert got == ["GPU-ab:cd"]
    assert (tmp_path / "other" / "gpuGPU-ab_cd.lock").exists()
    with pytest.raises(ValueError, match="only 3 visible"):
        with gpu_slot(4, timeout_s=0.2):
            pass


def test_no_gpu_found_is_a_no_op(tmp_path, monkeypatch):
    monkeypatch.setenv(ENV, "")  # explicitly no devices
    with gpu_slot(1, lock_dir=tmp_path / "l", timeout_s=0.2) as got:
        assert got == [] and os.environ[ENV] == ""


def test_default_lock_dir(monkeypatch):
    from fptopt.pipeline.gpu_slots import default_lock_dir

    monkeypatch.delenv("FPTOPT_GPU_LOCK_DIR", raising=False)
    monkeypatch.delenv("SLURM_JOB_ID", raising=False)
    assert default_lock_dir().name == f"fptopt-gpu-locks-{os.getuid()}"
    monkeypatch.setenv("SLURM_JOB_ID", "42")  # SLURM renumbers GPUs per job
    assert default_lock_dir().name == f"fptopt-gpu-locks-{os.getuid()}-slurm42"
    monkeypatch.setenv("FPTOPT_GPU_LOCK_DIR", "/some/dir")
    assert str(default_lock_dir()) == "/some/dir"
