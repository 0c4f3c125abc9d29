"""Face detection, alignment and expression: behaviour with known answers."""

import cv2
import numpy as np
import pytest

import cxsense
from cxsense.encoders import get_encoder
from cxsense.encoders.face.detect import FaceDetection
from cxsense.encoders.face.encoder import face_align
from cxsense.inputs.image import load_image


@pytest.fixture(scope="module")
def enc():
    return get_encoder("face")


def test_detects_the_face_where_it_is(enc, face_rgb):
    dets = enc.detect(load_image(face_rgb))
    assert len(dets) == 1
    x, y, w, h = dets[0].box
    # the astronaut's face spans about x 175-280, y 70-175 in the 512x512 portrait
    assert 170 < x + w / 2 < 285 and 65 < y + h / 2 < 180
    assert 70 < w < 160


def test_tilted_face_is_found_and_aligned_upright(enc, face_rgb):
    upright = face_align(cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY), enc.detect(load_image(face_rgb))[0])
    rot = cv2.warpAffine(face_rgb, cv2.getRotationMatrix2D((256, 256), 30, 1.0), (512, 512), borderMode=cv2.BORDER_REPLICATE)
    dets = enc.detect(load_image(rot))
    assert dets, "a face tilted by 30 degrees must be found"
    grey = cv2.cvtColor(rot, cv2.COLOR_RGB2GRAY)
    crop = face_align(grey, dets[0])
    # the same box without rotation: eyes forced level
    kp = dets[0].keypoints.copy()
    kp[1, 1] = kp[0, 1]
    unaligned = face_align(grey, FaceDetection(box=dets[0].box, score=dets[0].score, keypoints=kp))

    def corr(a, b):
        return np.corrcoef(a.ravel().astype(float), b.ravel().astype(float))[0, 1]

    # the aligned crop of the tilted face looks like the upright face's crop, far more than an unrotated one
    assert corr(upright, crop) > 0.6
    assert corr(upright, crop) > corr(upright, unaligned) + 0.2
    assert cxsense.assess(face=rot).emotion == cxsense.assess(face=face_rgb).emotion


def test_encoder_crops_keep_the_head_tilt(face_rgb):
    """The encoder does not level the eyes (the network was trained on FER crops, which keep the tilt)."""
    from cxsense.encoders.face import encoder as face_encoder

    assert face_encoder.ROTATE_UPRIGHT is False
    rot = cv2.warpAffine(face_rgb, cv2.getRotationMatrix2D((256, 256), 30, 1.0), (512, 512), borderMode=cv2.BORDER_REPLICATE)
    grey = cv2.cvtColor(rot, cv2.COLOR_RGB2GRAY)
    det = FaceDetection(box=(180.0, 80.0, 100.0, 100.0), score=0.9,
                        keypoints=np.array([[200, 100], [260, 140], [230, 130], [230, 150], [190, 120], [270, 120]], float))
    level = FaceDetection(box=det.box, score=det.score, keypoints=np.array([[200, 100], [260, 100]] + [[0, 0]] * 4, float))
    # rotate=False ignores the eye line: the crop is the same as for level eyes, and differs from the rotated one
    assert np.array_equal(face_align(grey, det, rotate=False), face_align(grey, level))
    assert not np.array_equal(face_align(grey, det), face_align(grey, level))


def test_small_face_in_a_large_frame(enc, face_rgb):
    frame = np.full((480, 640, 3), 110, np.uint8)
    frame[300:428, 400:528] = cv2.resize(face_rgb, (128, 128), interpolation=cv2.INTER_AREA)
    dets = enc.detect(load_image(frame))  # a ~25-pixel face: found by the tiled second pass
    assert dets
    x, y, w, h = dets[0].box
    assert 400 < x + w / 2 < 528 and 300 < y + h / 2 < 428


