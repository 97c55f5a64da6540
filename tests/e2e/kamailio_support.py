"""Running the shipped Kamailio config and sipp for the tests, on loopback, always stopped again.

- :func:`kamailio_available` installs Kamailio and sipp once per session with
  ``scripts/kamailio.sh`` and says why not when it cannot (the tests then skip with that message).
- :func:`start_kamailio` runs ``integrations/kamailio/kamailio.cfg`` (copied into a temporary
  directory) in the foreground (``-DD -E``) in its own process group, with the settings given as
  ``-A`` defines, and waits until its JSON-RPC endpoint answers.
- :func:`start_sipp_uas` runs the called side; :func:`run_sipp_uac` drives one call and returns
  sipp's exit status (0 only when every expectation of the scenario was met).
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
KAMAILIO_CFG = ROOT / "integrations" / "kamailio" / "kamailio.cfg"
SIPP_DIR = Path(__file__).resolve().parent / "sipp"
INSTALL_SCRIPT = ROOT / "scripts" / "kamailio.sh"
LOOPBACK = "127.0.0.1"


@functools.cache
def kamailio_available() -> str | None:
    """``None`` when Kamailio and sipp are ready (installed now if needed), else why not."""
    if not INSTALL_SCRIPT.exists():
        return f"{INSTALL_SCRIPT} is missing"
    try:
        done = subprocess.run(
            ["bash", str(INSTALL_SCRIPT)],
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"scripts/kamailio.sh could not run: {exc}"
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-5:])
        return f"Kamailio/sipp could not be installed (scripts/kamailio.sh): {tail}"
    if kamailio_binary() is None or shutil.which("sipp") is None:
        return "scripts/kamailio.sh succeeded but kamailio or sipp is not on PATH"
    return None


def kamailio_binary() -> str | None:
    found = shutil.which("kamailio")
    if found:
        return found
    return "/usr/sbin/kamailio" if os.access("/usr/sbin/kamailio", os.X_OK) else None


def free_port(kind: int = socket.SOCK_DGRAM) -> int:
    """A port free on 127.0.0.1 for UDP (``SOCK_DGRAM``) or TCP (``SOCK_STREAM``)."""
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind((LOOPBACK, 0))
        port: int = s.getsockname()[1]
        return port


def free_ports(count: int, kind: int = socket.SOCK_DGRAM) -> list[int]:
    """``count`` distinct free ports (held open together so that they differ)."""
    socks = [socket.socket(socket.AF_INET, kind) for _ in range(count)]
    try:
        for s in socks:
            s.bind((LOOPBACK, 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def stop_group(proc: subprocess.Popen[bytes], grace: float = 5.0) -> None:
    """Stop a process started with ``start_new_session=True`` and everything it started."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGCONT)  # in case a test left it stopped
            os.killpg(proc.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=grace)
    # children may outlive the leader: the group goes in any case
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=grace)


@dataclass
class Kamailio:
    """A running Kamailio with the shipped config."""

    proc: subprocess.Popen[bytes]
    sip_port: int
    rpc_port: int
    log_path: Path
    defines: dict[str, str] = field(default_factory=dict)

    @property
    def rpc_url(self) -> str:
        return f"http://{LOOPBACK}:{self.rpc_port}/RPC"

    @property
    def sip_address(self) -> str:
        return f"{LOOPBACK}:{self.sip_port}"

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        stop_group(self.proc)


def _quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def start_kamailio(
    workdir: Path,
    *,
    tollguard: str,
    next_hop_port: int,
    fail_policy: str = "closed",
    timeout_s: int = 1,
    sip_port: int | None = None,
    rpc_port: int | None = None,
    log_level: int = 2,
    extra: dict[str, str] | None = None,
) -> Kamailio:
    """Start Kamailio on loopback with the shipped config and wait until JSON-RPC answers.

    ``tollguard`` is the base URL of the service with credentials
    (``http://switch:TOKEN@127.0.0.1:PORT``); allowed calls go to ``next_hop_port`` on loopback.
    """
    binary = kamailio_binary()
    if binary is None:
        raise RuntimeError("kamailio is not installed")
    workdir.mkdir(parents=True, exist_ok=True)
    cfg = workdir / "kamailio.cfg"
    shutil.copyfile(KAMAILIO_CFG, cfg)
    run_dir = workdir / "run"
    run_dir.mkdir(exist_ok=True)
    sip_port = sip_port or free_port(socket.SOCK_DGRAM)
    rpc_port = rpc_port or free_port(socket.SOCK_STREAM)
    defines = {
        "SIP_PORT": str(sip_port),
        "RPC_PORT": str(rpc_port),
        "TG_HTTPCON": _quoted(f"tollguard=>{tollguard}"),
        "NEXT_HOP": _quoted(f"sip:{LOOPBACK}:{next_hop_port}"),
        "TG_TIMEOUT": str(timeout_s),
        "TG_FAIL_POLICY": _quoted(fail_policy),
        "LOG_LEVEL": str(log_level),
        "SIP_CHILDREN": "2",
        "ASYNC_WORKERS": "4",
        **(extra or {}),
    }
    cmd = [binary, "-DD", "-E", "-f", str(cfg), "-Y", str(run_dir), "-m", "32", "-M", "8"]
    for name, value in defines.items():
        cmd += ["-A", f"{name}={value}"]
    log_path = workdir / "kamailio.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )
    kam = Kamailio(proc, sip_port, rpc_port, log_path, defines)
    deadline = time.monotonic() + 15
    with httpx.Client(timeout=1.0, trust_env=False) as client:
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"kamailio exited with {proc.returncode}:\n{kam.log()[-3000:]}")
            try:
                r = client.post(
                    kam.rpc_url, json={"jsonrpc": "2.0", "method": "core.version", "id": 1}
                )
                if r.status_code == 200 and "kamailio" in r.text:
                    return kam
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                kam.stop()
                raise RuntimeError(f"kamailio did not answer JSON-RPC:\n{kam.log()[-3000:]}")
            time.sleep(0.1)


