"""No one in who should not be: logins, per-user babies in every callback and export, headers, no stack traces.

The dashboard's real Flask server is driven over HTTP (Flask's test client, and a real ``sleepmoves serve``
subprocess for the network address), with requests crafted the way a curious user could craft them.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import os
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from sleepmoves.dashboard import state
from sleepmoves.dashboard.auth import Users, hash_password, verify_password
from sleepmoves.schema import SleepmovesError
from tests.conftest import ROOT
from tests.test_cli import run

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def users_file(tmp_path_factory, demo_lake):
    """Three users: ``dr-lee``, a clinician, sees only the first baby; ``admin``, a clinician, sees all; ``mum``, a
    parent, sees all."""
    path = tmp_path_factory.mktemp("users") / "users.json"
    first = demo_lake.subjects()["subject"].iloc[0]
    for name, who in (
        ("dr-lee", ["--subjects", first, "--clinician"]),
        ("admin", ["--all", "--clinician"]),
        ("mum", ["--all"]),
    ):
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "sleepmoves.cli",
                "user",
                "add",
                name,
                "--users",
                str(path),
                *who,
                "--password-stdin",
            ],
            input=PASSWORD + "\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
        )
        assert done.returncode == 0, done.stderr
    return path


@pytest.fixture(scope="module")
def secure_lake(demo_lake, tmp_path_factory):
    """A copy of the demo lake (the admin's uploads change it)."""
    import shutil

    from sleepmoves.lake import Lake

    root = tmp_path_factory.mktemp("secure") / "lake"
    shutil.copytree(demo_lake.root, root)
    return Lake(root)


@pytest.fixture
def client(secure_lake, users_file, demo_lake):
    """The dashboard with logins required, as a test client; state restored afterwards."""
    from sleepmoves.dashboard import security
    from sleepmoves.dashboard.app import create_app

    security.failed_logins = security.FailedLogins()  # each test starts with no failed logins on record
    app = create_app(secure_lake.root, users=Users.load(users_file))
    yield app, app.server.test_client()
    create_app(demo_lake.root)  # back to no login for the other tests


def basic(user: str, password: str = PASSWORD) -> dict:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


# ---------------------------------------------------------------------- users file
def test_users_file_holds_only_salted_hashes(users_file):
    text = users_file.read_text()
    assert PASSWORD not in text
    assert stat.S_IMODE(os.stat(users_file).st_mode) == 0o600  # readable by its owner only
    entries = json.loads(text)["users"]
    assert {e["name"] for e in entries} == {"dr-lee", "admin", "mum"}
    assert {e["name"]: e["role"] for e in entries}["mum"] == "parent"
    hashes = [e["password"] for e in entries]
    assert all(h.startswith("scrypt$16384$8$1$") for h in hashes)
    assert hashes[0] != hashes[1]  # same password, different salt
    assert verify_password(PASSWORD, hashes[0]) and not verify_password(PASSWORD + "!", hashes[0])
    listed = run("user", "list", "--users", users_file)
    assert listed.returncode == 0 and "admin: every baby (clinician)" in listed.stdout
    assert "mum: every baby\n" in listed.stdout


def test_users_file_errors_are_clear(tmp_path):
    bad = tmp_path / "users.json"
    bad.write_text('{"users": [{"name": "mum", "password": "hunter2hunter2", "subjects": "*"}]}')
    with pytest.raises(SleepmovesError, match="password must be a scrypt hash"):
        Users.load(bad)
    bad.write_text(
        json.dumps({"users": [{"name": "mum", "password": hash_password("x"), "subjects": ["../etc"]}]})
    )
    with pytest.raises(SleepmovesError, match="invalid subject id"):
        Users.load(bad)
    bad.write_text("not json")
    with pytest.raises(SleepmovesError, match="not a sleepmoves users file"):
        Users.load(bad)
    short = subprocess.run(
        [
            sys.executable,
            "-m",
            "sleepmoves.cli",
            "user",
            "add",
            "mum",
            "--users",
            str(tmp_path / "u.json"),
            "--all",
            "--password-stdin",
        ],
        input="short\n",
        capture_output=True,
        text=True,
        cwd=ROOT,
    )
    assert short.returncode == 1 and "at least 10 characters" in short.stderr
    assert not (tmp_path / "u.json").exists()


def test_a_new_password_keeps_the_role_unless_another_is_given(users_file, tmp_path):
    copy = tmp_path / "users.json"
    copy.write_bytes(users_file.read_bytes())

    def add(*args):
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "sleepmoves.cli",
                "user",
                "add",
                "dr-lee",
                "--users",
                str(copy),
                "--all",
                *args,
                "--password-stdin",
            ],
            input=PASSWORD + "2\n",
            capture_output=True,
            text=True,
            cwd=ROOT,
        )

    assert add().returncode == 0 and Users.load(copy).users["dr-lee"].clinician
    assert add("--parent").returncode == 0 and not Users.load(copy).users["dr-lee"].clinician
    assert add("--clinician").returncode == 0 and Users.load(copy).users["dr-lee"].clinician


def test_user_remove(users_file, tmp_path):
    copy = tmp_path / "users.json"
    copy.write_bytes(users_file.read_bytes())
    assert run("user", "remove", "admin", "--users", copy).returncode == 0
    assert set(Users.load(copy).users) == {"dr-lee", "mum"}
    again = run("user", "remove", "admin", "--users", copy)
    assert again.returncode == 1 and "no user 'admin'" in again.stderr