def test_close_up_face_filling_the_image_is_found(enc, face_rgb):
    # a tight crop (the face fills the image, as in FER-style or passport-style close-ups) is missed by one
    # BlazeFace pass; the padded retry finds it and maps the box back into the crop's pixels
    x, y, w, h = enc.detect(load_image(face_rgb))[0].box
    x0, y0 = int(x + 0.1 * w), int(y + 0.1 * h)
    crop = np.ascontiguousarray(face_rgb[y0 : int(y + 0.95 * h), x0 : int(x + 0.9 * w)])
    assert not enc._detector._detect_once(crop), "the single pass should miss this close-up (else the test is moot)"
    dets = enc.detect(load_image(crop))
    assert len(dets) == 1
    bx, by, bw, bh = dets[0].box
    ch, cw = crop.shape[:2]
    assert abs(bx + bw / 2 - cw / 2) < 0.25 * cw and abs(by + bh / 2 - ch / 2) < 0.3 * ch
    assert bw > 0.6 * cw
    assert not enc.detect(load_image(crop), tiled=False)  # tiled=False: one pass only, as documented
    a = cxsense.assess(face=crop)
    assert a.modalities["face"].quality > 0


def test_group_scene_gives_one_result_per_face(face_rgb):
    frame = np.full((400, 900, 3), 100, np.uint8)
    face = cv2.resize(face_rgb, (256, 256))
    frame[100:356, 40:296] = face
    frame[120:312, 600:792] = cv2.resize(face_rgb, (192, 192))
    out = cxsense.assess_faces(frame)
    assert len(out) == 2
    boxes = [a.modalities["face"].details["box"] for a in out]
    assert boxes[0][2] >= boxes[1][2]  # largest first
    centres = sorted(b[0] + b[2] / 2 for b in boxes)
    assert centres[0] < 300 and centres[1] > 590
    # the face options of assess, and nothing else
    small = cxsense.assess_faces(frame, face_model="small")
    assert [a.modalities["face"].model["expression"]["name"] for a in small] == ["face-expression-small"] * 2
    assert [a.modalities["face"].details["box"] for a in small] == boxes
    whole = cxsense.assess_faces(frame, face_early_exit=None)
    assert all(a.modalities["face"].details["passes"] == 9 for a in whole)  # 8 + stage 1 (the embedding)
    with pytest.raises(cxsense.InputError, match="face_model"):
        cxsense.assess_faces(frame, face_model="tiny")
    with pytest.raises(cxsense.InputError, match="detect_face"):
        cxsense.assess_faces(frame, detect_face=False)


def _variant(enc, **runner_attrs):
    """A shallow copy of a FaceEncoder whose expression runner has ``runner_attrs`` changed (views, flip)."""
    import copy

    enc, runner = copy.copy(enc), copy.copy(enc._runner)
    for k, v in runner_attrs.items():
        setattr(runner, k, v)
    enc._runner = runner
    return enc


def test_mirror_image_gives_the_same_estimate(enc, face_rgb):
    """Flip averaging makes a model exactly mirror-invariant. Base's zoomed views (v1.3.0) and its early exit's
    one-pass answer are not mirrored (docs/face.md), so there a mirror image keeps the emotion, not every digit."""
    from cxsense.encoders.face.encoder import FaceEncoder

    face = np.ascontiguousarray(face_rgb[55:190, 160:295])  # the astronaut's face, framed about as FER crops are
    mirror = np.ascontiguousarray(face[:, ::-1])
    crops = np.stack([cv2.resize(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), (48, 48), interpolation=cv2.INTER_AREA)
                      for im in (face, mirror)])
    flip_only = _variant(FaceEncoder("base", early_exit=None), scales=())
    p = flip_only.crops_embed(crops)[1]
    np.testing.assert_allclose(p[0], p[1], atol=1e-5)
    for kw in ({}, {"face_early_exit": None}):
        a, b = (cxsense.assess(face=im, detect_face=False, **kw) for im in (face, mirror))
        assert a.emotion == b.emotion == "happiness"