@dataclass
class SippResult:
    returncode: int
    output: str
    errors: str
    elapsed: float

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def explain(self) -> str:
        return f"sipp exit {self.returncode} after {self.elapsed:.2f}s\n{self.errors[-3000:]}"


def render_refuse(workdir: Path, code: int, reason: str) -> Path:
    """``uac_refuse.xml`` with the expected final answer filled in."""
    text = (SIPP_DIR / "uac_refuse.xml").read_text(encoding="ascii")
    text = text.replace("{{CODE}}", str(code)).replace("{{REASON}}", reason)
    out = workdir / f"uac_refuse_{code}_{reason}.xml"
    out.write_text(text, encoding="ascii")
    return out


UAS_MESSAGES = "uas_messages.log"


def uas_received(workdir: Path, method: str, call_id: str) -> bool:
    """Whether the UAS started in ``workdir`` received a ``method`` request of call ``call_id``."""
    try:
        text = (workdir / UAS_MESSAGES).read_text(errors="replace")
    except OSError:
        return False
    for block in text.split("-----------------------------------------------"):
        # a block: " <time>", "UDP message received [N] bytes :", "", the message
        lines = [line.strip() for line in block.strip().splitlines()]
        head = next(
            (i for i, line in enumerate(lines[:3]) if line.startswith("UDP message ")), None
        )
        if head is None or not lines[head].startswith("UDP message received"):
            continue
        first = next((line for line in lines[head + 1 :] if line), "")
        if first.startswith(f"{method} ") and f"Call-ID: {call_id}" in lines:
            return True
    return False


def start_sipp_uas(workdir: Path, port: int) -> subprocess.Popen[bytes]:
    """The called side (``uas.xml``) on 127.0.0.1:``port``, answering any number of calls."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = [
        "sipp",
        "-sf",
        str(SIPP_DIR / "uas.xml"),
        "-i",
        LOOPBACK,
        "-p",
        str(port),
        "-nostdin",
        "-trace_err",
        "-error_file",
        str(workdir / "uas_errors.log"),
        "-trace_msg",
        "-message_file",
        str(workdir / UAS_MESSAGES),
    ]
    with (workdir / "uas.out").open("wb") as out:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )
    time.sleep(0.2)
    if proc.poll() is not None:
        raise RuntimeError(f"sipp UAS exited: {(workdir / 'uas.out').read_text(errors='replace')}")
    return proc


def sipp_uac_command(
    workdir: Path,
    scenario: Path,
    *,
    target: str,
    callee: str,
    caller: str,
    call_id: str,
    local_port: int | None = None,
    timeout_s: int = 20,
) -> list[str]:
    """The sipp command for one call from ``caller`` to ``callee`` through ``target``."""
    port = local_port or free_port(socket.SOCK_DGRAM)
    return [
        "sipp",
        target,
        "-sf",
        str(scenario),
        "-s",
        callee,
        "-key",
        "caller",
        caller,
        "-cid_str",
        call_id,
        "-i",
        LOOPBACK,
        "-p",
        str(port),
        "-m",
        "1",
        "-l",
        "1",
        "-nostdin",
        "-timeout",
        f"{timeout_s}s",
        "-timeout_error",
        "-trace_err",
        "-error_file",
        str(workdir / f"uac_{call_id.split('@')[0]}_errors.log"),
    ]


@dataclass
class SippCall:
    """One sipp UAC call running in the background."""

    proc: subprocess.Popen[bytes]
    started: float
    out_path: Path
    err_path: Path

    def finish(self, wait: float = 40) -> SippResult:
        """Wait for the call to end (stopping sipp after ``wait`` seconds) and return the result."""
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=wait)
        stop_group(self.proc, grace=1)
        elapsed = time.monotonic() - self.started
        code = self.proc.returncode
        return SippResult(
            code if code is not None else -1, _read(self.out_path), _read(self.err_path), elapsed
        )


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:
        return ""


def start_sipp_uac(
    workdir: Path,
    scenario: Path,
    *,
    target: str,
    callee: str,
    caller: str,
    call_id: str,
    timeout_s: int = 20,
) -> SippCall:
    """Start one call in the background (see :func:`sipp_uac_command`)."""
    workdir.mkdir(parents=True, exist_ok=True)
    cmd = sipp_uac_command(
        workdir,
        scenario,
        target=target,
        callee=callee,
        caller=caller,
        call_id=call_id,
        timeout_s=timeout_s,
    )
    stem = call_id.split("@")[0]
    out = workdir / f"uac_{stem}.out"
    with out.open("wb") as f:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=f,
            stderr=subprocess.STDOUT,
            cwd=workdir,
            start_new_session=True,
        )
    return SippCall(proc, time.monotonic(), out, workdir / f"uac_{stem}_errors.log")


def run_sipp_uac(
    workdir: Path,
    scenario: Path,
    *,
    target: str,
    callee: str,
    caller: str,
    call_id: str,
    timeout_s: int = 20,
) -> SippResult:
    """Run one call to its end and return sipp's verdict."""
    call = start_sipp_uac(
        workdir,
        scenario,
        target=target,
        callee=callee,
        caller=caller,
        call_id=call_id,
        timeout_s=timeout_s,
    )
    return call.finish(wait=timeout_s + 10)
