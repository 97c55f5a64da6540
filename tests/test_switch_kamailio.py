"""KamailioRpc: cutting calls and holding the hard lists over Kamailio's JSON-RPC.

Two halves:

- against a local HTTP server standing in for Kamailio: the RPC sequence, and every way the switch
  can fail (nobody listening, HTTP errors, not JSON, RPC errors, too slow) returns ``False`` and
  never raises;
- against a real Kamailio 5.6 running ``integrations/kamailio/kamailio.cfg`` (installed by
  ``scripts/kamailio.sh``; skipped, saying why, only when it cannot be installed): the RPC
  commands the adapter relies on, a real call cut with sipp, and the htables the config checks.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e import kamailio_support as ks
from tollguard.adapters.switch import (
    HTABLE_BLOCKED_IPS,
    HTABLE_RESTRICTED_PREFIXES,
    HTABLE_SUSPENDED,
    KamailioRpc,
    KamailioRpcError,
)
from tollguard.adapters.switch.kamailio import default_prefix_reason
from tollguard.app.service.switch import HardLists, SwitchControl

# -- a stand-in for Kamailio's JSON-RPC endpoint ----------------------------------------------


class FakeKamailio:
    """Answers like Kamailio 5.6's jsonrpcs (shapes copied from the real one), or misbehaves."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[Any]]] = []
        self.tables: dict[str, dict[str, str]] = {
            HTABLE_BLOCKED_IPS: {},
            HTABLE_SUSPENDED: {},
            HTABLE_RESTRICTED_PREFIXES: {},
        }
        self.dialogs: dict[str, dict[str, Any]] = {}
        # misbehaviour: a function (handler) -> bool that answers instead (True = answered)
        self.override: Callable[[BaseHTTPRequestHandler], bool] | None = None

    def answer(self, method: str, params: list[Any]) -> dict[str, Any]:
        self.calls.append((method, params))
        if method == "core.version":
            return {"result": "kamailio 5.6.3 (x86_64/linux) "}
        if method == "dlg.dlg_list":
            return {"result": self.dialogs.get(params[0], {})}
        if method == "dlg.end_dlg":
            for cid, d in list(self.dialogs.items()):
                if [d["h_entry"], d["h_id"]] == params[:2]:
                    if d["state"] not in (3, 4):
                        return {"error": {"code": 500, "message": "Failed to terminate"}}
                    del self.dialogs[cid]
                    return {"result": {}}
            return {"error": {"code": 404, "message": "Dialog not found"}}
        if method.startswith("htable."):
            table = self.tables.get(params[0])
            if table is None:
                return {"error": {"code": 500, "message": "No such htable"}}
            if method == "htable.dump":
                slots = [
                    {"entry": i, "size": 1, "slot": [{"name": k, "value": v, "type": "str"}]}
                    for i, (k, v) in enumerate(table.items())
                ]
                return {"result": slots}
            if method == "htable.sets":
                table[params[1]] = params[2]
                return {"result": "Ok. Key set to new value."}
            if method == "htable.delete":
                table.pop(params[1], None)
                return {"result": {}}
        return {"error": {"code": 500, "message": "Method Not Found"}}

    def methods(self) -> list[str]:
        return [m for m, _ in self.calls]