# ---------------------------------------------------------------------- login
@pytest.mark.parametrize("path", ["/", "/data", "/_dash-layout", "/_dash-dependencies", "/assets/style.css"])
def test_every_page_needs_a_login(client, path):
    _, http = client
    assert http.get(path).status_code == 401
    assert http.get(path).headers["WWW-Authenticate"].startswith("Basic")
    assert http.get(path, headers=basic("dr-lee", "wrong password")).status_code == 401
    assert http.get(path, headers=basic("nobody")).status_code == 401
    assert http.get(path, headers=basic("dr-lee")).status_code == 200


def test_callbacks_need_a_login_too(client, demo_lake):
    _, http = client
    subject = demo_lake.subjects()["subject"].iloc[0]
    body = _payload("..night.options...night.value..", [("subject", "value", subject)], [])
    response = http.post("/_dash-update-component", json=body)
    assert response.status_code == 401 and subject.encode() not in response.data


# ---------------------------------------------------------------------- per-user babies
def _deps(http, user="admin") -> dict[str, dict]:
    return {d["output"]: d for d in http.get("/_dash-dependencies", headers=basic(user)).get_json()}


def _outputs(key: str):
    if key.startswith(".."):
        parts = key[2:-2].split("...")
        return [{"id": p.split(".")[0], "property": p.split(".")[1]} for p in parts]
    node, prop = key.split(".", 1)
    return {"id": node, "property": prop}


def _payload(key, inputs, states):
    return {
        "output": key,
        "outputs": _outputs(key),
        "inputs": [{"id": i, "property": p, "value": v} for i, p, v in inputs],
        "state": [{"id": i, "property": p, "value": v} for i, p, v in states],
        "changedPropIds": [f"{i}.{p}" for i, p, _ in inputs],
    }


def stage(http, user, name: str, data: bytes) -> tuple[int, dict]:
    """Send a file to ``POST /upload`` as the page's script does (the raw bytes as the body): the status and the
    answer (``token`` and ``filename``, or ``error``)."""
    response = http.post(
        "/upload",
        query_string={"name": name},
        data=data,
        headers={**basic(user), "Content-Type": "application/octet-stream"},
    )
    return response.status_code, response.get_json()


def _call(http, user, key, values: dict):
    """POST one callback as the browser would, with ``values`` for its inputs and states by component id.

    An ``upload-accepted`` value given as ``{"contents": data URL, "filename": name}`` is first sent to
    ``/upload`` as ``user`` (as the page's script sends the chosen file), and the callback gets its token."""
    upload = values.get("upload-accepted")
    if isinstance(upload, dict) and "contents" in upload:
        data = base64.b64decode(upload["contents"].split(",", 1)[1])
        status, answer = stage(http, user, upload["filename"], data)
        assert status == 200, answer
        values = {**values, "upload-accepted": answer}
    dep = _deps(http)[key]
    inputs = [(i["id"], i["property"], values.get(i["id"])) for i in dep["inputs"]]
    states = [(s["id"], s["property"], values.get(s["id"])) for s in dep["state"]]
    return http.post("/_dash-update-component", json=_payload(key, inputs, states), headers=basic(user))


def _requests(own: str, night: str, week: str, target: str) -> dict[str, dict]:
    """For each callback that reads the lake: input values that ask for ``target``'s data."""
    one_file = (
        "data:text/csv;base64,"
        + base64.b64encode(
            b"time,duration_s,limb,kind,intensity\n2026-03-02T20:00:00+00:00,0.3,left_leg,twitch,0.2\n"
        ).decode()
    )
    return {
        "..night.options...night.value..": {"subject": target},
        "..night-figure.figure...summary-cards.children...flags.children...scoring.children...night-hint.children...night-sentence.children...night-video.children..": {
            "subject": target,
            "night": night,
        },
        "night-download.data": {"night-png": 1, "subject": target, "night": night},
        "..weeks-figure.figure...weeks-table.children...weeks-cycles.children...weeks-message.children..": {
            "weeks-subjects": [own, target],
            "weeks-a": week,
            "weeks-b": week,
        },
        "weeks-download.data": {"weeks-png": 1, "weeks-subjects": [target], "weeks-a": week, "weeks-b": week},
        "..weeks-nights.columns...weeks-nights.data..": {
            "weeks-subjects": [own, target],
            "weeks-a": week,
            "weeks-b": week,
        },
        "..trend-figure.figure...trend-message.children..": {
            "weeks-subjects": [own, target],
            "trend-metric": "total_sleep_min",
            "trend-from": night,
            "trend-to": night,
        },
        "trend-download.data": {
            "trend-png": 1,
            "weeks-subjects": [target],
            "trend-metric": "total_sleep_min",
            "trend-from": night,
            "trend-to": night,
        },
        "..report-download.data...report-message.children..": {
            "report-pdf": 1,
            "weeks-subjects": [target],
            "trend-from": night,
            "trend-to": night,
        },
        "weeks-regularity.children": {"weeks-subjects": [own, target], "weeks-a": week, "weeks-b": week},
        "nights-download.data": {
            "nights-csv": 1,
            "weeks-subjects": [target],
            "weeks-a": week,
            "weeks-b": week,
        },
        "..score-night.options...score-night.value...score-suggestions.children..": {"score-subject": target},
        "score-video.children": {"score-subject": target, "score-night": night},
        "..score-figure.figure...score-overview.figure...score-cursor.data...score-status.children...score-done.data..": {
            "score-subject": target,
            "score-night": night,
            "score-key": {"key": "next", "seq": 1},
        },
        "..upload-result.children...manifest.children..": {
            "upload-accepted": {"contents": one_file, "filename": "x.csv"},
            "data-subject": target,
        },
    }