def test_valence_arousal_follow_the_circumplex():
    from cxsense.emotions import CIRCUMPLEX, EMOTIONS, circumplex_va, stress_from_va

    for i, e in enumerate(EMOTIONS):
        onehot = np.eye(len(EMOTIONS))[i]
        assert circumplex_va(onehot) == pytest.approx(CIRCUMPLEX[e])
    assert stress_from_va(*CIRCUMPLEX["fear"]) > 0.8 > 0.2 > stress_from_va(*CIRCUMPLEX["happiness"])


def test_batchnorm_folding_keeps_outputs():
    import copy

    import torch

    from cxsense.encoders.face.net import FaceNet, fold_batchnorm

    torch.manual_seed(0)
    net = FaceNet(widths=(8, 16, 16, 32), embed_dim=32)
    for m in net.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            m.running_mean.uniform_(-1, 1); m.running_var.uniform_(0.5, 2)
            m.weight.data.uniform_(0.5, 1.5); m.bias.data.uniform_(-0.5, 0.5)
    net.eval()
    x = torch.randn(3, 1, 48, 48)
    folded = fold_batchnorm(copy.deepcopy(net))
    assert not any(isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)) for m in folded.modules())
    with torch.no_grad():
        assert torch.allclose(net.forward_features(x), folded.forward_features(x), atol=1e-5)
        assert torch.allclose(net(x), folded(x), atol=1e-5)


def test_ensemble_network_averages_its_members_logits():
    """An ensemble file's network: embeddings side by side, logits the members' mean, and batch norms
    folded in every member without changing either."""
    import copy

    import torch

    from cxsense.encoders.face.net import FaceEnsemble, build_from_config, fold_batchnorm

    torch.manual_seed(1)
    cfg = {"members": [{"widths": [8, 16, 16, 32], "embed_dim": 32}, {"widths": [8, 8, 16, 16], "embed_dim": 24}]}
    ens = build_from_config(cfg).eval()
    assert isinstance(ens, FaceEnsemble) and ens.embed_dim == 56
    for m in ens.modules():
        if isinstance(m, (torch.nn.BatchNorm2d, torch.nn.BatchNorm1d)):
            m.running_mean.uniform_(-1, 1); m.running_var.uniform_(0.5, 2)
    x = torch.randn(4, 1, 48, 48)
    with torch.no_grad():
        z = ens.forward_features(x)
        assert z.shape == (4, 56)
        want = (ens.members[0](x) + ens.members[1](x)) / 2
        assert torch.allclose(ens(x), want, atol=1e-6)
        # the head is linear per member: the logits of averaged embeddings equal averaged logits
        xf = torch.flip(x, dims=[3])
        assert torch.allclose(ens.forward_head((z + ens.forward_features(xf)) / 2), (ens(x) + ens(xf)) / 2, atol=1e-5)
        folded = fold_batchnorm(copy.deepcopy(ens))
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
        assert torch.allclose(folded(x), want, atol=1e-5)
    single = build_from_config({"widths": [8, 16, 16, 32], "embed_dim": 32})
    assert not isinstance(single, FaceEnsemble) and single.embed_dim == 32


def test_face_precisions_agree(face_path):
    from cxsense.encoders.face.encoder import FaceEncoder
    from cxsense.inputs.image import load_image

    img = load_image(face_path)
    a = FaceEncoder(precision="fp32").encode(img)
    b = FaceEncoder(precision="bf16").encode(img)
    assert a.emotion == b.emotion
    assert abs(a.probability_vector() - b.probability_vector()).max() < 0.05
    with pytest.raises(cxsense.InputError, match="precision"):
        FaceEncoder(precision="fp8")
    with pytest.raises(cxsense.InputError, match="face_model"):
        cxsense.assess(face=face_path, face_model="huge")
    with pytest.raises(cxsense.InputError, match="face_model"):  # a face option other than its default, no face
        cxsense.assess(voice=(np.zeros(16000, np.float32), 16000), face_model="small")


