"""`crosspost serve` as a real process: the demo serves a scratch copy with a demo account
and removes it when stopped; a request for another host name is refused."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

EXE = str(Path(sys.executable).with_name("crosspost"))
REPO = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_demo_serves_a_scratch_copy_and_cleans_up(sig: int) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [EXE, "serve", "--demo", "--port", str(port), "--config",
         str(REPO / "config.example.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )  # fmt: skip
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line.startswith("serving crosspost"):
                break
        said = "".join(lines)
        scratch = Path(re.search(r"scratch copy of the project in (\S+);", said)[1])  # type: ignore[index]
        password = re.search(r"with the password (\S+)", said)[1]  # type: ignore[index]
        assert scratch.is_dir() and password
        deadline = time.monotonic() + 10
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/login") as answer:
                    assert answer.status == 200
                break
            except urllib.error.URLError:
                assert time.monotonic() < deadline
                time.sleep(0.1)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/login", headers={"Host": "evil.example"}
        )
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request)
        assert refused.value.code == 400
    finally:
        os.killpg(proc.pid, sig)
        proc.wait(30)
    assert not scratch.exists(), "the demo's scratch copy was left behind"