# callbacks that never read the lake (they only move between values the page already holds)
# the sample is simulated; the night's numbers fold on a phone in the browser alone
# the chart click seeks the page's own video player in the browser alone; the analysis poll reads only how far
# the current user's own upload is (test_how_far_a_video_is_analysed_is_told_to_its_sender_only)
NO_LAKE = {
    "_pages_dummy.children",
    "whoami.children",
    "sample-file.data",
    "night-numbers.open",
    "night-video.title",
    "analysis-progress.children",
    "score-video.title",
    "score-status.title",
}
PAGES = "_pages_content.children"


def test_every_callback_refuses_another_users_baby_like_a_missing_one(client, secure_lake):
    """A user asking any callback for a baby not theirs gets exactly what a baby that does not exist gets."""
    _, http = client
    lake = secure_lake
    own, other = list(lake.subjects()["subject"])[:2]
    night = lake.nights(other)[-1]
    week = "{}-W{:02d}".format(*__import__("pandas").Timestamp(night).isocalendar()[:2])
    files_before = len(lake.manifest())
    forbidden = _requests(own, night, week, other)
    missing = _requests(own, night, week, "nobody")
    deps = _deps(http)
    covered = set(forbidden) | NO_LAKE
    unlisted = [k for k in deps if k not in covered and not k.startswith(f"..{PAGES}") and "@" not in k]
    assert unlisted == [], f"new callbacks must be added to this test: {unlisted}"
    for key in forbidden:
        as_other = _call(http, "dr-lee", key, forbidden[key])
        as_nobody = _call(http, "dr-lee", key, missing[key])
        assert as_other.status_code == as_nobody.status_code, key
        assert as_other.data.replace(other.encode(), b"nobody") == as_nobody.data, key
        assert b"Traceback" not in as_other.data
    assert len(lake.manifest()) == files_before  # dr-lee's upload for someone else's baby stored nothing
    # the admin, who may see that baby, gets its data: the requests were real ones
    for key in forbidden:
        as_admin = _call(http, "admin", key, forbidden[key])
        assert as_admin.status_code == 200, key
        assert as_admin.data != _call(http, "dr-lee", key, forbidden[key]).data, key
    assert len(lake.manifest()) == files_before + 1  # the admin's upload landed


def _key(http, user, subject, night, at=None, key="quiet"):
    """The Score page's answer to one key pressed on ``subject``'s night with the cursor on epoch ``at``."""
    name = "..score-figure.figure...score-overview.figure...score-cursor.data...score-status.children...score-done.data.."
    dep = _deps(http)[name]
    cursor = {"subject": subject, "night": night, "at": at}
    values = {
        "score-subject": subject,
        "score-night": night,
        "score-key": {"key": key, "seq": 7},
        "score-cursor": cursor,
    }
    inputs = [(i["id"], i["property"], values.get(i["id"])) for i in dep["inputs"]]
    states = [(s["id"], s["property"], values.get(s["id"])) for s in dep["state"]]
    body = _payload(name, inputs, states)
    body["changedPropIds"] = ["score-key.data"]
    return http.post("/_dash-update-component", json=body, headers=basic(user))


def test_labels_are_written_only_by_clinicians_and_only_for_their_babies(client, secure_lake):
    from sleepmoves.labels import night_labels, scored_nights

    _, http = client
    own, other = list(secure_lake.subjects()["subject"])[:2]
    night = secure_lake.nights(other)[-1]
    at = secure_lake.phases(other, night)["epoch_start"].iloc[5].isoformat()
    before = scored_nights(secure_lake)
    as_other = _key(http, "dr-lee", other, night, at)
    as_nobody = _key(http, "dr-lee", "nobody", night, at)
    assert as_other.status_code == as_nobody.status_code == 200
    assert as_other.data.replace(other.encode(), b"nobody") == as_nobody.data
    parent = _key(http, "mum", other, night, at)  # a parent sees the baby but does not score
    assert parent.status_code == 200 and b"Saved" not in parent.data
    assert "Scoring is for clinicians" in _page(http, "mum", "/score")
    assert "Scoring is for clinicians" not in _page(http, "dr-lee", "/score")
    pd = __import__("pandas")
    pd.testing.assert_frame_equal(scored_nights(secure_lake), before)
    own_night = secure_lake.nights(own)[-1]
    first = secure_lake.phases(own, own_night)["epoch_start"].iloc[5]
    mine = _key(http, "dr-lee", own, own_night, first.isoformat())  # their own baby: saved, under their name
    assert b"Saved" in mine.data and b"as dr-lee" in mine.data
    saved = night_labels(secure_lake, own, own_night, scorer="dr-lee")
    assert saved[["epoch_start", "phase"]].values.tolist() == [[first, "quiet"]]


