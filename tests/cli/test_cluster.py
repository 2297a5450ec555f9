"""``qec ler --cluster``: a real Dask scheduler and workers as processes on 127.0.0.1 write the
rows one machine writes; a worker killed mid-sweep and a killed client lose and double nothing;
what a worker lacks is one line naming it; CUDA decoders' batches ask for a GPU worker."""

from __future__ import annotations

import contextlib
import dataclasses
import importlib.util
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from experiments.cli import main
from qec import LerTask, MemoryExperiment, collect_ler
from qec._decoding._decoders import DECODERS
from qec._data._stats_csv import read_csv_stats

HAVE_DISTRIBUTED = importlib.util.find_spec("distributed") is not None
needs_distributed = pytest.mark.skipif(
    not HAVE_DISTRIBUTED, reason="needs distributed: pip install -e '.[cluster]' (the [test] extra brings it)")

SWEEP = ["ler", "-d", "3", "--p", "0.01", "0.02", "--decoders", "pymatching", "pymatching-correlated", "--seed", "7"]


@dataclasses.dataclass
class Cluster:
    address: str
    workers: dict[str, subprocess.Popen]
    scheduler: subprocess.Popen


@contextlib.contextmanager
def dask_cluster(tmp_path: Path, workers: int = 2):
    """``dask scheduler`` and ``workers`` ``dask worker`` processes (one thread each) on
    127.0.0.1, free ports; every process group is killed at the end."""
    distributed = pytest.importorskip("distributed")
    scheduler_file = tmp_path / "scheduler.json"
    procs: list[subprocess.Popen] = []

    def start(name: str, *args: str) -> subprocess.Popen:
        log = open(tmp_path / f"{name}.log", "wb")
        proc = subprocess.Popen([sys.executable, "-m", "dask", *args], stdout=log, stderr=log, start_new_session=True)
        log.close()
        procs.append(proc)
        return proc

    try:
        scheduler = start("scheduler", "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
                          "--scheduler-file", str(scheduler_file))
        names = [f"w{i}" for i in range(workers)]
        running = {name: start(name, "worker", "--scheduler-file", str(scheduler_file), "--host", "127.0.0.1",
                               "--nthreads", "1", "--no-dashboard", "--name", name) for name in names}
        deadline = time.time() + 60
        while not scheduler_file.exists() and time.time() < deadline:
            time.sleep(0.1)
        address = json.loads(scheduler_file.read_text())["address"]
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(workers, timeout=60)
        yield Cluster(address, running, scheduler)
    finally:
        for proc in reversed(procs):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def rows(path: Path) -> list[list[str]]:
    """The CSV's rows without their seconds."""
    return [line.split(",")[:3] + line.split(",")[4:] for line in path.read_text().splitlines()]


def totals(path: Path) -> dict[str, tuple]:
    return {sid: (s.decoder, s.shots, s.errors, dict(s.custom_counts)) for sid, s in read_csv_stats(path).items()}


# ---------------------------------------------------------------------------------------------
# Mistakes: one line, exit status 2.