def _int8_here() -> bool:
    from cxsense.encoders.face.net import int8_available

    return int8_available()


needs_int8 = pytest.mark.skipif(not _int8_here(), reason="PyTorch's x86/fbgemm quantized engine is not the one here")


@needs_int8
def test_int8_agrees_with_float32(face_path):
    from cxsense.encoders.face.encoder import FaceEncoder
    from cxsense.options import FaceOptions
    from cxsense.inputs.image import load_image

    img = load_image(face_path)
    for model in ("base", "small"):
        f32 = FaceEncoder(model, precision="fp32")
        q = FaceEncoder(model, precision="int8")
        assert q.info()["expression"]["precision"] == "int8"
        crops = np.stack([load_image(face_path).gray[::8, ::8][:48, :48],
                          np.random.default_rng(1).integers(0, 255, (48, 48), dtype=np.uint8)])
        for x in [img, crops[0], crops[1]]:
            x = x if not isinstance(x, np.ndarray) else load_image(x)
            o = FaceOptions(detect=x is img)
            r32, r8 = f32.encode(x, o), q.encode(x, o)
            assert r8.emotion == r32.emotion
            assert abs(r8.probability_vector() - r32.probability_vector()).max() < 0.05
            assert r8.embedding.dtype == np.float32 and np.all(np.isfinite(r8.embedding))
            assert np.corrcoef(r8.embedding, r32.embedding)[0, 1] > 0.99
        again = q.encode(img)
        np.testing.assert_array_equal(again.probability_vector(), q.encode(img).probability_vector())


def test_small_face_model(face_path, face_rgb):
    small = cxsense.assess(face=face_path, face_model="small")
    base = cxsense.assess(face=face_path)
    assert small.emotion == base.emotion == "happiness"
    assert small.modalities["face"].model["expression"]["name"] == "face-expression-small"
    assert base.modalities["face"].model["expression"]["name"] == "face-expression"
    assert small.modalities["face"].embedding.shape == (256,)
    # the same box: detection does not depend on the expression network
    assert small.modalities["face"].details["box"] == base.modalities["face"].details["box"]


@needs_int8
def test_int8_scales_rebuild_the_calibrated_network():
    import torch

    from cxsense.encoders.face.net import FaceEnsemble, Int8FaceNet, build_from_config, fold_batchnorm, \
        quantize_int8, standardize

    torch.manual_seed(0)
    for net in (build_from_config({"widths": [8, 16, 16, 32], "embed_dim": 16}),
                FaceEnsemble([{"widths": [8, 16, 16, 32], "embed_dim": 16}] * 2)):
        net.train()
        with torch.no_grad():
            for _ in range(3):  # non-trivial batch-norm statistics
                net(standardize(torch.rand(32, 1, 48, 48)))
        net = fold_batchnorm(net.eval())
        cal, x = standardize(torch.rand(64, 1, 48, 48)), standardize(torch.rand(8, 1, 48, 48))
        q, qparams = quantize_int8(net, calibration=cal)
        again, same = quantize_int8(net, qparams=qparams)
        assert same == qparams and all(s > 0 for s, _ in qparams.values())
        with torch.no_grad():
            assert torch.equal(q(x), again(x))
            assert (q(x) - net(x)).abs().max() < 0.05  # int8 tracks the float network
        members = getattr(q, "members", [q])
        assert all(isinstance(m, Int8FaceNet) for m in members)
        with pytest.raises(ValueError, match="scales"):
            quantize_int8(net, qparams={k: v for k, v in list(qparams.items())[1:]})
        with pytest.raises(ValueError):
            quantize_int8(net)