def _page(http, user, path, search=""):
    dep = next(d for d in _deps(http) if d.startswith(f"..{PAGES}"))
    body = _payload(dep, [("_pages_location", "pathname", path), ("_pages_location", "search", search)], [])
    response = http.post("/_dash-update-component", json=body, headers=basic(user))
    assert response.status_code == 200
    return response.get_data(as_text=True)


@pytest.mark.parametrize("path", ["/", "/weeks", "/data"])
def test_pages_list_only_the_users_babies(client, secure_lake, path):
    _, http = client
    own, *others = list(secure_lake.subjects()["subject"])
    mine = _page(http, "dr-lee", path)
    everyone = _page(http, "admin", path)
    assert f'"{own}"' in mine
    for other in others:
        assert f'"{other}"' not in mine and f'"{other}"' in everyone
        # a link naming someone else's baby (the weeks table links nights) opens the user's own
        asked = _page(http, "dr-lee", path, f"?subject={other}&night={secure_lake.nights(other)[-1]}")
        assert f'"{other}"' not in asked and f'"{own}"' in asked


def test_export_as_a_restricted_user_is_refused(client, demo_lake, tmp_path):
    """The PNG export builders read through the same scoped lake."""
    from sleepmoves.dashboard.export import night_summary_figure
    from sleepmoves.lake import Lake

    own, other = list(demo_lake.subjects()["subject"])[:2]
    scoped = Lake(demo_lake.root, only=[own])
    assert night_summary_figure(scoped, own, demo_lake.nights(own)[-1]) is not None
    with pytest.raises(SleepmovesError, match="unknown subject"):
        night_summary_figure(scoped, other, demo_lake.nights(other)[-1])
    with pytest.raises(SleepmovesError):
        scoped.read("events", [other])
    with pytest.raises(SleepmovesError):
        scoped.delete_subject(other)
    assert list(scoped.subjects()["subject"]) == [own]
    assert set(scoped.manifest()["subject"]) <= {own}


# ---------------------------------------------------------------------- headers, errors, sizes
def test_security_headers(client):
    _, http = client
    for path in ("/", "/_dash-layout"):
        headers = http.get(path, headers=basic("admin")).headers
        csp = headers["Content-Security-Policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert "'unsafe-eval'" not in csp and "script-src 'self' 'sha256-" in csp
        assert headers["X-Frame-Options"] == "DENY"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert headers["Referrer-Policy"] == "no-referrer"
        assert headers["Cache-Control"] == "no-store"
        assert "Server" not in headers


def test_broken_requests_get_no_stack_trace(client):
    _, http = client
    for body in (b"{not json", json.dumps({"output": "night-download.data"}).encode(), b"[]"):
        response = http.post(
            "/_dash-update-component",
            data=body,
            headers={**basic("admin"), "Content-Type": "application/json"},
        )
        assert response.status_code >= 400
        text = response.get_data(as_text=True)
        assert "Traceback" not in text and 'File "' not in text and ".py" not in text


def test_oversized_request_is_refused_before_it_is_read(client):
    app, http = client
    state.set_max_upload_bytes(1000)
    try:
        response = http.post(
            "/_dash-update-component",
            data=b"x" * (2 * 1024 * 1024),
            headers={**basic("admin"), "Content-Type": "application/json"},
        )
        assert response.status_code == 413 and b"files up to" in response.data
    finally:
        state.set_max_upload_bytes(state.DEFAULT_MAX_UPLOAD_MB * 1024 * 1024)


def test_upload_over_the_limit_is_refused_on_the_server_too(client, secure_lake):
    """A request that skips the browser's size check still meets the limit, with a clear message, and leaves
    nothing on disk (whether or not it says its length)."""
    _, http = client
    state.set_max_upload_bytes(64)
    try:
        status, answer = stage(http, "admin", "big.csv", b"time,duration_s,limb,kind,intensity\n" * 10)
        assert status == 413 and "big.csv is 360 bytes: files up to 64 bytes" in answer["error"]
        # no length said: the body is counted as it is written, and dropped past the limit
        chunked = http.post(
            "/upload",
            query_string={"name": "big.csv"},
            input_stream=io.BytesIO(b"x" * 500),
            headers={**basic("admin"), "Content-Type": "application/octet-stream"},
        )
        assert chunked.status_code in (400, 413)
        assert not list((secure_lake.root / ".uploads").rglob("*.csv"))
    finally:
        state.set_max_upload_bytes(state.DEFAULT_MAX_UPLOAD_MB * 1024 * 1024)


def test_an_upload_token_is_its_senders_only(client, secure_lake):
    """A token from /upload lets only the user who sent the file ingest it; a made-up token is no file."""
    _, http = client
    own = secure_lake.subjects()["subject"].iloc[0]
    status, answer = stage(http, "dr-lee", "x.csv", b"start,kind\n2026-03-02T20:00:00+00:00,twitch\n")
    assert status == 200 and set(answer) == {"token", "filename"}
    key = "..upload-result.children...manifest.children.."
    stolen = _call(http, "admin", key, {"upload-accepted": answer, "data-subject": own})
    assert "no longer here (or was sent by someone else)" in stolen.get_data(as_text=True)
    made_up = _call(
        http,
        "admin",
        key,
        {"upload-accepted": {"token": "../../etc", "filename": "passwd"}, "data-subject": own},
    )
    assert "the upload arrived damaged" in made_up.get_data(as_text=True)


# ---------------------------------------------------------------------- the real server on the network
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_network_address_needs_users_and_then_asks_for_a_login(demo_lake, users_file):
    refused = run("serve", "--host", "0.0.0.0", "--lake", demo_lake.root)
    assert (
        refused.returncode == 1
        and "without a login" in refused.stderr
        and "TLS reverse proxy" in refused.stderr
    )
    port = _free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "sleepmoves.cli",
            "serve",
            "--host",
            "0.0.0.0",
            "--port",
            str(port),
            "--lake",
            str(demo_lake.root),
            "--users",
            str(users_file),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2)
                pytest.fail("the page was served without a login")
            except urllib.error.HTTPError as exc:
                assert exc.code == 401
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "server did not start"
                assert server.poll() is None, server.stderr.read()
                time.sleep(0.3)
        request = urllib.request.Request(url, headers=basic("dr-lee"))
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200 and "sleepmoves" in response.read().decode()
    finally:
        server.terminate()
        server.wait(timeout=10)