@pytest.fixture
def fake() -> Iterator[tuple[FakeKamailio, str]]:
    state = FakeKamailio()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go in two writes

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if state.override is not None and state.override(self):
                return
            doc = json.loads(body)
            out = {
                "jsonrpc": "2.0",
                "id": doc.get("id"),
                **state.answer(doc["method"], doc.get("params", [])),
            }
            data = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    class Server(ThreadingHTTPServer):
        daemon_threads = True

        def handle_error(self, request: Any, client_address: Any) -> None:
            pass  # the "hang-up" misbehaviour breaks its own connection on purpose

    server = Server(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/RPC"
    finally:
        server.shutdown()
        server.server_close()


def _dialog(call_id: str, state: int, h_entry: int = 2742, h_id: int = 9251) -> dict[str, Any]:
    return {
        "h_entry": h_entry,
        "h_id": h_id,
        "call-id": call_id,
        "state": state,
        "caller": {"tag": "a"},
        "callee": {"tag": "b"},
    }


def _reply(handler: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
    handler.send_response(status)
    handler.send_header("Content-Type", ctype)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


LISTS = HardLists(
    blocked_ips=frozenset({"203.0.113.9"}),
    suspended=frozenset({"S0002", "81335550102", "+81335550102"}),
    restricted_prefixes=frozenset({"850", "+1876", "88213"}),
    barred=frozenset({"S0010", "81335550110"}),
)


# -- against the stand-in ---------------------------------------------------------------------


def test_is_a_switch_control() -> None:
    rpc: SwitchControl = KamailioRpc("http://127.0.0.1:9/RPC")
    assert isinstance(rpc, KamailioRpc)


def test_terminate_looks_up_the_dialog_then_ends_it_with_the_reason(
    fake: tuple[FakeKamailio, str],
) -> None:
    state, url = fake
    state.dialogs["c1@h"] = _dialog("c1@h", 4)
    with KamailioRpc(url) as rpc:
        assert rpc.terminate("c1@h", "international_suspended") is True
    assert state.methods() == ["dlg.dlg_list", "dlg.end_dlg"]
    assert state.calls[0][1] == ["c1@h"]
    h_entry, h_id, headers = state.calls[1][1]
    assert (h_entry, h_id) == (2742, 9251)
    assert headers == (
        'Reason: SIP;cause=403;text="international_suspended"\r\n'
        "X-Tollguard-Reason: international_suspended\r\n"
    )


def test_terminate_keeps_header_injection_out(fake: tuple[FakeKamailio, str]) -> None:
    state, url = fake
    state.dialogs["c1@h"] = _dialog("c1@h", 3)
    with KamailioRpc(url) as rpc:
        assert rpc.terminate("c1@h", 'fraud"\r\nX-Evil: 1') is True
    lines = state.calls[1][1][2].split("\r\n")
    assert lines == [
        'Reason: SIP;cause=403;text="fraud___X-Evil:_1"',
        "X-Tollguard-Reason: fraud___X-Evil:_1",
        "",
    ]


def test_terminate_without_an_answered_dialog_is_false(fake: tuple[FakeKamailio, str]) -> None:
    state, url = fake
    state.dialogs["ringing@h"] = _dialog("ringing@h", 2)
    with KamailioRpc(url) as rpc:
        assert rpc.terminate("nothing@h", "x") is False  # Kamailio answers {}
        assert rpc.terminate("ringing@h", "x") is False  # early dialogs cannot be ended by RPC
    assert "dlg.end_dlg" not in state.methods()


def test_terminate_of_a_dialog_gone_meanwhile_is_false(fake: tuple[FakeKamailio, str]) -> None:
    state, url = fake
    state.dialogs["c1@h"] = _dialog("c1@h", 4)

    def vanish(handler: BaseHTTPRequestHandler) -> bool:
        if state.calls and state.calls[-1][0] == "dlg.dlg_list":
            state.dialogs.clear()
        return False

    state.override = vanish
    with KamailioRpc(url) as rpc:
        assert rpc.terminate("c1@h", "x") is False
    assert state.methods() == ["dlg.dlg_list", "dlg.end_dlg"]


def test_sync_lists_writes_new_entries_first_and_deletes_stale_ones_last(
    fake: tuple[FakeKamailio, str],
) -> None:
    state, url = fake
    state.tables[HTABLE_SUSPENDED] = {"S0009": "international_suspended", "S0002": "old"}
    with KamailioRpc(url) as rpc:
        assert rpc.sync_lists(LISTS) is True
        assert state.tables == {
            HTABLE_BLOCKED_IPS: {"203.0.113.9": "ip_blocked"},
            HTABLE_SUSPENDED: {
                "S0002": "international_suspended",
                "81335550102": "international_suspended",
                "+81335550102": "international_suspended",
                "S0010": "international_barred_by_customer",
                "81335550110": "international_barred_by_customer",
            },
            HTABLE_RESTRICTED_PREFIXES: {
                "850": "country_restricted",
                "1876": "country_restricted",
                "88213": "range_denied",
            },
        }
        ops = [(m, p[1:2]) for m, p in state.calls if p and p[0] == HTABLE_SUSPENDED]
        assert ops[0] == ("htable.dump", [])
        assert ops[-1] == ("htable.delete", ["S0009"])
        assert all(m == "htable.sets" for m, _ in ops[1:-1])
        # the same lists again: one dump per table and nothing written
        state.calls.clear()
        assert rpc.sync_lists(LISTS) is True
        assert state.methods() == ["htable.dump"] * 3
        # empty lists empty the tables
        assert rpc.sync_lists(HardLists()) is True
    assert state.tables == {name: {} for name in state.tables}


def test_sync_lists_skips_unusable_keys(fake: tuple[FakeKamailio, str]) -> None:
    state, url = fake
    with KamailioRpc(url) as rpc:
        assert rpc.sync_lists(HardLists(suspended=frozenset({"", "a b", "S1"}))) is True
    assert state.tables[HTABLE_SUSPENDED] == {"S1": "international_suspended"}


def test_sync_lists_reports_a_missing_table(fake: tuple[FakeKamailio, str]) -> None:
    state, url = fake
    del state.tables[HTABLE_SUSPENDED]  # a Kamailio with another config
    with KamailioRpc(url) as rpc:
        assert rpc.sync_lists(LISTS) is False
    # the other tables were still written
    assert state.tables[HTABLE_BLOCKED_IPS] == {"203.0.113.9": "ip_blocked"}


def test_prefix_reasons() -> None:
    assert default_prefix_reason("850") == "country_restricted"
    assert default_prefix_reason("44") == "country_restricted"
    assert default_prefix_reason("1876") == "country_restricted"
    assert default_prefix_reason("88213") == "range_denied"
    assert default_prefix_reason("85021") == "range_denied"


def _misbehave(state: FakeKamailio, how: str) -> None:
    def answer(handler: BaseHTTPRequestHandler) -> bool:
        if how == "http500":
            _reply(handler, 500, b"<html>Internal error</html>", "text/html")
        elif how == "not-json":
            _reply(handler, 200, b"OK", "text/plain")
        elif how == "not-jsonrpc":
            _reply(handler, 200, b'{"hello": "world"}', "application/json")
        elif how == "rpc-error":
            _reply(
                handler,
                200,
                b'{"jsonrpc":"2.0","error":{"code":500,"message":"Method Not Found"},"id":1}',
                "application/json",
            )
        elif how == "hang-up":
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
        elif how == "slow":
            time.sleep(1.5)
            _reply(handler, 200, b'{"jsonrpc":"2.0","result":{},"id":1}', "application/json")
        return True

    state.override = answer


@pytest.mark.parametrize(
    "how", ["http500", "not-json", "not-jsonrpc", "rpc-error", "hang-up", "slow"]
)
def test_a_misbehaving_switch_gives_false_never_an_exception(
    fake: tuple[FakeKamailio, str], how: str
) -> None:
    state, url = fake
    _misbehave(state, how)
    with KamailioRpc(url, timeout=0.5) as rpc:
        started = time.monotonic()
        assert rpc.terminate("c1@h", "international_suspended") is False
        assert rpc.sync_lists(LISTS) is False
        assert rpc.version() is None
        with pytest.raises(KamailioRpcError):
            rpc.call("core.version")
        # 3 tables + 1 lookup + 1 version + 1 call, each bounded by the timeout
        assert time.monotonic() - started < 6 * 0.5 + 2


def test_nobody_listening_gives_false_at_once() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: connection refused
    with KamailioRpc(f"http://127.0.0.1:{port}/RPC", timeout=1.0) as rpc:
        started = time.monotonic()
        assert rpc.terminate("c1@h", "x") is False
        assert rpc.sync_lists(LISTS) is False
        assert rpc.version() is None
        assert time.monotonic() - started < 2


def test_an_unroutable_address_is_bounded_by_the_timeout() -> None:
    # 192.0.2.0/24 (TEST-NET-1) is never routed: the connect times out (or fails at once)
    with KamailioRpc("http://192.0.2.1:5071/RPC", timeout=0.3) as rpc:
        started = time.monotonic()
        assert rpc.terminate("c1@h", "x") is False
        assert time.monotonic() - started < 2


def test_a_proxy_in_the_environment_is_not_used(
    fake: tuple[FakeKamailio, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, url = fake
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    with KamailioRpc(url) as rpc:
        assert rpc.version() == "kamailio 5.6.3 (x86_64/linux)"


def test_usable_from_several_threads(fake: tuple[FakeKamailio, str]) -> None:
    state, url = fake
    for i in range(20):
        state.dialogs[f"c{i}@h"] = _dialog(f"c{i}@h", 4, h_entry=i, h_id=i)
    results: list[bool] = []
    with KamailioRpc(url) as rpc:
        threads = [
            threading.Thread(target=lambda i=i: results.append(rpc.terminate(f"c{i}@h", "x")))
            for i in range(20)
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [True] * 20


# -- against a real Kamailio ------------------------------------------------------------------


@pytest.fixture(scope="module")
def kamailio(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ks.Kamailio, int, Path]]:
    """A real Kamailio with the shipped config (fail-open, no tollguard) and a sipp UAS."""
    why = ks.kamailio_available()
    if why is not None:
        pytest.skip(why)
    work = tmp_path_factory.mktemp("kamailio-rpc")
    uas_port = ks.free_port()
    uas = ks.start_sipp_uas(work / "uas", uas_port)
    closed = ks.free_port(socket.SOCK_STREAM)  # no tollguard: the policy decides
    try:
        kam = ks.start_kamailio(
            work / "kamailio",
            tollguard=f"http://switch:unused@127.0.0.1:{closed}",
            next_hop_port=uas_port,
            fail_policy="open",
        )
    except BaseException:
        ks.stop_group(uas)
        raise
    try:
        yield kam, uas_port, work
    finally:
        kam.stop()
        ks.stop_group(uas)


real = pytest.mark.e2e


@real
def test_real_version(kamailio: tuple[ks.Kamailio, int, Path]) -> None:
    kam, _, _ = kamailio
    with KamailioRpc(kam.rpc_url) as rpc:
        version = rpc.version()
    assert version is not None and version.startswith("kamailio 5.")
    # only /RPC is served on the JSON-RPC port
    with httpx.Client(trust_env=False, timeout=2) as client:
        r = client.get(f"http://127.0.0.1:{kam.rpc_port}/elsewhere")
    assert r.status_code == 404


@real
def test_real_sync_lists_fills_and_prunes_the_htables(
    kamailio: tuple[ks.Kamailio, int, Path],
) -> None:
    kam, _, _ = kamailio
    with KamailioRpc(kam.rpc_url) as rpc:
        assert rpc.sync_lists(LISTS) is True
        assert rpc.table(HTABLE_BLOCKED_IPS) == {"203.0.113.9": "ip_blocked"}
        assert rpc.table(HTABLE_SUSPENDED) == {
            **dict.fromkeys(LISTS.suspended, "international_suspended"),
            **dict.fromkeys(LISTS.barred, "international_barred_by_customer"),
        }
        assert rpc.table(HTABLE_RESTRICTED_PREFIXES) == {
            "850": "country_restricted",
            "1876": "country_restricted",
            "88213": "range_denied",
        }
        smaller = HardLists(suspended=frozenset({"S0002"}), restricted_prefixes=frozenset({"850"}))
        assert rpc.sync_lists(smaller) is True
        assert rpc.table(HTABLE_BLOCKED_IPS) == {}
        assert rpc.table(HTABLE_SUSPENDED) == {"S0002": "international_suspended"}
        assert rpc.table(HTABLE_RESTRICTED_PREFIXES) == {"850": "country_restricted"}
        with pytest.raises(KamailioRpcError, match="No such htable"):
            rpc.table("no_such_table")
        assert rpc.sync_lists(HardLists()) is True


@real
def test_real_hard_lists_refuse_calls_without_tollguard(
    kamailio: tuple[ks.Kamailio, int, Path],
) -> None:
    """The config checks the htables before asking tollguard (which is absent here)."""
    kam, _, work = kamailio
    lists = HardLists(
        blocked_ips=frozenset(),
        suspended=frozenset({"81335550177"}),
        restricted_prefixes=frozenset({"850"}),
    )
    with KamailioRpc(kam.rpc_url) as rpc:
        assert rpc.sync_lists(lists) is True
        try:
            cases = [
                # the suspended caller abroad, dialled with the Japanese international prefix
                ("+81335550177", "0101212555010", "international_suspended"),
                # ... with a carrier selection code first
                ("+81335550177", "00330101212555010", "international_suspended"),
                # anyone to North Korea, in E.164
                ("+81335550101", "+850212345678", "country_restricted"),
            ]
            for i, (caller, callee, reason) in enumerate(cases):
                result = ks.run_sipp_uac(
                    work,
                    ks.render_refuse(work, 403, reason),
                    target=kam.sip_address,
                    callee=callee,
                    caller=caller,
                    call_id=f"hard-{i}@127.0.0.1",
                    timeout_s=10,
                )
                assert result.ok, result.explain()
            # a suspended customer may still call at home: fail-open relays it to the UAS
            result = ks.run_sipp_uac(
                work,
                ks.SIPP_DIR / "uac_answer.xml",
                target=kam.sip_address,
                callee="0335551234",
                caller="+81335550177",
                call_id="hard-home@127.0.0.1",
                timeout_s=10,
            )
            assert result.ok, result.explain()
        finally:
            rpc.sync_lists(HardLists())


def _wait_until(check: Callable[[], bool], within: float = 5) -> None:
    deadline = time.monotonic() + within
    while not check():
        assert time.monotonic() < deadline, f"not within {within}s"
        time.sleep(0.05)


def _wait_answered(rpc: KamailioRpc, call_id: str, within: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        dlg = rpc.dialog(call_id)
        if dlg is not None and dlg.get("state") == 4:
            return dlg
        time.sleep(0.05)
    raise AssertionError(f"call {call_id} was not answered within {within}s")


@real
@pytest.mark.parametrize("attempt", range(5))
def test_real_terminate_cuts_an_answered_call(
    kamailio: tuple[ks.Kamailio, int, Path], attempt: int
) -> None:
    """Both legs get a BYE, every time (repeated: without the config's reply_route hold,
    Kamailio 5.6 drops the callee's BYE in about a third of cuts on loopback)."""
    kam, _, work = kamailio
    call_id = f"rpc-cut-{attempt}@127.0.0.1"
    call = ks.start_sipp_uac(
        work,
        ks.SIPP_DIR / "uac_cut.xml",
        target=kam.sip_address,
        callee="0335551234",
        caller="+81335550101",
        call_id=call_id,
        timeout_s=20,
    )
    try:
        with KamailioRpc(kam.rpc_url) as rpc:
            dlg = _wait_answered(rpc, call_id)
            assert {"h_entry", "h_id", "state"} <= dlg.keys()
            assert rpc.terminate(call_id, "international_suspended") is True
            result = call.finish(wait=10)
            # the caller's scenario only succeeds when a BYE came from the network
            assert result.ok, result.explain()
            # and the callee, the leg that costs money, got its BYE too
            _wait_until(lambda: ks.uas_received(work / "uas", "BYE", call_id))
            # the dialog is over: cutting it again is refused, as is an unknown call
            assert rpc.terminate(call_id, "international_suspended") is False
            assert rpc.terminate("no-such-call@127.0.0.1", "x") is False
    finally:
        call.finish(wait=0)
