"""`kundresa demo` builds the demo project, then serves it and prints its URL (what
`make demo` runs); `--no-serve` stops after the summary."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from served import free_port, one_event_project, serve

from kundresa.cli import main


@pytest.mark.slow
def test_demo_builds_then_serves_and_prints_url(tmp_path: Path) -> None:
    port = free_port()
    target = tmp_path / "demo"
    command = [sys.executable, "-m", "kundresa", "demo", str(target), "--customers", "200"]
    proc = subprocess.Popen(
        [*command, "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "COLUMNS": "120"},
    )
    try:
        assert proc.stdout is not None
        lines: list[str] = []
        deadline = time.monotonic() + 240
        url = f"http://127.0.0.1:{port}/"
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if url in line:
                break
        text = "".join(lines)
        assert f"Kundresa serving {target.resolve()} at {url}" in text, text
        assert "Customers per stage" in text  # the summary comes first
        body = ""
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(url + "api/info", timeout=120) as r:
                    body = r.read().decode()
                break
            except OSError:
                time.sleep(0.2)
        assert '"events"' in body
        # The server holds the warehouse read-only: the command line still reads it.
        info = subprocess.run(
            [sys.executable, "-m", "kundresa", "info", "--project", str(target)],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert info.returncode == 0, info.stderr
        # Another name for 127.0.0.1 (DNS rebinding) is refused.
        rebound = urllib.request.Request(url + "api/info", headers={"Host": "evil.example"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(rebound, timeout=60)
        assert refused.value.code == 400
        refused.value.close()
        with urllib.request.urlopen(
            urllib.request.Request(url + "api/info", headers={"Host": f"localhost:{port}"}),
            timeout=60,
        ) as r:
            assert r.status == 200
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()  # type: ignore[union-attr]


def test_demo_no_serve_tells_how_to_serve(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["demo", str(tmp_path / "d"), "--customers", "100", "--no-serve"])
    assert r.exit_code == 0, r.output
    assert "kundresa serve --project" in r.output


def test_demo_port_taken_is_a_usage_error(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(
            main, ["demo", str(tmp_path / "d"), "--customers", "100", "--port", str(port)]
        )
    assert r.exit_code == 2, r.output
    assert f"cannot listen on 127.0.0.1:{port}" in r.output


def test_warm_up_freezes_the_heap_after_the_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """After warming its pages the server freezes the heap out of the garbage collector, so
    full collections stop walking the start-up's objects (they paused acks ~100 ms)."""
    import urllib.request

    from kundresa.web import cli as web_cli

    calls: list[str] = []

    class Server:
        started, should_exit = True, False

    def fetch(request: Any, timeout: float) -> Any:
        calls.append(request.full_url)
        raise OSError("refused")  # a page that fails is skipped

    monkeypatch.setattr(urllib.request, "urlopen", fetch)
    monkeypatch.setattr(web_cli.gc, "freeze", lambda: calls.append("freeze"))
    monkeypatch.setattr(web_cli, "WARM_PAGES", ("/", "/funnel"))
    web_cli.warm_up(Server(), "http://127.0.0.1:9", None)
    assert calls == ["http://127.0.0.1:9/", "http://127.0.0.1:9/funnel", "freeze"]


def test_two_ctrl_c_stop_the_server_with_one_line(tmp_path: Path) -> None:
    """A second Ctrl-C makes uvicorn stop without shutting the app down; the app's cancelled
    lifespan was logged as a 40-line error traceback before ``stopped`` (every time)."""
    root = one_event_project(tmp_path)
    port = free_port()
    proc = serve(root, port, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=60):
                    break
            except OSError:
                time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.001)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 130, err
    assert err.strip().splitlines() == ["stopped"], err