def test_night_download_can_hide_the_babys_name(client, secure_lake):
    """The page's "hide the baby's name" box gives an anonymous PNG with an anonymous file name."""
    _, http = client
    subject = secure_lake.subjects()["subject"].iloc[0]
    night = secure_lake.nights(subject)[-1]
    values = {"night-png": 1, "subject": subject, "night": night, "night-anonymise": ["anonymise"]}
    response = _call(http, "admin", "night-download.data", values)
    assert response.status_code == 200
    payload = response.get_json()["response"]["night-download"]["data"]
    assert payload["filename"] == f"sleepmoves-baby-{night}.png"
    assert base64.b64decode(payload["content"])[:8] == b"\x89PNG\r\n\x1a\n"


def test_debug_is_off(client):
    """No Dash dev tools, no hot reload, no Flask debugger: nothing that shows code or paths to a browser."""
    app, http = client
    assert not app.server.debug
    page = http.get("/", headers=basic("admin")).get_data(as_text=True)
    assert '"ui":false' in page and '"props_check":false' in page
    reload = http.get("/_reload-hash", headers=basic("admin")).get_json()
    assert reload["reloadHash"] is None and reload["files"] == []


def test_a_removed_user_is_out_without_a_restart(users_file, tmp_path):
    copy = tmp_path / "users.json"
    copy.write_bytes(users_file.read_bytes())
    users = Users.load(copy)
    assert users.authenticate("dr-lee", PASSWORD) is not None
    assert run("user", "remove", "dr-lee", "--users", copy).returncode == 0
    users.refresh(every_s=0)  # the server checks the file at most once a second
    assert users.authenticate("dr-lee", PASSWORD) is None  # even though the password was cached as good
    assert users.authenticate("admin", PASSWORD) is not None
    copy.write_text("damaged")
    users.refresh(every_s=0)
    assert users.authenticate("admin", PASSWORD) is None  # an unusable file lets no one in


def test_an_unexpected_upload_failure_is_a_plain_message(client, secure_lake, monkeypatch):
    import sleepmoves.ingest

    def broken(*_args, **_kwargs):
        raise RuntimeError("a bug of ours")

    monkeypatch.setattr(sleepmoves.ingest, "parse_file", broken)
    _, http = client
    own = secure_lake.subjects()["subject"].iloc[0]
    files = len(secure_lake.manifest())
    csv = (
        "data:text/csv;base64,"
        + base64.b64encode(b"time,duration_s,limb,kind\n2026-03-02T21:00:00Z,1,left_leg,kick\n").decode()
    )
    response = _call(
        http,
        "admin",
        "..upload-result.children...manifest.children..",
        {"upload-accepted": {"contents": csv, "filename": "x.csv"}, "data-subject": own},
    )
    text = response.get_data(as_text=True)
    assert response.status_code == 200 and "something went wrong on our side and nothing was stored" in text
    assert "a bug of ours" not in text and "Traceback" not in text
    assert len(secure_lake.manifest()) == files


