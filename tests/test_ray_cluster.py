"""GATEWAY_RAY_ADDRESS joins an existing Ray cluster: a head started here with `ray start --head --block`.

The front (a fresh interpreter, as an app would start: Ray reads RAY_AUTH_MODE once, when it is imported) sends
its code to the cluster as the job's working directory; the replicas build their registry there and answer.
The head runs in its own process group, which the test ends by its id.
"""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("ray")

from core.settings import Settings  # noqa: E402
from models.cache import ModelCache  # noqa: E402
from models.contracts import CapabilityRequest, InputImage  # noqa: E402
from models.registry import build_registry  # noqa: E402
from tests.executor_util import photo  # noqa: E402
from tests.server_util import free_port  # noqa: E402


@pytest.fixture
def head(tmp_path):
    port = free_port()
    log = tmp_path / "head.log"
    ray = str(Path(sys.executable).parent / "ray")
    proc = subprocess.Popen([ray, "start", "--head", "--block", f"--port={port}", "--num-cpus=2",
                             "--include-dashboard=false", "--disable-usage-stats"],
                            stdout=open(log, "wb"), stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while b"Ray runtime started" not in log.read_bytes():
            assert proc.poll() is None and time.monotonic() < deadline, log.read_text()[-3000:]
            time.sleep(0.5)
        yield f"127.0.0.1:{port}"
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(90)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def drive(address: str, data_dir: str) -> None:
    """The front's side, run in a subprocess: join, rotate a photo on a replica, leave."""
    import ray

    from pipeline.executors.ray_executor import RayExecutor

    settings = Settings.from_env({}, data_dir=Path(data_dir), executor="ray", ray_address=address,
                                 ray_cpus_per_replica=0.5, router_backend="lexical")
    executor = RayExecutor(settings, build_registry(settings, ModelCache(2**30)))
    try:
        executor.wait_ready()
        result = executor.run(CapabilityRequest("image_edit", "rotate it 90 degrees",
                                                params={"operation": "rotate", "angle": 90},
                                                images=[InputImage(photo(), image_id="p")]))
        out = {"executor": result.metadata["executor"], "replica": result.metadata["ray_replica"],
               "size": list(result.images[0].image.size), "address": executor.describe()["address"]}
    finally:
        executor.close()
    out["disconnected"] = not ray.is_initialized()
    print("RESULT " + json.dumps(out))


def test_joins_an_existing_cluster(head, tmp_path):
    # Ray 2.60 clusters require their token: RAY_AUTH_MODE=token, and the token in ~/.ray/auth_token (written by
    # `ray start` on this machine) or RAY_AUTH_TOKEN.
    env = dict(os.environ, RAY_AUTH_MODE="token")
    code = f"from tests.test_ray_cluster import drive; drive({head!r}, {str(tmp_path / 'data')!r})"
    done = subprocess.run([sys.executable, "-c", code], cwd=Path(__file__).resolve().parent.parent, env=env,
                          capture_output=True, text=True, timeout=600)
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    assert done.returncode == 0 and lines, done.stderr[-4000:]
    out = json.loads(lines[-1][len("RESULT "):])
    assert out == {"executor": "ray", "replica": out["replica"], "size": [64, 96], "address": head,
                   "disconnected": True}
    assert out["replica"].startswith("light-")
