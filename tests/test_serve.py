"""``cxsense serve``: HTTP routes, the live WebSocket, errors and limits, a real uvicorn, and the demo page."""

import base64
import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path

import numpy as np
import pytest
from _loopback import Receiver, free_port

import cxsense

pytest.importorskip("fastapi", reason="the service needs the optional extra: pip install 'cxsense[serve]'")
pytest.importorskip("uvicorn", reason="the service needs the optional extra: pip install 'cxsense[serve]'")
from fastapi.testclient import TestClient  # noqa: E402

from cxsense.serve import create_app  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
TOKEN = "test-token-0123456789abcdef"
RULES = [{"name": "delight", "when": {"measure": "happiness", "above": 0.6, "for_s": 0.15}, "cooldown_s": 30,
          "then": {"message": {"say": "thanks"}}}]


def recv(ws, timeout: float = 60.0) -> dict:
    """The next JSON message of a test WebSocket, failing (not hanging) after ``timeout`` seconds."""
    from concurrent.futures import ThreadPoolExecutor, TimeoutError

    pool = ThreadPoolExecutor(1)
    try:
        return pool.submit(ws.receive_json).result(timeout)
    except TimeoutError:
        pytest.fail(f"no WebSocket message within {timeout} s")
    finally:
        pool.shutdown(wait=False)


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(allowed_hosts=("testserver",), rules=RULES)) as c:
        yield c


@pytest.fixture(scope="module")
def face_bytes(face_path):
    return face_path.read_bytes()


def _physio_csv(path: Path, seconds=60, rate=64):
    t = np.arange(seconds * rate) / rate
    ppg = np.sin(2 * np.pi * 1.2 * t) + 0.1 * np.sin(2 * np.pi * 0.25 * t)
    eda = 2 + 0.3 * np.sin(2 * np.pi * t / 20) + 0.05 * np.maximum(0, np.sin(2 * np.pi * t / 7)) ** 8
    path.write_text("time,ppg,eda\n" + "\n".join(f"{a:.6f},{b:.6f},{c:.6f}" for a, b, c in zip(t, ppg, eda)))
    return path


def test_health_and_assess_give_the_library_numbers(client, face_path, face_bytes):
    assert client.get("/v1/health").json() == {"status": "ok", "version": cxsense.__version__}
    r = client.post("/v1/assess", files={"face": ("me.jpg", face_bytes, "image/jpeg")})
    assert r.status_code == 200
    ref = cxsense.assess(face=face_path).to_dict()
    got = r.json()
    assert "embedding" not in got["modalities"]["face"]
    ref["modalities"]["face"].pop("embedding")
    assert got == json.loads(json.dumps(ref))  # the same numbers, bit for bit
    r = client.post("/v1/assess", files={"face": ("me.jpg", face_bytes)}, data={"embeddings": "true"})
    assert len(r.json()["modalities"]["face"]["embedding"]) > 0
    faces = client.post("/v1/faces", files={"face": ("me.jpg", face_bytes)}).json()
    assert [f["probabilities"] for f in faces] == [x.to_dict()["probabilities"] for x in cxsense.assess_faces(face_path)]


def test_assess_physio_csv_as_the_cli_reads_it(client, tmp_path, capsys):
    from cxsense.cli import main

    csv = _physio_csv(tmp_path / "p.csv", seconds=70)
    r = client.post("/v1/assess", files={"physio": ("p.csv", csv.read_bytes(), "text/csv")})
    assert main(["assess", "--physio", str(csv), "--indent", "0"]) == 0
    cli = json.loads(capsys.readouterr().out)
    assert r.status_code == 200 and r.json() == cli and cli["notes"]  # the last 60 s of 70, as the CLI says


@pytest.mark.parametrize("files, data, status, parameter", [
    ({"face": ("a.jpg", b"\xff\xd8\xff\xe0 truncated", "image/jpeg")}, {}, 400, "face"),
    ({"face": ("a.jpg", b"x", "image/jpeg")}, {"face_early_exit": "2"}, 400, "face_early_exit"),
    ({"face": ("a.jpg", b"x", "image/jpeg")}, {"detect_face": "maybe"}, 400, "detect_face"),
    ({"face": ("a.jpg", b"x", "image/jpeg")}, {"colour": "red"}, 400, "colour"),
    ({"face_baseline": ("b.jpg", b"x", "image/jpeg")}, {}, 400, "face, voice, physio"),
    ({"physio": ("p.csv", b"time,ppg\n0,1\n", "text/csv")}, {}, 400, "physio"),
])
def test_bad_input_is_400_naming_the_parameter(client, files, data, status, parameter):
    r = client.post("/v1/assess", files=files, data=data)
    body = r.json()
    assert r.status_code == status and body["parameter"] == parameter and body["error"] and body["message"]