def test_cluster_without_distributed_is_one_line_naming_the_extra(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "distributed", None)  # import distributed raises ImportError
    assert main([*SWEEP, "--max-shots", "100", "--cluster", "local:2"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pip install -e '.[cluster]'" in err and "distributed" in err
    with pytest.raises(ValueError, match=r"\[cluster\] extra"):
        collect_ler([LerTask(MemoryExperiment(3, 3, 0.01))], max_shots=100, cluster="local:1")


@pytest.mark.parametrize("flags, message", [
    (["--cluster", "10.0.0.5:8786"], "--cluster takes a scheduler address such as tcp://host:8786, or local:N"),
    (["--cluster", "local:0"], "--cluster local:N needs N >= 1"),
    (["--cluster", "local:2", "--workers", "2"], "give --workers or --cluster, not both"),
    # Issue 30 item 10: a ValueError from Dask's client.
    (["--cluster", "tcp://127.0.0.1:notaport"], "--cluster tcp://127.0.0.1:notaport: give the scheduler as "
                                                 "tcp://host:port, the port a number from 1 to 65535"),
    (["--cluster", "tcp://127.0.0.1:70000"], "the port a number from 1 to 65535"),
])
def test_bad_cluster_flags_are_one_line(flags, message, capsys):
    assert main([*SWEEP, "--max-shots", "100", *flags]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err


@needs_distributed
def test_a_refused_connection_is_one_line_at_once(capsys):
    """Item 10: nothing listening at the address waited 30 s and said "timed out"."""
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    t0 = time.time()
    assert main([*SWEEP, "--max-shots", "100", "--cluster", f"tcp://127.0.0.1:{port}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "connection refused: no Dask scheduler listens there" in err, err
    assert time.time() - t0 < 10


# ---------------------------------------------------------------------------------------------
# A real cluster: a scheduler and two workers as processes.


@needs_distributed
def test_a_cluster_writes_the_rows_of_one_machine(tmp_path, capsys):
    """A two-point sweep with two decoders through --cluster: the CSV holds the rows --workers 1
    writes (shots, errors and paired counts of every row, in the same order); --max-errors
    stops each decoder early across the cluster."""
    one, two = tmp_path / "one.csv", tmp_path / "cluster.csv"
    assert main([*SWEEP, "--max-shots", "30000", "--workers", "1", "--out", str(one)]) == 0
    with dask_cluster(tmp_path) as cluster:
        assert main([*SWEEP, "--max-shots", "30000", "--cluster", cluster.address, "--out", str(two)]) == 0
        assert rows(two) == rows(one) and len(rows(one)) > 10
        assert sorted(s.shots for s in read_csv_stats(two).values()) == [30000] * 4

        early = tmp_path / "early.csv"
        assert main([*SWEEP, "--max-errors", "300", "--cluster", cluster.address, "--out", str(early)]) == 0
        stats = list(read_csv_stats(early).values())
        assert len(stats) == 4 and all(300 <= s.errors and s.shots < 10_000 for s in stats)

        # A worker that lacks a model file or a module: one line naming it (the client has both).
        with pytest.raises(ValueError, match=r"^Dask worker tcp://127\.0\.0\.1:\d+ failed building decoder "
                                             r"'predecoder' .*model file /nowhere/m\.safetensors does not exist$"):
            from predecoder import ler_decoders

            collect_ler([LerTask(MemoryExperiment(3, 3, 0.01), ("predecoder",))], max_shots=100, seed=1,
                        cluster=cluster.address, custom_decoders=ler_decoders(model="/nowhere/m.safetensors"))
        only_here = tmp_path / "only_here"
        only_here.mkdir()
        (only_here / "qec_module_only_here.py").write_text(
            "from qec._decoding._decoders import DECODERS\n\n"
            "def mine(circuit, dem):\n    return DECODERS['pymatching'](circuit, dem)\n\n"
            "def decoders():\n    return {'mine': mine}\n")
        sys.path.insert(0, str(only_here))
        try:
            capsys.readouterr()
            assert main([*SWEEP[:5], "--decoders", "mine", "--max-shots", "100", "--custom-decoders",
                         "qec_module_only_here:decoders", "--cluster", cluster.address]) == 2
        finally:
            sys.path.remove(str(only_here))
            sys.modules.pop("qec_module_only_here", None)
        err = capsys.readouterr().err
        assert err.count("\n") == 1, err
        assert "cannot import qec_module_only_here (loading the sweep's decoders): install it there" in err


# The sweep of the kill tests: batches of 1024 shots doubling to 65,536, 8 a point.
KILL_SHOTS = 150_000


def _start_ler(cluster: Cluster, out: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "experiments.cli", "ler", "-d", "5", "--p", "0.006", "0.008",
                             "--decoders", "pymatching", "pymatching-correlated", "--seed", "11", "--max-shots",
                             str(KILL_SHOTS), "--cluster", cluster.address, "--out", str(out)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)


@pytest.fixture(scope="module")
def one_machine(tmp_path_factory) -> Path:
    """The kill tests' sweep on one machine (--workers 1)."""
    out = tmp_path_factory.mktemp("one") / "one.csv"
    tasks = [LerTask(MemoryExperiment(5, 5, p, "x"), ("pymatching", "pymatching-correlated")) for p in (0.006, 0.008)]
    collect_ler(tasks, max_shots=KILL_SHOTS, seed=11, out=out)
    return out


def _wait_for_rows(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and (not out.exists() or len(out.read_text().splitlines()) < n):
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.05)
    assert len(out.read_text().splitlines()) >= n, "the sweep did not start"


@needs_distributed
@pytest.mark.slow
def test_a_worker_killed_mid_sweep_loses_and_doubles_nothing(tmp_path, one_machine):
    """One of two workers is killed (its whole process group, with SIGKILL) while it runs a batch:
    Dask recomputes that batch on the other and the sweep ends with the requested totals and the
    rows of one machine."""
    import distributed

    out = tmp_path / "killed.csv"
    with dask_cluster(tmp_path) as cluster, distributed.Client(cluster.address, timeout=30) as watcher:
        proc = _start_ler(cluster, out)
        try:
            _wait_for_rows(out, 7, proc)
            victim = None
            deadline = time.time() + 30
            while victim is None and time.time() < deadline:  # a worker that holds a batch now
                busy = [w for w, keys in watcher.processing().items() if keys]
                names = {w: info["name"] for w, info in watcher.scheduler_info()["workers"].items()}
                victim = next((names[w] for w in busy if w in names), None)
            assert victim is not None, "no batch in flight"
            os.killpg(cluster.workers[victim].pid, signal.SIGKILL)
            written = len(out.read_text().splitlines())
            _, err = proc.communicate(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
        assert proc.returncode == 0, err.decode()
        assert len(watcher.scheduler_info()["workers"]) == 1
    assert len(out.read_text().splitlines()) > written, "the kill came after the sweep's last row"
    assert rows(out) == rows(one_machine)
    assert [s.shots for s in read_csv_stats(out).values()] == [KILL_SHOTS] * 4


@needs_distributed
@pytest.mark.slow
def test_a_killed_client_resumes_from_the_csv(tmp_path, one_machine):
    """qec ler --cluster killed with SIGKILL after a few rows; the same command again finishes the
    sweep: the totals of one uninterrupted run on one machine."""
    out = tmp_path / "resumed.csv"
    with dask_cluster(tmp_path) as cluster:
        proc = _start_ler(cluster, out)
        try:
            _wait_for_rows(out, 5, proc)
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        partial = sum(s.shots for s in read_csv_stats(out).values())
        assert 0 < partial < 4 * KILL_SHOTS
        proc = _start_ler(cluster, out)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert totals(out) == totals(one_machine)


@needs_distributed
@pytest.mark.slow
def test_the_scheduler_killed_mid_sweep_is_one_line_and_the_rerun_resumes(tmp_path, one_machine):
    """Item 10: the scheduler killed mid-sweep gave "TypeError: 'FutureCancelledError' object is
    not subscriptable" (the CSV stayed whole); now one line, and the same command on a new
    cluster finishes the sweep exactly."""
    out = tmp_path / "lost.csv"
    (tmp_path / "first").mkdir()
    (tmp_path / "second").mkdir()
    with dask_cluster(tmp_path / "first") as cluster:
        proc = _start_ler(cluster, out)
        try:
            _wait_for_rows(out, 5, proc)
            os.killpg(cluster.scheduler.pid, signal.SIGKILL)
            _, err = proc.communicate(timeout=120)
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
    lines = [line for line in err.decode().splitlines() if not line.startswith("decoding:")]  # progress lines
    assert proc.returncode == 2 and len(lines) == 1, err.decode()
    assert "lost a batch" in lines[0] and "the same command resumes the sweep" in lines[0]
    assert "Traceback" not in err.decode()
    partial = sum(s.shots for s in read_csv_stats(out).values())
    assert 0 < partial < 4 * KILL_SHOTS
    with dask_cluster(tmp_path / "second") as cluster:
        proc = _start_ler(cluster, out)
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err.decode()
    assert totals(out) == totals(one_machine)


# ---------------------------------------------------------------------------------------------
# GPU workers: a CUDA decoder's batches ask for the resource GPU; the others ask for nothing.


@dataclasses.dataclass(frozen=True)
class CudaLikeFactory:
    """PyMatching, with the ``device`` of a pre-decoder factory run with --device cuda: what the
    cluster sees of a GPU decoder, on a machine without a GPU."""

    device: str = "cuda"

    def __call__(self, circuit, dem):
        return DECODERS["pymatching"](circuit, dem)


@needs_distributed
def test_cuda_decoders_batches_ask_for_a_gpu_worker():
    import distributed
    from distributed.diagnostics.plugin import SchedulerPlugin

    class Restrictions(SchedulerPlugin):
        """The resources each task asked for, as the scheduler saw them."""

        def __init__(self):
            self.seen: dict[str, dict | None] = {}

        async def start(self, scheduler):
            self.scheduler = scheduler

        def transition(self, key, start, finish, *args, **kwargs):
            ts = self.scheduler.tasks.get(key)
            if ts is not None and str(key).startswith("qec-"):
                self.seen.setdefault(str(key), ts.resource_restrictions)

    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None,
                                  resources={"GPU": 1}) as cluster:
        plugin = Restrictions()
        cluster.scheduler.add_plugin(plugin)
        plugin.scheduler = cluster.scheduler
        tasks = [LerTask(MemoryExperiment(3, 3, 0.01), ("net-on-cuda", "pymatching")),
                 LerTask(MemoryExperiment(3, 3, 0.02), ("pymatching",))]
        results = collect_ler(tasks, max_shots=4000, seed=1, cluster=cluster.scheduler_address,
                              custom_decoders={"net-on-cuda": CudaLikeFactory()})
    assert [r.shots for r in results] == [4000] * 3
    by_point: dict[str, set] = {"0": set(), "1": set()}
    for key, resources in plugin.seen.items():
        point = key.rsplit("-", 2)[-2] if key.startswith("qec-ler-") else key.rsplit("-", 1)[-1]
        by_point[point].add(json.dumps(resources, sort_keys=True))
    assert by_point == {"0": {'{"GPU": 1}'}, "1": {"null"}}, plugin.seen
    assert sum(k.startswith("qec-ler-") for k in plugin.seen) >= 6


# ---------------------------------------------------------------------------------------------
# Ctrl-C with a local cluster: as with --workers, at once, whole rows, no worker left.


def _children(pid: int) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if int(Path(f"/proc/{entry}/stat").read_text().rsplit(")", 1)[1].split()[1]) == pid:
                    out.append(int(entry))
    return out


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@needs_distributed
@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_ctrl_c_with_a_local_cluster_stops_at_once(tmp_path):
    out = tmp_path / "c.csv"
    proc = subprocess.Popen([sys.executable, "-m", "experiments.cli", "ler", "-d", "7", "--p", "0.006", "--max-shots",
                             str(10**9), "--seed", "1", "--out", str(out), "--cluster", "local:2"],
                            start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    workers: list[int] = []
    try:
        _wait_for_rows(out, 4, proc)
        workers = [c for c in _children(proc.pid) if b"spawn_main" in Path(f"/proc/{c}/cmdline").read_bytes()]
        assert len(workers) == 2
        t0 = time.time()
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does
        _, err = proc.communicate(timeout=30)
        # The local workers are killed, not waited for (0.5 s measured; a batch here takes seconds).
        assert time.time() - t0 < 8
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        if proc.returncode is None:  # a hang: no worker may outlive the test and load the next ones
            for w in workers:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(w, signal.SIGKILL)
    assert proc.returncode == 130 and err.decode().strip().endswith("qec ler: interrupted"), err
    deadline = time.time() + 5
    while any(_alive(w) for w in workers) and time.time() < deadline:
        time.sleep(0.1)
    assert not any(_alive(w) for w in workers)
    assert out.read_text().endswith("\n") and sum(s.shots for s in read_csv_stats(out).values()) > 0