def test_cli_unexpected_error_is_one_line_unless_debugging(tmp_path):
    not_a_folder = tmp_path / "lake"
    not_a_folder.write_text("a file where the lake should be")
    done = run("subject", "add", "ada", "--tz", "Europe/London", "--lake", not_a_folder)
    assert done.returncode == 3 and "Traceback" not in done.stderr
    assert "unexpected error" in done.stderr and "SLEEPMOVES_DEBUG=1" in done.stderr
    debug = subprocess.run(
        [
            sys.executable,
            "-m",
            "sleepmoves.cli",
            "subject",
            "add",
            "ada",
            "--tz",
            "Europe/London",
            "--lake",
            str(not_a_folder),
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env={**os.environ, "SLEEPMOVES_DEBUG": "1"},
    )
    assert debug.returncode != 0 and "Traceback" in debug.stderr


def test_upload_over_the_row_limit_is_refused(client, secure_lake):
    _, http = client
    own = secure_lake.subjects()["subject"].iloc[0]
    files = len(secure_lake.manifest())
    rows = "".join(f"2026-03-02T21:{m:02d}:00+00:00,0.3,left_leg,twitch\n" for m in range(10))
    csv = "data:text/csv;base64," + base64.b64encode(b"time,duration_s,limb,kind\n" + rows.encode()).decode()
    state.set_max_upload_rows(5)
    try:
        response = _call(
            http,
            "admin",
            "..upload-result.children...manifest.children..",
            {"upload-accepted": {"contents": csv, "filename": "long.csv"}, "data-subject": own},
        )
    finally:
        state.set_max_upload_rows(None)
    text = response.get_data(as_text=True)
    assert "long.csv: more than 5 rows, over the limit" in text and "--max-upload-rows" in text
    assert len(secure_lake.manifest()) == files


@pytest.mark.parametrize(
    "hostile", ["../../evil.csv", "/etc/passwd", "..", "a/../../b.csv", "nul\x00.csv", ".hidden.csv"]
)
def test_upload_file_names_never_become_paths(client, secure_lake, hostile):
    """Whatever name the browser sends, the file is only copied into a private temporary folder, under a safe
    name, and the lake records that safe name."""
    _, http = client
    own = secure_lake.subjects()["subject"].iloc[0]
    minute = sum(hostile.encode()) % 60  # a different file (sha256) for each name
    body = f"time,duration_s,limb,kind\n2026-03-02T21:{minute:02d}:00+00:00,0.3,left_leg,twitch\n"
    csv = "data:text/csv;base64," + base64.b64encode(body.encode()).decode()
    before_files = set(secure_lake.root.parent.rglob("*"))
    before_rows = set(secure_lake.manifest()["sha256"])
    response = _call(
        http,
        "admin",
        "..upload-result.children...manifest.children..",
        {"upload-accepted": {"contents": csv, "filename": hostile}, "data-subject": own},
    )
    assert response.status_code == 200
    created = set(secure_lake.root.parent.rglob("*")) - before_files
    assert created and all(secure_lake.root in p.parents for p in created), created  # only inside the lake
    manifest = secure_lake.manifest()
    (name,) = manifest.loc[~manifest["sha256"].isin(before_rows), "path"]
    assert "/" not in name and not name.startswith(".") and "\x00" not in name and ".." not in name


# ---------------------------------------------------------------------- DNS rebinding: Host and Origin
def test_a_rebound_host_or_a_foreign_origin_gets_nothing(demo_lake):
    """A page elsewhere that points its name at 127.0.0.1 sends that name as Host (and Origin): refused."""
    from sleepmoves.dashboard.app import create_app
    from sleepmoves.dashboard.security import host_name

    http = create_app(demo_lake.root).server.test_client()  # no login: this computer only
    subject = demo_lake.subjects()["subject"].iloc[0]
    night = demo_lake.nights(subject)[-1]
    key = "..night-figure.figure...summary-cards.children...flags.children...scoring.children...night-hint.children...night-sentence.children...night-video.children.."
    callback = _payload(key, [("subject", "value", subject), ("night", "value", night)], [])
    for headers in ({"Host": "attacker.example"}, {"Host": "attacker.example:8050"}):
        assert http.get("/", headers=headers).status_code == 403
        refused = http.post("/_dash-update-component", json=callback, headers=headers)
        assert refused.status_code == 403 and subject.encode() not in refused.data
    foreign = http.post(
        "/_dash-update-component", json=callback, headers={"Origin": "http://attacker.example"}
    )
    assert foreign.status_code == 403 and b"does not answer" in foreign.data
    for host in ("localhost:8050", "127.0.0.1:8050", "[::1]:8050"):
        assert http.get("/", headers={"Host": host}).status_code == 200, host
    same = http.post("/_dash-update-component", json=callback, headers={"Origin": "http://localhost:8050"})
    assert same.status_code == 200
    behind_proxy = create_app(demo_lake.root, allowed_hosts=["sleep.example.org"]).server.test_client()
    assert behind_proxy.get("/", headers={"Host": "sleep.example.org"}).status_code == 200
    assert behind_proxy.get("/", headers={"Host": "attacker.example"}).status_code == 403
    create_app(demo_lake.root)  # back to the loopback names for the other tests
    assert host_name("[::1]:8050") == "::1" and host_name("http://Localhost:80/x") == "localhost"


def test_serve_answers_to_its_address_and_allowed_hosts(tmp_path):
    """`sleepmoves serve --allowed-host`: the names reach the app; a forged Host on the real server gets 403."""
    import urllib.error
    import urllib.request

    options = ("--allowed-host", "sleep.example.org", "--max-upload-mb", "1")
    with real_server(tmp_path / "lake", *options) as (port, _):
        for host, expected in (("sleep.example.org", 200), ("attacker.example", 403), ("localhost", 200)):
            request = urllib.request.Request(f"http://127.0.0.1:{port}/", headers={"Host": host})
            try:
                status = urllib.request.urlopen(request, timeout=10).status
            except urllib.error.HTTPError as refused:
                status = refused.code
            assert status == expected, host
        answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=10)
        assert "Server" not in answer.headers
        # a body over the upload cap is refused by waitress from its Content-Length, before a byte of it is sent
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        connection.putrequest("POST", "/_dash-update-component")
        connection.putheader("Content-Length", str(3 * 1024 * 1024))
        connection.endheaders()
        assert connection.getresponse().status == 413
        connection.close()