def test_no_signal_is_422_and_non_multipart_is_400(client, tmp_path):
    buf = tmp_path / "silence.wav"
    with wave.open(str(buf), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.zeros(32000, np.int16).tobytes())
    r = client.post("/v1/assess", files={"voice": ("s.wav", buf.read_bytes(), "audio/wav")})
    assert r.status_code == 422 and r.json()["error"] == "NoSignalError"
    r = client.post("/v1/assess", content=b'{"face": "x"}', headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["parameter"] == "Content-Type"


def test_uploads_stay_in_the_private_folder(client, face_bytes):
    svc = client.app.state.svc
    assert oct(svc.tmp.stat().st_mode & 0o777) == "0o700"
    evil = "../../../../cxsense-evil.jpg"
    r = client.post("/v1/assess", files={"face": (evil, face_bytes, "image/jpeg")})
    assert r.status_code == 200
    assert not any(p.exists() for p in (svc.tmp.parent / "cxsense-evil.jpg", Path("/cxsense-evil.jpg")))
    assert list(svc.tmp.iterdir()) == []  # each request's folder is gone when it ends


def test_limits_413_429_503_and_the_token(face_bytes):
    with TestClient(create_app(allowed_hosts=("testserver",), max_body_mb=0.01, rate_limit=1, token=TOKEN)) as c:
        auth = {"Authorization": f"Bearer {TOKEN}"}
        assert c.get("/v1/health").status_code == 200  # no token needed
        r = c.post("/v1/assess", files={"face": ("a.jpg", face_bytes)})
        assert r.status_code == 401 and r.json()["error"] == "Unauthorized" and r.headers["WWW-Authenticate"] == "Bearer"
        r = c.post("/v1/assess", files={"face": ("a.jpg", face_bytes)}, headers={"Authorization": "Bearer wrong"})
        assert r.status_code == 401
        r = c.post("/v1/assess", files={"face": ("a.jpg", face_bytes)}, headers=auth)
        assert r.status_code == 429 and r.headers["Retry-After"] == "1"  # a burst of 2 at 1 a second, spent
        time.sleep(2.1)
        r = c.post("/v1/assess", files={"face": ("a.jpg", face_bytes)}, headers=auth)
        assert r.status_code == 413 and r.json()["error"] == "BodyTooLarge"  # 100 kB image over 10 kB

        def chunks():  # no Content-Length: counted as it arrives
            yield b"--b\r\nContent-Disposition: form-data; name=\"face\"; filename=\"a.jpg\"\r\n\r\n"
            for _ in range(40):
                yield b"x" * 1000
        r = c.post("/v1/assess", content=chunks(), headers={**auth, "Content-Type": "multipart/form-data; boundary=b"})
        assert r.status_code == 413
        assert list(c.app.state.svc.tmp.iterdir()) == []
    with TestClient(create_app(allowed_hosts=("testserver",))) as c:
        svc = c.app.state.svc
        svc._pending = svc.config.max_pending  # the assessment queue is full
        r = c.post("/v1/assess", files={"face": ("a.jpg", face_bytes)})
        assert r.status_code == 503 and r.headers["Retry-After"] == "1"
        svc._pending = 0
        for _ in range(svc.config.max_jobs):
            svc.jobs.reserve()
        r = c.post("/v1/sessions", files={"video": ("v.mp4", b"x")})
        assert r.status_code == 503 and r.json()["error"] == "Busy"
        assert c.get("/", headers={"Host": "evil.example"}).status_code == 400  # DNS rebinding
        r = c.post("/v1/assess", files={"face": ("a.jpg", face_bytes)}, headers={"Origin": "http://evil.example"})
        assert r.status_code == 403 and r.json()["parameter"] == "Origin"


def test_session_job_timeline_report_and_delete(client, face_rgb, tmp_path):
    from cxsense.session.testing import write_video

    video = tmp_path / "clip.mp4"
    write_video(video, [face_rgb] * 5, fps=5)
    r = client.post("/v1/sessions", files={"video": ("clip.mp4", video.read_bytes())}, data={"fps": "2", "step": "0.5"})
    assert r.status_code == 202 and r.headers["Location"] == f"/v1/sessions/{r.json()['id']}"
    url = r.json()["url"]
    end = time.monotonic() + 60
    while (v := client.get(url).json())["status"] not in ("done", "failed") and time.monotonic() < end:
        time.sleep(0.1)
    assert v["status"] == "done", v
    assert v["timeline"][0]["emotion"] == "happiness" and v["summary"] and "video" not in v["info"]
    html = client.get(url + "/report")
    assert html.status_code == 200 and html.text.startswith("<!DOCTYPE html>") and str(tmp_path) not in html.text
    assert list(client.app.state.svc.tmp.iterdir()) == []  # the upload is gone once the job ended
    assert client.delete(url).json() == {"id": r.json()["id"], "deleted": True}
    assert client.get(url).status_code == 404
    bad = client.post("/v1/sessions", files={"video": ("clip.mp4", b"not a video" * 10)}).json()["url"]
    end = time.monotonic() + 20
    while (v := client.get(bad).json())["status"] not in ("done", "failed") and time.monotonic() < end:
        time.sleep(0.05)
    assert v["status"] == "failed" and v["error"]["parameter"] == "video" and v["error"]["status"] == 400
    assert client.get(bad + "/report").status_code == 409


def test_live_websocket_assessments_actions_and_errors(client, face_bytes):
    image = base64.b64encode(face_bytes).decode()
    with client.websocket_connect("/v1/live") as ws:
        ws.send_json({"type": "assess"})
        assert recv(ws)["status"] == 422
        got, actions = [], []
        for i in range(4):
            ws.send_json({"type": "frame", "t": i * 0.1, "image": image})
            ws.send_json({"type": "audio", "t": i * 0.1, "rate": 16000,
                          "pcm16": base64.b64encode(np.zeros(1600, "<i2").tobytes()).decode()})
            ws.send_json({"type": "assess"})
            m = recv(ws)
            got.append(m)
            if i == 2:
                actions.append(recv(ws))
        assert [m["type"] for m in got] == ["assessment"] * 4 and got[-1]["emotion"] == "happiness"
        assert "embedding" not in got[-1]["modalities"]["face"] and got[-1]["t"] == pytest.approx(0.4)
        assert actions == [{"say": "thanks", "type": "action", "rule": "delight", "t": pytest.approx(0.3),
                            "measures": {"happiness": pytest.approx(got[2]["probabilities"]["happiness"])}}]
        for bad, parameter in (({"type": "frame", "t": 1, "image": "%%%"}, "image"),
                               ({"type": "frame", "t": "soon", "image": image}, "t"),
                               ({"type": "audio", "t": 1, "rate": 16000, "pcm16": "AAAA"}, "pcm16"),
                               ({"type": "dance"}, "type")):
            ws.send_json(bad)
            m = recv(ws)
            assert (m["type"], m["status"], m["parameter"]) == ("error", 400, parameter)
        ws.send_json({"type": "frame", "t": 1, "image": base64.b64encode(b"GIF89a broken").decode()})
        assert recv(ws)["parameter"] == "image"


def test_live_websocket_sends_cue_events_when_asked(client, jaw_drop_clip):
    import io

    from PIL import Image

    times, frames, change = jaw_drop_clip

    def png(f):
        buf = io.BytesIO()
        Image.fromarray(f).save(buf, format="PNG")
        return base64.b64encode(buf.getvalue()).decode()

    def run(url):
        """Each frame, then an assess whose answer says the frame was read (so no frame waits to be replaced):
        the messages that came before each answer."""
        got = []
        with client.websocket_connect(url) as ws:
            for t, f in zip(times, frames):
                ws.send_json({"type": "frame", "t": t, "image": png(f)})
                ws.send_json({"type": "assess"})
                while (m := recv(ws))["type"] != "assessment":
                    got.append(m)
        return got

    got = run("/v1/live?events=true")
    jaw = [m for m in got if m.get("kind") == "jaw_drop"]
    assert len(jaw) == 1 and abs(jaw[0]["t"] - change) <= 1.0 and jaw[0]["type"] == "event"
    assert set(jaw[0]) == {"type", "kind", "t", "person", "signal", "strength", "peak_time", "peak_value"}
    assert [m for m in run("/v1/live") if m["type"] == "event"] == []  # without the option, no event message


def test_live_websocket_token_by_subprotocol():
    from starlette.websockets import WebSocketDisconnect

    with TestClient(create_app(allowed_hosts=("testserver",), token=TOKEN)) as c:
        with c.websocket_connect("/v1/live", subprotocols=["cxsense"]) as ws:
            assert recv(ws)["status"] == 401
            with pytest.raises(WebSocketDisconnect) as e:
                recv(ws)
            assert e.value.code == 4401
        with c.websocket_connect("/v1/live", subprotocols=["cxsense", f"bearer.{TOKEN}"]) as ws:
            assert ws.accepted_subprotocol == "cxsense"
            ws.send_json({"type": "assess"})
            assert recv(ws)["error"] == "NoSignalError"


def test_start_refusals(tmp_path, capsys, monkeypatch):
    from cxsense.cli import main

    monkeypatch.delenv("CXSENSE_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2  # refused before anything listens
    assert "token" in capsys.readouterr().err
    policy = tmp_path / "POLICY.json"
    policy.write_text(json.dumps({"purpose": "rate staff", "context": "workplace", "contact": "HR", "retention_days": 30}))
    assert main(["serve", "--policy", str(policy)]) == 7  # refused by the usage policy
    assert "Art. 5(1)(f)" in capsys.readouterr().err
    (tmp_path / "RULES.json").write_text('[{"name": "x", "when": {"measure": "angr", "above": 1}}]')
    assert main(["serve", "--rules", str(tmp_path / "RULES.json")]) == 2
    assert "rules[0].when.measure" in capsys.readouterr().err


@pytest.fixture(scope="module")
def server(tmp_path_factory, client):
    """uvicorn on 127.0.0.1 and a free port, on a thread, made as ``cxsense serve`` makes it, with a policy and a
    webhook rule from files (in this process, so the models the ``client`` fixture loaded are warm already)."""
    import threading

    from cxsense.serve import ServeConfig, make_server

    folder = tmp_path_factory.mktemp("serve")
    (folder / "POLICY.json").write_text(json.dumps({"purpose": "test a kiosk", "context": "user_research",
                                                    "contact": "Lab X, lab@example.org", "retention_days": 7}))
    with Receiver() as rx:
        (folder / "RULES.json").write_text(json.dumps([{**RULES[0], "then": {"webhook": rx.url}}]))
        port = free_port()
        uv = make_server(ServeConfig(port=port, policy=str(folder / "POLICY.json"), rules=str(folder / "RULES.json"),
                                     max_body_mb=1), log_level="warning")
        thread = threading.Thread(target=uv.run, daemon=True)
        thread.start()
        base = f"http://127.0.0.1:{port}"
        try:
            end = time.monotonic() + 60
            while True:  # up, with its models loaded
                try:
                    if json.load(urllib.request.urlopen(base + "/v1/status", timeout=2))["warm"]:
                        break
                except OSError:
                    pass
                assert time.monotonic() < end and thread.is_alive(), "the server did not start"
                time.sleep(0.1)
            yield base, port, rx, folder
        finally:
            uv.should_exit = True
            thread.join(30)
            assert not thread.is_alive()


def test_uvicorn_reads_no_more_than_the_limit(server):
    base, port, _, _ = server
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:  # headers only: the body never comes
        s.sendall(b"POST /v1/assess HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  b"Content-Length: 1000000000\r\n\r\n")
        answer = b""
        while chunk := s.recv(4096):  # the server answers and closes without waiting for the body
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413") and b'"BodyTooLarge"' in answer
    assert json.load(urllib.request.urlopen(base + "/v1/health"))["status"] == "ok"


def _y4m(path: Path, rgb: np.ndarray, frames: int = 10) -> Path:
    """A YUV4MPEG2 file (what Chromium's fake camera plays in a loop) of a 640x480 frame holding ``rgb``."""
    import cv2

    canvas = np.full((480, 640, 3), 90, np.uint8)
    canvas[:, 64:576] = cv2.resize(rgb, (512, 480))
    yuv = cv2.cvtColor(canvas, cv2.COLOR_RGB2YUV_I420)
    with open(path, "wb") as f:
        f.write(b"YUV4MPEG2 W640 H480 F10:1 Ip A1:1 C420jpeg\n")
        for _ in range(frames):
            f.write(b"FRAME\n" + yuv.tobytes())
    return path


@pytest.mark.skipif(not os.path.exists("/usr/bin/chromium"), reason="no /usr/bin/chromium for the demo page test")
def test_demo_page_in_headless_chromium(server, face_rgb, tmp_path):
    from websockets.sync.client import connect

    base, _, rx, _ = server
    html = urllib.request.urlopen(base + "/").read().decode()
    assert "http://" not in html and "https://" not in html and "@import" not in html  # nothing from elsewhere
    cam = _y4m(tmp_path / "cam.y4m", face_rgb)
    mic = tmp_path / "mic.wav"  # silence: Chromium's default fake microphone beeps, and a beep is not this face
    with wave.open(str(mic), "wb") as w:
        w.setnchannels(1), w.setsampwidth(2), w.setframerate(16000)
        w.writeframes(np.zeros(16000, np.int16).tobytes())
    profile = tmp_path / "profile"
    chrome = subprocess.Popen(
        ["/usr/bin/chromium", "--headless=new", "--no-sandbox", "--disable-gpu", "--use-fake-ui-for-media-stream",
         "--use-fake-device-for-media-stream", f"--use-file-for-fake-video-capture={cam}",
         f"--use-file-for-fake-audio-capture={mic}", "--remote-debugging-port=0",
         f"--user-data-dir={profile}", "--disable-background-networking", "--disable-extensions", "--disable-sync",
         "--no-first-run", "--disable-default-apps", "--mute-audio", "--window-size=1100,1000", "about:blank"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        end = time.monotonic() + 30
        while not (profile / "DevToolsActivePort").exists() and time.monotonic() < end:
            time.sleep(0.05)
        port = (profile / "DevToolsActivePort").read_text().split()[0]
        pages = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10))
        with connect(next(p for p in pages if p["type"] == "page")["webSocketDebuggerUrl"], max_size=2**26) as cdp:
            ids = iter(range(1, 10**6))

            def call(method, **params):
                i = next(ids)
                cdp.send(json.dumps({"id": i, "method": method, "params": params}))
                while (m := json.loads(cdp.recv(timeout=30))).get("id") != i:
                    pass
                return m["result"]

            def js(expr):
                return call("Runtime.evaluate", expression=expr, returnByValue=True)["result"].get("value")

            call("Page.navigate", url=base + "/")
            end = time.monotonic() + 15
            while js("document.readyState") != "complete" and time.monotonic() < end:
                time.sleep(0.05)
            assert js("document.getElementById('notice').textContent").startswith("Notice: emotion recognition")
            assert "Lab X" in js("document.getElementById('notice').textContent")  # the policy's notice
            assert js("document.getElementById('start').disabled") is True  # no consent, no camera
            assert js("window.cxsenseDemo.sent") == 0

            def screenshot(name):  # kept in tmp_path; also where $CXSENSE_SCREENSHOT names a folder
                shot = base64.b64decode(call("Page.captureScreenshot", format="png")["data"])
                for folder in (tmp_path, os.environ.get("CXSENSE_SCREENSHOT")):
                    if folder:
                        (Path(folder) / name).write_bytes(shot)
                return shot

            screenshot("demo_consent.png")
            js("document.getElementById('agree').click(); document.getElementById('start').click()")
            end = time.monotonic() + 45
            while not (js("window.cxsenseDemo.assessments") or 0) >= 2 and time.monotonic() < end:
                time.sleep(0.1)
            assert js("document.getElementById('emotion').textContent") == "happiness"
            assert js("window.cxsenseDemo.last.modalities.face.quality") > 0.5
            end = time.monotonic() + 5  # the rule holds for 0.15 s: it fires with the second estimate
            while not js("window.cxsenseDemo.actions") and time.monotonic() < end:
                time.sleep(0.1)
            assert js("document.getElementById('actions').textContent").find("delight") >= 0
            shot = screenshot("demo_live.png")
            assert rx.wait(1)[0]["rule"] == "delight"  # the same firing went to the webhook
            assert shot[:8] == b"\x89PNG\r\n\x1a\n" and len(shot) > 20000
    finally:
        chrome.terminate()
        chrome.wait(15)


def test_results_are_kept_only_in_a_configured_store(tmp_path, face_bytes):
    from cxsense.governance import ResultStore, UsagePolicy

    policy = UsagePolicy(purpose="test a kiosk", context="user_research", contact="Lab X", retention=7)
    key = ResultStore.new_key()
    app = create_app(allowed_hosts=("testserver",), policy=policy, store=str(tmp_path / "results"), store_key=key)
    with TestClient(app) as c:
        r = c.post("/v1/assess", files={"face": ("a.jpg", face_bytes)})
        rid = r.headers["X-Cxsense-Record"]
        assert "Lab X" in c.get("/").text  # the demo shows this policy's notice
    with ResultStore(tmp_path / "results", key, policy) as store:
        kept = store.get(rid)
    assert kept["emotion"] == r.json()["emotion"] and "embedding" not in kept["modalities"]["face"]
    with pytest.raises(cxsense.InputError) as e:
        create_app(policy=policy, store=str(tmp_path / "other"), store_key=b"short")
    assert e.value.parameter == "--store-key-file"


def test_a_silent_live_connection_is_closed(client, monkeypatch):
    from starlette.websockets import WebSocketDisconnect

    from cxsense.serve import live

    monkeypatch.setattr(live, "IDLE_S", 0.3)
    with client.websocket_connect("/v1/live") as ws:
        assert recv(ws, 10)["status"] == 408
        with pytest.raises(WebSocketDisconnect) as e:
            recv(ws, 10)
        assert e.value.code == 4408