def test_int8_falls_back_where_it_is_not_available(monkeypatch):
    from cxsense.encoders.face import encoder as face_encoder
    from cxsense.encoders.face import net as face_net
    from cxsense.encoders.face.weights import choose_precision

    monkeypatch.setattr(face_net, "int8_available", lambda: False)
    auto = face_encoder.FaceEncoder("small")
    assert auto.info()["expression"]["precision"] in ("bf16", "fp32")
    with pytest.raises(cxsense.NotAvailableError, match="int8"):
        face_encoder.FaceEncoder("small", precision="int8")
    monkeypatch.setattr(face_net, "int8_available", lambda: True)
    with pytest.raises(cxsense.NotAvailableError, match="no int8 scales"):  # a file exported without them
        choose_precision("int8", has_int8=False)
    assert choose_precision("auto", has_int8=False) in ("bf16", "fp32")
    if _int8_here():
        assert face_encoder.FaceEncoder("small").info()["expression"]["precision"] == "int8"


@pytest.fixture(scope="module")
def base_with_exit():
    """``base_with_exit(threshold)``: one base FaceEncoder per early-exit threshold, shared by the tests."""
    import functools

    from cxsense.encoders.face.encoder import FaceEncoder

    return functools.lru_cache(maxsize=None)(lambda threshold: FaceEncoder("base", early_exit=threshold))


def test_early_exit_answers_easy_faces_after_one_pass(face_path, base_with_exit):
    img = load_image(face_path)
    off = base_with_exit(None)
    never = base_with_exit(1.0)  # stage 1 is never that sure: always the whole model
    always = base_with_exit(0.1)  # below 1/7: stage 1 always answers
    r_off, r_never, r_always = off.encode(img), never.encode(img), always.encode(img)
    n_members, n_views = len(off._runner.model.members), 2 + len(off._runner.scales)  # crop, mirror, zooms
    # the separate, narrower stage-1 network always reads the crop (its embedding is every result's embedding)
    assert r_off.details["passes"] == r_never.details["passes"] == n_views * n_members + 1
    assert r_always.details["passes"] == 1
    # the whole model's answer does not change when stage 1 hands over
    np.testing.assert_allclose(r_never.probability_vector(), r_off.probability_vector(), atol=1e-6)
    # one embedding space per model: stage 1's, whichever path the crop took and whether the exit is on
    stage1_dim = never._runner.model.stage1.embed_dim
    assert r_never.embedding.shape == r_always.embedding.shape == r_off.embedding.shape == (stage1_dim,)
    assert off.embedding_dim == never.embedding_dim == stage1_dim == 256
    np.testing.assert_allclose(r_never.embedding, r_always.embedding, atol=1e-6)
    np.testing.assert_allclose(r_off.embedding, r_always.embedding, atol=1e-6)
    assert r_always.emotion == r_off.emotion == "happiness"
    assert not np.allclose(r_always.probability_vector(), r_off.probability_vector())
    info = always.info()["expression"]["early_exit"]
    assert info["threshold"] == 0.1 and info["network"] == "stage1" and info["temperature"] > 0
    assert info["widths"] == [32, 64, 128, 256] and "member" not in info
    assert "early_exit" not in off.info()["expression"]
    # base v1.4.0 ships the exit on at 0.65: "auto" (what assess uses) means that
    auto = base_with_exit("auto")
    assert auto.info()["expression"]["early_exit"]["threshold"] == 0.65