def test_a_flood_of_wrong_passwords_is_held_back_but_a_logged_in_user_is_not(client):
    from sleepmoves.dashboard import security

    _, http = client
    assert http.get("/", headers=basic("admin")).status_code == 200  # logged in before the flood
    for _ in range(security.FAILED_LOGINS_PER_MINUTE):
        assert http.get("/", headers=basic("admin", "wrong password")).status_code == 401
    held = http.get("/", headers=basic("admin", "wrong password"))
    assert held.status_code == 429 and int(held.headers["Retry-After"]) > 0
    assert http.get("/", headers=basic("dr-lee")).status_code == 429  # a new login from that address waits
    assert http.get("/", headers=basic("admin")).status_code == 200  # the logged-in user does not
    other = http.get("/", headers=basic("dr-lee"), environ_base={"REMOTE_ADDR": "10.0.0.7"})
    assert other.status_code == 200  # another address is not held back


def test_failed_logins_are_forgotten_after_the_window():
    from sleepmoves.dashboard.security import FailedLogins

    limiter = FailedLogins(limit=2, window_s=0.2)
    limiter.failed("a")
    limiter.failed("a")
    assert limiter.blocked("a") > 0 and limiter.blocked("b") == 0
    import time

    time.sleep(0.25)
    assert limiter.blocked("a") == 0


def test_a_failed_upload_for_a_new_baby_leaves_no_baby_behind(client, secure_lake):
    _, http = client
    bad = "data:text/csv;base64," + base64.b64encode(b"start,kind\nnot a time,twitch\n").decode()
    good = (
        "data:text/csv;base64," + base64.b64encode(b"start,kind\n2026-03-02T20:00:00+00:00,twitch\n").decode()
    )
    key = "..upload-result.children...manifest.children.."
    values = {"data-new-subject": "newbaby", "data-tz": "Europe/London"}
    refused = _call(
        http, "admin", key, {**values, "upload-accepted": {"contents": bad, "filename": "bad.csv"}}
    )
    assert refused.status_code == 200 and "nothing was written" in refused.get_data(as_text=True)
    assert "newbaby" not in set(secure_lake.subjects()["subject"])  # no empty baby left behind
    landed = _call(
        http, "admin", key, {**values, "upload-accepted": {"contents": good, "filename": "ok.csv"}}
    )
    assert landed.status_code == 200 and "newbaby" in set(secure_lake.subjects()["subject"])
    secure_lake.delete_subject("newbaby")


def test_a_login_opens_a_session_so_the_password_hash_runs_once(client, users_file, monkeypatch):
    from sleepmoves.dashboard import auth, security

    _, http = client
    calls = []
    real = auth.verify_password
    monkeypatch.setattr(auth, "verify_password", lambda *a: calls.append(1) or real(*a))
    security.sessions.clear()
    Users.load(users_file)  # (a fresh process: nothing remembered)
    first = http.get("/", headers=basic("dr-lee"))
    assert first.status_code == 200
    cookie = first.headers["Set-Cookie"]
    assert cookie.startswith(f"{security.SESSION_COOKIE}=")
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Secure" not in cookie
    hashed = len(calls)
    for _ in range(5):  # the session alone lets the user in: no password, no scrypt
        assert http.get("/", headers={}).status_code == 200
    assert len(calls) == hashed
    # a forged or stale token is no session
    http.set_cookie(security.SESSION_COOKIE, "forged-token", domain="localhost")
    assert http.get("/").status_code == 401
    # behind a TLS proxy the cookie is Secure
    tls = http.get("/", headers={**basic("admin"), "X-Forwarded-Proto": "https"})
    assert tls.status_code == 200 and "Secure" in tls.headers["Set-Cookie"]


def test_a_session_ends_when_its_user_is_removed(client, users_file):
    from sleepmoves.dashboard import security, state

    _, http = client
    assert http.get("/", headers=basic("dr-lee")).status_code == 200
    assert http.get("/").status_code == 200
    original = users_file.read_bytes()
    users = Users.load(users_file)
    users.remove("dr-lee")
    users.save()
    try:
        state.users().refresh(every_s=0)
        assert http.get("/").status_code == 401
    finally:  # the users file is shared by this module's tests
        users_file.write_bytes(original)
        state.users().refresh(every_s=0)
        security.sessions.clear()


@contextlib.contextmanager
def real_server(lake, *args):
    """``sleepmoves serve --lake LAKE *args`` on a free loopback port, once it answers: ``(port, process)``."""
    import urllib.request

    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "sleepmoves.cli", "serve", "--lake", str(lake), "--port", str(port), *map(str, args)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2)
                break
            except OSError:
                time.sleep(0.5)
        yield port, server
    finally:
        server.terminate()
        server.wait(timeout=10)


def _peak_rss(pid: int) -> int:
    with open(f"/proc/{pid}/status") as fh:
        return int(next(line for line in fh if line.startswith("VmHWM:")).split()[1]) * 1024


