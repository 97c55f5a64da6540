"""End to end with real SIP software: sipp -> Kamailio (the shipped config) -> sipp, tollguard live.

One module-wide set-up, everything on 127.0.0.1 on free ports and stopped at the end:

- ``tollguard serve`` on a fresh SQLite store with four customers and two API tokens (``switch``
  for Kamailio, ``analyst`` for the test), told to cut calls and push the hard lists through
  Kamailio's JSON-RPC;
- Kamailio "open" (``TG_FAIL_POLICY="open"``), the switch tollguard controls; Kamailio "closed"
  (fail-closed, 503) for the fail-policy tests; both with a 1-second tollguard timeout;
- a sipp UAS as the next hop of both; each call is one sipp UAC run whose scenario fails (exit
  status non-zero) on any answer other than the one expected.

The tests run in file order: the last one stops tollguard.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e import kamailio_support as ks
from tollguard.adapters.switch import HTABLE_RESTRICTED_PREFIXES, HTABLE_SUSPENDED, KamailioRpc

pytestmark = pytest.mark.e2e

TIMEOUT_S = 1  # Kamailio's wait for tollguard (whole seconds)
US = "01012125550100"  # dialled from Japan: 010 + 1 212 555 0100
DOMESTIC = "0335551234"
NORTH_KOREA = "010850212345678"
SATELLITE = "0108816312345678"  # Iridium: a new customer's call there is allowed under watch
WATCH_S = 3  # the watch tollguard's settings below give it (whole seconds)
# Every call the cost rule would refuse is watched rather than refused, for WATCH_S seconds
# answered; cheap calls (the United States) are untouched.
ENGINE_SETTINGS = f"""\
[risk]
watch_max_probability = 1.0
deny_probability = 1.0
watch_min_minutes = 0.0
watch_max_minutes = {WATCH_S / 60}
"""

SUBSCRIBERS = """\
subscriber_id,segment,service,numbers,email,intl_status,equipment
S0001,business,ip,+81335550101,it@kanda.example,enabled,
S0002,business,ip,+81335550102,desk@hakata.example,enabled,
S0003,residential,ip,+81335550103,,enabled,
S0004,business,ip,+81335550104,ops@kyoto.example,enabled,
"""
CALLER = {sid: f"+8133555010{sid[-1]}" for sid in ("S0001", "S0002", "S0003", "S0004")}


@dataclass
class Env:
    work: Path
    tollguard: subprocess.Popen[bytes]
    base_url: str
    analyst: str
    switch: str
    kam_open: ks.Kamailio
    kam_closed: ks.Kamailio
    tollguard_log: Path

    def api(self, method: str, path: str, **kwargs: object) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.analyst}"}
        with httpx.Client(base_url=self.base_url, timeout=10, trust_env=False) as client:
            return client.request(method, path, headers=headers, **kwargs)  # type: ignore[arg-type]

    def metric(self, name: str, **labels: str) -> float:
        text = self.api("GET", "/metrics").text
        want = ",".join(f'{k}="{v}"' for k, v in sorted(labels.items()))
        total = 0.0
        for line in text.splitlines():
            m = re.match(rf"^{re.escape(name)}(?:\{{([^}}]*)\}})? (\S+)$", line)
            if m and all(part in (m.group(1) or "").split(",") for part in want.split(",") if part):
                total += float(m.group(2))
        return total

    def call(
        self,
        scenario: Path,
        caller: str,
        callee: str,
        name: str,
        kam: ks.Kamailio | None = None,
    ) -> ks.SippResult:
        return ks.run_sipp_uac(
            self.work / "sipp",
            scenario,
            target=(kam or self.kam_open).sip_address,
            callee=callee,
            caller=caller,
            call_id=f"{name}@127.0.0.1",
            timeout_s=15,
        )

    def refuse(self, code: int, reason: str) -> Path:
        return ks.render_refuse(self.work / "sipp", code, reason)

    def call_to_be_cut(
        self, call_id: str, caller: str, callee: str, kam: ks.Kamailio
    ) -> ks.SippCall:
        """A call in the background whose caller succeeds only if the network sends a BYE."""
        return ks.start_sipp_uac(
            self.work / "sipp",
            ks.SIPP_DIR / "uac_cut.xml",
            target=kam.sip_address,
            callee=callee,
            caller=caller,
            call_id=call_id,
            timeout_s=20,
        )

    def wait_callee_bye(self, call_id: str) -> None:
        """The callee's leg (the one abroad, that costs money) gets its BYE too."""
        _wait_for(
            "the callee gets a BYE",
            lambda: ks.uas_received(self.work / "sipp", "BYE", call_id),
            within=5,
        )