def test_early_exit_threshold_trades_passes_for_agreement(face_rgb, base_with_exit):
    rng = np.random.default_rng(3)
    gray = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    crops = np.stack([cv2.resize(gray[y:y + s, x:x + s], (48, 48))  # framings from tight to loose, some odd
                      for s, y, x in zip(rng.integers(90, 260, 24), rng.integers(0, 60, 24), rng.integers(100, 200, 24))])
    full = base_with_exit(None).crops_embed(crops)[1]
    one_pass_share = []
    for thr in (0.1, 0.9, 1.0):
        enc = base_with_exit(thr)
        _, p, passes = enc.crops_embed(crops, return_passes=True)
        assert set(np.unique(passes)) <= {1, enc._runner.full_passes + 1}
        assert np.all(np.isfinite(p)) and np.allclose(p.sum(1), 1)
        # crops that went on get exactly the whole model's answer; the batch equals crop-by-crop calls
        np.testing.assert_allclose(p[passes > 1], full[passes > 1], atol=1e-6)
        single = np.stack([enc.crops_embed(c[None])[1][0] for c in crops])
        np.testing.assert_allclose(single, p, atol=1e-5)
        # crops answered after one pass are those stage 1 was sure of
        assert np.all(p[passes == 1].max(1) >= thr)
        one_pass_share.append(np.mean(passes == 1))
    assert one_pass_share == sorted(one_pass_share, reverse=True) and one_pass_share[-1] == 0
    # a model without flip averaging: the handover still gives the whole model's answer
    never, off = _variant(base_with_exit(1.0), flip=False), _variant(base_with_exit(None), flip=False)
    _, p_never, passes = never.crops_embed(crops, return_passes=True)
    n_members = len(never._runner.model.members)
    assert set(passes) == {n_members * (1 + len(never._runner.scales)) + 1}
    np.testing.assert_allclose(p_never, off.crops_embed(crops)[1], atol=1e-6)
    # and one with neither the flip nor the zoomed views: one pass per member, plus stage 1's
    never, off = _variant(never, scales=()), _variant(off, scales=())
    _, p_never, passes = never.crops_embed(crops, return_passes=True)
    assert set(passes) == {n_members + 1}
    np.testing.assert_allclose(p_never, off.crops_embed(crops)[1], atol=1e-6)


def _patched_read(monkeypatch, section, **change):
    """Make the face weights reader return a metadata block whose ``section`` has ``change`` applied (a damaged
    file)."""
    from cxsense.encoders.face import weights

    real = weights._read

    def read(name):
        meta, tensors, entry = real(name)
        return meta.replace(**{section: dict(getattr(meta, section), **change)}), tensors, entry

    monkeypatch.setattr(weights, "_read", read)


def test_member_style_early_exit_files_are_refused(monkeypatch):
    """Files whose early exit reads one of the members (base 1.2.2-1.3.0) no longer ship: such a file is a
    ModelError naming what this cxsense reads."""
    from cxsense.encoders.face.encoder import FaceEncoder

    _patched_read(monkeypatch, "calibration", early_exit={"member": 0, "temperature": 0.99, "threshold": 0.65})
    with pytest.raises(cxsense.ModelError, match="1.4.0"):
        FaceEncoder("base")


def test_model_file_errors_in_the_face_metadata(monkeypatch):
    """Implausible views, an early exit that names a missing stage-1 network, a missing field or another
    architecture are a ModelError."""
    from cxsense.encoders.face.encoder import FaceEncoder

    _patched_read(monkeypatch, "input", views={"mirror": True, "zooms": [0.1, 1.08]})
    with pytest.raises(cxsense.ModelError, match="tta_scales"):
        FaceEncoder("base")
    monkeypatch.undo()
    _patched_read(monkeypatch, "architecture", stage1=None)
    with pytest.raises(cxsense.ModelError, match="stage-1 network"):
        FaceEncoder("base", early_exit=None)
    monkeypatch.undo()
    _patched_read(monkeypatch, "input", views={"mirror": True})
    with pytest.raises(cxsense.ModelError, match="views"):
        FaceEncoder("small")