def test_a_large_upload_is_streamed_to_disk_not_held_in_memory(tmp_path):
    """The break: one 190 MB upload took the server from 259 MB to 1.35 GB (a base64 copy in a JSON callback,
    parsed and decoded). Now the file is the raw body of POST /upload, written to disk in 1 MB chunks: the real
    server's peak memory grows by a small part of the file."""
    import http.client

    size = 100 * 1024 * 1024
    big = tmp_path / "big.csv"
    with open(big, "wb") as fh:
        fh.write(b"start,kind\n")
        fh.write(b"2026-03-02T20:00:00+00:00,twitch\n" * (size // 33))
    lake = tmp_path / "lake"
    with real_server(lake) as (port, server):
        before = _peak_rss(server.pid)
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        with open(big, "rb") as body:
            connection.request(
                "POST",
                "/upload?name=big.csv",
                body=body,
                headers={
                    "Content-Type": "application/octet-stream",
                    "Content-Length": str(big.stat().st_size),
                },
            )
        answer = connection.getresponse()
        assert answer.status == 200, answer.read()
        token = json.loads(answer.read())["token"]
        connection.close()
        grown = _peak_rss(server.pid) - before
        staged = lake / ".uploads" / token / "big.csv"
        assert staged.stat().st_size == big.stat().st_size  # every byte on disk
        assert grown < 0.25 * big.stat().st_size, f"the server grew by {grown / 1e6:.0f} MB"


def test_idle_half_open_connections_do_not_stall_a_real_user(tmp_path):
    """Slowloris: 150 connections that send half a request and wait (more than waitress's default limit of 100
    connections) must not keep a real user waiting."""
    import urllib.request

    idle = []
    with real_server(tmp_path / "lake") as (port, _server):
        try:
            for _ in range(150):
                s = socket.create_connection(("127.0.0.1", port), timeout=5)
                s.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
                idle.append(s)
            t = time.monotonic()
            answer = urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=20)
            assert answer.status == 200 and time.monotonic() - t < 3
        finally:
            for s in idle:
                s.close()


def test_a_login_as_someone_else_replaces_the_session(client):
    from sleepmoves.dashboard import security

    _, http = client
    security.sessions.clear()
    assert http.get("/", headers=basic("admin")).status_code == 200  # admin's session cookie in the jar
    switched = http.get("/", headers=basic("dr-lee"))
    assert switched.status_code == 200 and security.SESSION_COOKIE in switched.headers.get("Set-Cookie", "")
    page = http.post(
        "/_dash-update-component",
        json=_payload("whoami.children", [("_pages_location", "pathname", "/")], []),
    )
    assert "signed in as dr-lee" in page.get_data(as_text=True)  # cookie alone: the new session's user
    security.sessions.clear()


def test_a_baby_s_video_is_served_to_its_users_only(client, secure_lake, tmp_path):
    """``/video/<baby>/<sha256>``: the night page's player gets the baby's video (with byte ranges, to seek);
    a user not allowed that baby, or a visitor without a login, gets what a video that does not exist gets."""
    pytest.importorskip("av", reason="the video extra (PyAV) is not installed")
    from sleepmoves.ingest import ingest_file
    from tests.test_ingest_video import write_video

    app, http = client
    own, other = list(secure_lake.subjects()["subject"])[:2]
    # a night of its own, after the demo's: taking the file out again leaves the other tests' nights as they were
    clip = write_video(tmp_path / "VID_20300302_193000.mp4", "libx264")
    sha = ingest_file(secure_lake, clip, other).result.sha256
    try:
        whole = http.get(f"/video/{other}/{sha}", headers=basic("admin"))
        assert whole.status_code == 200 and whole.data == clip.read_bytes()
        assert whole.headers["Content-Type"] == "video/mp4" and "no-store" in whole.headers["Cache-Control"]
        part = http.get(f"/video/{other}/{sha}", headers={**basic("admin"), "Range": "bytes=10-19"})
        assert part.status_code == 206 and part.data == clip.read_bytes()[10:20]
        missing = http.get(f"/video/{other}/{'0' * 64}", headers=basic("dr-lee"))
        for response in (
            http.get(f"/video/{other}/{sha}", headers=basic("dr-lee")),  # not one of dr-lee's babies
            http.get(f"/video/nobody/{sha}", headers=basic("dr-lee")),
            http.get(f"/video/{other}/{sha}.mp4", headers=basic("admin")),  # not a sha256: never a path
        ):
            assert response.status_code == missing.status_code == 404 and response.data == missing.data
        fresh = app.server.test_client()  # no login, no session cookie
        assert fresh.get(f"/video/{other}/{sha}").status_code == 401
    finally:
        secure_lake.remove_file(other, sha)


def test_how_far_a_video_is_analysed_is_told_to_its_sender_only(client):
    """The Data page's poll: the sender of an upload being analysed sees how far it is; another user asking
    with the same token sees nothing."""
    from sleepmoves.dashboard import uploads

    _, http = client
    status, answer = stage(http, "dr-lee", "VID_20260302_193000.mp4", b"not really a video")
    assert status == 200
    token = answer["token"]
    uploads.progress_reporter(token)(3.2 * 3600, 12 * 3600)
    try:
        values = {"analysis-poll": 1, "upload-accepted": answer}
        said = _call(http, "dr-lee", "analysis-progress.children", values).get_data(as_text=True)
        assert "Analysing VID_20260302_193000.mp4: 3.2 of 12.0 h of video" in said
        other = _call(http, "admin", "analysis-progress.children", values).get_data(as_text=True)
        assert "Analysing" not in other
    finally:
        uploads.discard(token)