def _tollguard_cli() -> str:
    cli = Path(sys.executable).with_name("tollguard")
    if cli.exists():
        return str(cli)
    found = shutil.which("tollguard")
    if found is None:
        pytest.skip("the tollguard command is not installed (make install)")
    return found


def _run(cmd: list[str]) -> str:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"{' '.join(cmd[:3])} failed:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _wait_healthy(base_url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=1, trust_env=False) as client:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                raise RuntimeError(f"tollguard serve exited:\n{log.read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if client.get(f"{base_url}/healthz").status_code == 200:
                    return
            time.sleep(0.1)
    raise RuntimeError(f"tollguard serve did not become healthy:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    why = ks.kamailio_available()
    if why is not None:
        pytest.skip(why)
    cli = _tollguard_cli()
    work = tmp_path_factory.mktemp("e2e-kamailio")
    db = f"sqlite:///{work / 'tollguard.sqlite'}"
    (work / "subscribers.csv").write_text(SUBSCRIBERS, encoding="utf-8")
    (work / "engine.toml").write_text(ENGINE_SETTINGS, encoding="utf-8")
    _run([cli, "ingest", "--db", db, "--subscribers", str(work / "subscribers.csv")])
    switch = _run([cli, "token", "create", "--db", db, "--role", "switch", "--name", "kam"])
    analyst = _run([cli, "token", "create", "--db", db, "--role", "analyst", "--name", "e2e"])
    switch, analyst = switch.strip(), analyst.strip()

    with contextlib.ExitStack() as stack:
        uas_port = ks.free_port(socket.SOCK_DGRAM)
        uas = ks.start_sipp_uas(work / "sipp", uas_port)
        stack.callback(ks.stop_group, uas)
        tg_port = ks.free_port(socket.SOCK_STREAM)
        tollguard_url = f"http://switch:{switch}@127.0.0.1:{tg_port}"
        kam_open = ks.start_kamailio(
            work / "kamailio-open",
            tollguard=tollguard_url,
            next_hop_port=uas_port,
            fail_policy="open",
            timeout_s=TIMEOUT_S,
        )
        stack.callback(kam_open.stop)
        kam_closed = ks.start_kamailio(
            work / "kamailio-closed",
            tollguard=tollguard_url,
            next_hop_port=uas_port,
            fail_policy="closed",
            timeout_s=TIMEOUT_S,
        )
        stack.callback(kam_closed.stop)
        log = work / "tollguard.log"
        with log.open("wb") as out:
            tollguard = subprocess.Popen(
                [
                    cli,
                    "serve",
                    "--db",
                    db,
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(tg_port),
                    "--kamailio-rpc",
                    kam_open.rpc_url,
                    "--data-dir",
                    str(work / "data"),
                    "--config",
                    str(work / "engine.toml"),
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                cwd=work,
                start_new_session=True,
                env={**os.environ, "NO_PROXY": "*", "no_proxy": "*"},
            )
        stack.callback(ks.stop_group, tollguard)
        base_url = f"http://127.0.0.1:{tg_port}"
        _wait_healthy(base_url, tollguard, log)
        yield Env(work, tollguard, base_url, analyst, switch, kam_open, kam_closed, log)


def _wait_for(what: str, check: object, within: float = 10) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {within}s")


def _wait_events(env: Env, kind: str, at_least: float) -> None:
    _wait_for(
        f"tollguard received {kind} events",
        lambda: env.metric("tollguard_events_total", kind=kind) >= at_least,
    )


# -- the calls --------------------------------------------------------------------------------


def test_allowed_call_is_answered_and_reported(env: Env) -> None:
    """(b) INVITE, 200, ACK, BYE, 200; tollguard allowed it and heard the answer and the end."""
    answered = env.metric("tollguard_events_total", kind="call_answered")
    ended = env.metric("tollguard_events_total", kind="call_ended")
    allowed = env.metric("tollguard_decisions_total", decision="allow")
    result = env.call(ks.SIPP_DIR / "uac_answer.xml", CALLER["S0001"], US, "allowed-1")
    assert result.ok, result.explain()
    assert env.metric("tollguard_decisions_total", decision="allow") == allowed + 1
    _wait_events(env, "call_answered", answered + 1)
    _wait_events(env, "call_ended", ended + 1)
    assert "fail-open" not in env.kam_open.log()


def test_suspended_customers_international_call_is_refused(env: Env) -> None:
    """(a) 403 international_suspended, on the reason phrase and the X-Tollguard-Reason header."""
    r = env.api("POST", "/v1/subscribers/S0003/suspend", json={"reason": "e2e: suspected fraud"})
    assert r.status_code == 200, r.text
    result = env.call(env.refuse(403, "international_suspended"), CALLER["S0003"], US, "susp-1")
    assert result.ok, result.explain()
    # calls at home are not affected by the suspension
    result = env.call(ks.SIPP_DIR / "uac_answer.xml", CALLER["S0003"], DOMESTIC, "susp-home")
    assert result.ok, result.explain()


def test_restricted_country_is_refused_with_its_reason(env: Env) -> None:
    """(c) 403 country_restricted after the analyst restricts North Korea."""
    r = env.api(
        "POST",
        "/v1/controls",
        json={"kind": "country_restriction", "subject": "KP", "reason": "e2e: IRSF wave"},
    )
    assert r.status_code in (200, 201), r.text
    result = env.call(env.refuse(403, "country_restricted"), CALLER["S0001"], NORTH_KOREA, "kp-1")
    assert result.ok, result.explain()


def test_unknown_caller_is_refused_by_tollguard(env: Env) -> None:
    """The HTTP path's own denial (no hard list knows this caller)."""
    denied = env.metric("tollguard_decisions_total", decision="deny", reason="unknown_subscriber")
    result = env.call(env.refuse(403, "unknown_subscriber"), "+81399990000", US, "unknown-1")
    assert result.ok, result.explain()
    assert (
        env.metric("tollguard_decisions_total", decision="deny", reason="unknown_subscriber")
        == denied + 1
    )


def test_suspension_during_a_call_cuts_it(env: Env) -> None:
    """(d) The caller's scenario succeeds only if the network sends it a BYE."""
    ended = env.metric("tollguard_events_total", kind="call_ended")
    call_id = "cut-1@127.0.0.1"
    call = env.call_to_be_cut(call_id, CALLER["S0002"], US, env.kam_open)
    try:
        with KamailioRpc(env.kam_open.rpc_url) as rpc:
            _wait_for(
                "the call is answered",
                lambda: (rpc.dialog(call_id) or {}).get("state") == 4,
            )
        r = env.api("POST", "/v1/subscribers/S0002/suspend", json={"reason": "e2e: cut"})
        assert r.status_code == 200, r.text
        assert call_id in r.json().get("calls_cut", []), r.text
        result = call.finish(wait=15)
        assert result.ok, result.explain()
        assert result.elapsed < 10
        env.wait_callee_bye(call_id)
    finally:
        call.finish(wait=0)
    _wait_events(env, "call_ended", ended + 1)

    def confirmed() -> bool:
        audit = env.api("GET", "/v1/audit", params={"subject": "subscriber:S0002"}).json()
        for entry in audit:
            evidence = entry.get("evidence") or {}
            if entry.get("action") == "call.terminate" and evidence.get("call_id") == call_id:
                # the switch's answer (key "switch", formerly "switch_confirmed")
                return evidence.get("switch", evidence.get("switch_confirmed")) is True
        return False

    _wait_for("the cut is audited as confirmed by the switch", confirmed)


def test_a_watched_call_is_ended_by_the_switch_itself(env: Env) -> None:
    """A call allowed under watch carries ``max_answered_s``; Kamailio's dialog ends itself
    then, BYE to both sides. The call goes through the fail-closed Kamailio, which tollguard
    has no JSON-RPC link to: only the switch's own timer can end it."""
    call_id = "watch-1@127.0.0.1"
    call = env.call_to_be_cut(call_id, CALLER["S0004"], SATELLITE, env.kam_closed)
    try:
        result = call.finish(wait=15)
        assert result.ok, result.explain()
        assert WATCH_S <= result.elapsed < WATCH_S + 5, result.elapsed
        env.wait_callee_bye(call_id)
    finally:
        call.finish(wait=0)
    watched = [
        a
        for a in env.api("GET", "/v1/alerts", params={"subscriber_id": "S0004"}).json()
        if a.get("detector") == "call_risk"
    ]
    assert watched and watched[0]["evidence"].get("watch_s") == WATCH_S, watched


def test_a_wrong_expectation_fails_the_scenario(env: Env) -> None:
    """(e) The scenarios are real checks: a deliberately wrong expectation makes sipp fail."""
    # expecting an answered call where tollguard refuses (S0003 is suspended)
    result = env.call(ks.SIPP_DIR / "uac_answer.xml", CALLER["S0003"], US, "wrong-1")
    assert not result.ok and result.returncode != 0, result.explain()
    # the right code with the wrong reason
    result = env.call(env.refuse(403, "country_restricted"), CALLER["S0003"], US, "wrong-2")
    assert result.returncode != 0, result.explain()
    assert "Failed regexp match" in result.errors
    # a refusal expected for a call that is allowed
    result = env.call(env.refuse(403, "international_suspended"), CALLER["S0001"], US, "wrong-3")
    assert result.returncode != 0, result.explain()


# -- tollguard not answering ------------------------------------------------------------------


def _hard_lists_synced(env: Env) -> None:
    with KamailioRpc(env.kam_open.rpc_url) as rpc:
        _wait_for(
            "the hard lists reach Kamailio",
            lambda: (
                "S0003" in rpc.table(HTABLE_SUSPENDED)
                and "850" in rpc.table(HTABLE_RESTRICTED_PREFIXES)
            ),
        )


def _fail_policies(env: Env, tag: str, stalled: bool) -> None:
    # fail-open: the call goes through, after the timeout when tollguard stalls
    result = env.call(ks.SIPP_DIR / "uac_answer.xml", CALLER["S0001"], US, f"{tag}-open")
    assert result.ok, result.explain()
    if stalled:
        assert TIMEOUT_S - 0.2 < result.elapsed < TIMEOUT_S + 3, result.elapsed
    else:
        assert result.elapsed < TIMEOUT_S + 1, result.elapsed
    # ... but the hard lists still hold, without waiting for tollguard
    for reason, caller, callee in (
        ("international_suspended", CALLER["S0003"], US),
        ("country_restricted", CALLER["S0004"], NORTH_KOREA),
    ):
        result = env.call(env.refuse(403, reason), caller, callee, f"{tag}-hard-{reason}")
        assert result.ok, result.explain()
        assert result.elapsed < 1, result.elapsed
    # fail-closed: 503 within the timeout
    result = env.call(
        env.refuse(503, "tollguard_unavailable"),
        CALLER["S0001"],
        US,
        f"{tag}-closed",
        kam=env.kam_closed,
    )
    assert result.ok, result.explain()
    assert result.elapsed < TIMEOUT_S + 3, result.elapsed


def test_fail_policies_while_tollguard_stalls(env: Env) -> None:
    """(f) tollguard accepts connections but never answers (SIGSTOP): each policy after 1 s."""
    _hard_lists_synced(env)
    # the fail-closed Kamailio answers from tollguard while it is up
    result = env.call(
        ks.SIPP_DIR / "uac_answer.xml", CALLER["S0001"], US, "closed-up", kam=env.kam_closed
    )
    assert result.ok, result.explain()
    os.killpg(env.tollguard.pid, signal.SIGSTOP)
    try:
        _fail_policies(env, "stalled", stalled=True)
    finally:
        os.killpg(env.tollguard.pid, signal.SIGCONT)
    assert "fail-open" in env.kam_open.log()
    assert "fail-closed" in env.kam_closed.log()


def test_fail_policies_with_tollguard_stopped(env: Env) -> None:
    """(f) tollguard is not running (connections refused): each policy at once."""
    ks.stop_group(env.tollguard)
    assert env.tollguard.returncode is not None
    _fail_policies(env, "stopped", stalled=False)