def test_multi_scale_views_are_the_mean_of_their_logits(face_rgb, base_with_exit):
    """The whole model averages its members' logits over the crop, its mirror image and the zoomed views
    (``tta_scales`` in the file), computed here view by view and member by member."""
    import torch

    from cxsense.encoders.face.views import zoom_crops
    from cxsense.encoders.face.net import standardize

    off = base_with_exit(None)
    runner = off._runner
    assert runner.scales == (0.93, 1.08) and runner.flip
    gray = cv2.cvtColor(face_rgb, cv2.COLOR_RGB2GRAY)
    crops = np.stack([cv2.resize(gray[60:60 + s, 160:160 + s], (48, 48)) for s in (120, 150, 200)])
    views = [crops, crops[:, :, ::-1]] + [zoom_crops(crops, s) for s in runner.scales]
    with torch.inference_mode():
        logits = [m(standardize(torch.from_numpy(np.ascontiguousarray(v)).float().div(255).unsqueeze(1))).double()
                  for v in views for m in runner.model.members]
    expected = torch.softmax(torch.stack(logits).mean(0) / runner.temperature, dim=1).numpy()
    np.testing.assert_allclose(off.crops_embed(crops)[1], expected, atol=1e-5)
    # zooming in enlarges the face: the centre pixel stays, the border content moves out
    ramp = np.tile(np.arange(48, dtype=np.uint8) * 5, (48, 1))[None]
    zoomed = zoom_crops(ramp, 1.5)[0]
    assert abs(int(zoomed[24, 24]) - int(ramp[0, 24, 24])) <= 3 and zoomed[24, 47] < ramp[0, 24, 47]


def test_early_exit_bad_values_and_single_networks(base_with_exit):
    import copy

    from cxsense.encoders.face.early_exit import resolve_early_exit
    from cxsense.encoders.face.encoder import FaceEncoder

    for bad in ("yes", 0, 0.0, 1.5, -0.2, float("nan"), True, [0.5]):
        with pytest.raises(cxsense.InputError, match="early_exit"):
            FaceEncoder("base", early_exit=bad)
    small = FaceEncoder("small", early_exit=0.7)  # one network: nothing to skip, and nothing changes
    assert small.info()["expression"].get("early_exit") is None and small.embedding_dim == 256
    model = copy.copy(base_with_exit(None)._runner.model)
    cal = model.meta.calibration
    model.meta = model.meta.replace(calibration=dict(cal, early_exit={"network": "stage1", "temperature": -1.0,
                                                                      "threshold": None}))
    with pytest.raises(cxsense.ModelError, match="early_exit"):
        resolve_early_exit(model, 0.7)
    model.meta = model.meta.replace(calibration=dict(cal, early_exit=None))
    with pytest.raises(cxsense.InputError, match="early-exit calibration"):
        resolve_early_exit(model, 0.7)
    assert resolve_early_exit(model, "auto") is None


def test_assess_takes_the_early_exit_option(face_path):
    fast = cxsense.assess(face=face_path, face_early_exit=0.1)
    whole = cxsense.assess(face=face_path, face_early_exit=None)
    assert fast.modalities["face"].details["passes"] == 1
    assert whole.modalities["face"].details["passes"] > 1
    assert fast.emotion == whole.emotion == "happiness"
    with pytest.raises(cxsense.InputError, match="face_early_exit"):
        cxsense.assess(face=face_path, face_early_exit="fast")
    with pytest.raises(cxsense.InputError, match="face_early_exit"):
        cxsense.assess(voice=(np.zeros(16000, np.float32), 16000), face_early_exit=0.5)


def test_int8_kernel_plan_gives_the_module_outputs(base_with_exit):
    """The int8 networks run their kernels directly (Int8FaceNet.compile_plan): the same outputs, bit for bit, as
    the module chain; a network with a layer the plan does not know keeps the module path."""
    import copy

    import torch
    from torch import nn

    if not _int8_here():
        pytest.skip("no x86 int8 engine here")
    enc = base_with_exit(None)
    x = torch.from_numpy(np.random.default_rng(0).normal(size=(3, 1, 48, 48)).astype(np.float32))
    with torch.inference_mode():
        for net in [enc._runner.model.stage1, *enc._runner.model.members]:
            assert net._plan is not None
            assert torch.equal(net.forward_features(x), net._modules_forward(x))
        odd = copy.deepcopy(enc._runner.model.stage1)
        odd.pre_logits = nn.Sequential(*odd.pre_logits, nn.Dropout(0.0))
        assert odd.compile_plan() is False and odd._plan is None
        np.testing.assert_allclose(odd.forward_features(x).numpy(), enc._runner.model.stage1.forward_features(x).numpy())
