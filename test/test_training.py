"""fer-train-image end to end on a small slice of FER2013 (the real data, one epoch), and its
parts (augmentation, class weights, losses) on any real faces."""

import json
import subprocess
import sys
from pathlib import Path

import needs
import numpy as np
import pytest
from shipped_faces import real_faces

import fer_training.training.image_command as train_image
import fer_training.training.image_trainer as image_training
from fer_ros.vision.classify import EmotionClassifier
from fer_ros.vision.model_files import METADATA_FILE, MODEL_FILE, SHIPPED_IMAGE_MODEL
from fer_training.data.fer2013 import default_data_dir, load_split
from fer_training.data.ferplus import load_votes, target_prior
from fer_training.training.augment import augment


@needs.data_sets("fer2013")
def test_fer2013_splits_have_the_documented_sizes():
    for split, n in [("PublicTest", 3589), ("PrivateTest", 3589)]:
        images, labels = load_split(default_data_dir(), split)
        assert images.shape == (n, 48, 48) and labels.shape == (n,)
        assert set(labels.tolist()) == set(range(7))


def test_augment_keeps_shape_and_changes_pixels():
    images = real_faces(32)
    out = augment(images, np.random.default_rng(0))
    assert out.shape == (32, 48, 48) and out.dtype == np.uint8
    assert np.mean(out != images) > 0.5


@needs.data_sets("fer2013")
def test_training_command_writes_a_loadable_model(tmp_path, monkeypatch):
    monkeypatch.setattr(image_training, "load_split",
                        lambda data_dir, split: tuple(a[::60] for a in load_split(data_dir, split)))
    train_image.main(["--out", str(tmp_path), "--epochs", "1", "--verbose", "0"])
    card = json.loads((tmp_path / METADATA_FILE).read_text())
    assert card["training"]["epochs"] == 1 and set(card["training"]["accuracy"]) == {
        "Training", "PublicTest", "PrivateTest"}
    assert card["name"] == "vgg" and card["training"]["labels"] == "fer2013"  # v2's architecture by default
    assert card["version"] == "dev" and EmotionClassifier(tmp_path).name.startswith("vgg-vdev")
    assert EmotionClassifier(tmp_path).scores(np.zeros((2, 48, 48), np.uint8)).shape == (2, 7)


@needs.data_sets("fer2013", "ferplus")
def test_training_on_the_ferplus_votes_selects_and_reports_on_their_majority(tmp_path, monkeypatch):
    from fer_training.data.ferplus import load_votes

    monkeypatch.setattr(image_training, "load_split",
                        lambda data_dir, split: tuple(a[::60] for a in load_split(data_dir, split)))
    import fer_training.data.ferplus as ferplus

    def every_60th(data_dir, split):
        return load_votes(data_dir, split)[::60]

    monkeypatch.setattr(ferplus, "load_votes", every_60th)  # training targets, selection and report labels
    assert train_image.main(["--out", str(tmp_path), "--epochs", "1", "--verbose", "0", "--labels", "ferplus",
                             "--no-export"]) == 0
    card = json.loads((tmp_path / METADATA_FILE).read_text())
    accuracy = card["training"]["accuracy"]
    assert card["training"]["labels"] == "ferplus" and "FER+ majority" in card["training"]["data"]
    assert set(accuracy) == {"Training", "PublicTest", "PrivateTest", "PrivateTest (FER+ majority)"}


@needs.data_sets("fer2013")
def test_training_resumes_from_its_checkpoint_with_the_new_options(tmp_path, monkeypatch):
    monkeypatch.setattr(image_training, "load_split",
                        lambda data_dir, split: tuple(a[::90] for a in load_split(data_dir, split)))
    import keras

    def policies(path: Path) -> set[str]:
        return {layer.dtype_policy.name for layer in keras.saving.load_model(path, compile=False).layers[1:]}

    options = ["--out", str(tmp_path), "--epochs", "3", "--verbose", "0", "--resume", "--erase", "0.5",
               "--brightness", "0.2", "--class-weight", "sqrt", "--precision", "bf16"]
    train_image.main([*options, "--time-budget", "0.001"])  # stops after epoch 1, keeps its checkpoint
    state = json.loads((tmp_path / "checkpoint.json").read_text())
    assert state["epochs_done"] == 1 and not (tmp_path / "model.keras").exists()
    # bf16 computes in bfloat16 but for the softmax, and leaves the process's policy as it was.
    assert policies(tmp_path / "checkpoint.keras") == {"mixed_bfloat16", "float32"}
    assert keras.mixed_precision.global_policy().name == "float32"
    train_image.main(options)
    card = json.loads((tmp_path / METADATA_FILE).read_text())["training"]
    assert card["epochs"] == 3 and "--class-weight sqrt" in card["command"] and "--precision bf16" in card["command"]
    assert not (tmp_path / "checkpoint.keras").exists() and policies(tmp_path / "model.keras") == {"float32"}
    assert EmotionClassifier(tmp_path).scores(np.zeros((2, 48, 48), np.uint8)).shape == (2, 7)


def test_teachers_score_in_bfloat16_as_in_float32():
    """--precision bf16 runs the teachers in bfloat16 (twice as fast), softmax in float32."""
    from fer_training.training.export_model import load_keras_model

    teacher = load_keras_model(SHIPPED_IMAGE_MODEL)
    twin = image_training.computing_in(teacher, "mixed_bfloat16")
    assert image_training.computing_in(teacher, "float32") is teacher
    assert {layer.dtype_policy.name for layer in twin.layers[1:-1]} == {"mixed_bfloat16"}
    assert twin.get_layer("scores").dtype_policy.name == "float32"
    faces = image_training.as_input(real_faces(36))
    float32, bfloat16 = teacher.predict(faces, verbose=0), twin.predict(faces, verbose=0)
    assert np.abs(float32 - bfloat16).max() < 0.05 and np.mean(float32.argmax(1) == bfloat16.argmax(1)) > 0.95


def test_bf16_warns_only_on_a_cpu_that_emulates_bfloat16():
    """Without AMX or AVX512-BF16, bf16 ran 2-4 times slower than float32 here: the run says so."""
    amx = "processor\t: 0\nflags\t\t: fpu avx512f amx_bf16 amx_tile\n"
    assert not image_training.emulates_bfloat16(amx)
    assert image_training.emulates_bfloat16(amx.replace("amx_bf16 ", ""))
    assert not image_training.emulates_bfloat16("processor\t: 0\n")  # flags unknown: no warning


@needs.data_sets("fer2013", "ferplus")
def test_distillation_from_teachers_writes_a_model(tmp_path, monkeypatch):
    """v4's route (--init, --teachers: the votes and the teachers' scores as targets) end to end,
    on a slice of the data, under --precision bf16."""
    import fer_training.data.ferplus as ferplus

    monkeypatch.setattr(image_training, "load_split",
                        lambda data_dir, split: tuple(a[::60] for a in load_split(data_dir, split)))
    votes = ferplus.load_votes
    monkeypatch.setattr(ferplus, "load_votes", lambda data_dir, split: votes(data_dir, split)[::60])
    shipped = str(SHIPPED_IMAGE_MODEL)
    assert train_image.main(["--out", str(tmp_path), "--epochs", "1", "--verbose", "0", "--labels", "ferplus",
                             "--init", shipped, "--teachers", shipped, "--precision", "bf16", "--no-export"]) == 0
    card = json.loads((tmp_path / METADATA_FILE).read_text())["training"]
    assert f"--teachers {shipped}" in card["command"] and card["accuracy"]["PublicTest"] > 0.7  # v4 as its start


@needs.data_sets("fer2013", "ferplus")
def test_teacher_copies_are_scored_once_and_kept_for_resume(tmp_path, monkeypatch):
    """--teacher-copies 2: the teachers score two copies of the training set, not one per epoch;
    a run stopped by its time budget and resumed reuses them; the cache goes with the checkpoint."""
    import fer_training.data.ferplus as ferplus

    monkeypatch.setattr(image_training, "load_split",
                        lambda data_dir, split: tuple(a[::60] for a in load_split(data_dir, split)))
    votes = ferplus.load_votes
    monkeypatch.setattr(ferplus, "load_votes", lambda data_dir, split: votes(data_dir, split)[::60])
    scored = []
    score = image_training.teacher_scores
    monkeypatch.setattr(image_training, "teacher_scores", lambda *a: scored.append(len(a[1])) or score(*a))
    shipped = str(SHIPPED_IMAGE_MODEL)
    options = ["--out", str(tmp_path), "--epochs", "3", "--verbose", "0", "--labels", "ferplus", "--resume",
               "--teachers", shipped, "--teacher-copies", "2", "--degrade", "0.5", "--no-export"]
    assert train_image.main(options + ["--time-budget", "0"]) == 0  # stops after its first epoch
    assert len(scored) == 2 and (tmp_path / "teacher_scores.npz").is_file()
    assert train_image.main(options) == 0
    assert len(scored) == 2, "the resumed run scored the copies again"
    assert not (tmp_path / "teacher_scores.npz").exists() and (tmp_path / MODEL_FILE).is_file()
    card = json.loads((tmp_path / METADATA_FILE).read_text())["training"]
    assert card["epochs"] == 3 and "--teacher-copies 2" in card["command"]


def test_a_teacher_copy_is_drawn_again_alike():
    """Each epoch reusing a scored copy must see the very faces its scores are of."""
    faces = real_faces(16)
    targets = np.eye(7, dtype=np.float32)[np.arange(16) % 7]
    args = train_image.parse_args(["--out", "x", "--erase", "0.5", "--degrade", "0.5", "--framing", "0.4",
                                   "--brightness", "0.2", "--mixup", "0.2"])
    first, again, other = (image_training.training_copy(faces, None, None, targets, args,
                                                        image_training.copy_generator(1, copy))
                           for copy in (0, 0, 1))
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(first[0], other[0])


def test_teacher_copies_need_teachers(capsys):
    for bad in (["--teacher-copies", "2"], ["--teachers", "x", "--teacher-copies", "-1"]):
        with pytest.raises(SystemExit) as exit:
            train_image.parse_args(["--out", "x", *bad])
        assert exit.value.code == 2
        assert "--teacher-copies: a count of 1 or more, with --teachers" in capsys.readouterr().err


@needs.data_sets("fer2013")
def test_a_run_killed_while_writing_its_checkpoint_resumes_from_the_last_whole_one(tmp_path, monkeypatch, capsys):
    """A session that ends mid-write (SystemExit here, as a signal would end it) must not cost
    the run: the files of a checkpoint are written beside their places, then moved in."""
    import keras

    monkeypatch.setattr(image_training, "load_split",
                        lambda data_dir, split: tuple(a[::90] for a in load_split(data_dir, split)))
    save, saves = keras.Model.save, []

    def killed_on_the_second(model, path, *args, **kwargs):
        saves.append(path)
        if len(saves) == 2:  # epoch 2's checkpoint, half written
            Path(path).write_bytes(b"half a zip")
            raise SystemExit("killed")
        return save(model, path, *args, **kwargs)

    options = ["--out", str(tmp_path), "--epochs", "3", "--verbose", "0", "--resume"]
    with monkeypatch.context() as patch:
        patch.setattr(keras.Model, "save", killed_on_the_second)
        with pytest.raises(SystemExit):
            train_image.main(options)
    assert json.loads((tmp_path / "checkpoint.json").read_text())["epochs_done"] == 1
    whole = (tmp_path / "checkpoint.keras").read_bytes()
    (tmp_path / "checkpoint.keras").write_bytes(b"damaged")  # as a copy gone wrong: one line, not a traceback
    assert train_image.main(options) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: cannot resume from {tmp_path / 'checkpoint.keras'}")
    (tmp_path / "checkpoint.keras").write_bytes(whole)
    assert train_image.main(options) == 0
    assert json.loads((tmp_path / METADATA_FILE).read_text())["training"]["epochs"] == 3


@needs.data_sets("fer2013", "ferplus")
def test_ensemble_report_gives_each_model_and_their_mean(tmp_path, monkeypatch):
    import shutil

    import fer_training.training.ensemble as ensemble
    from fer_training.training.calibrate import truth_of

    monkeypatch.setattr(ensemble, "truth_of", lambda *a: tuple(x[::8] for x in truth_of(*a)))
    shipped = SHIPPED_IMAGE_MODEL
    twin = tmp_path / "twin"
    twin.mkdir()
    for name in ("model.keras", "model.json"):
        shutil.copy(shipped / name, twin / name)
    average = tmp_path / "average"
    assert ensemble.main(["--models", str(shipped), str(twin), "--json", str(tmp_path / "r.json"),
                          "--average", str(average), "--version", "9"]) == 0
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["split"] == "PublicTest" and report["faces"] == len(truth_of(default_data_dir(), "PublicTest",
                                                                                "ferplus")[1][::8])
    alone, mean = report["models"][str(shipped)], report["models"]["ensemble"]
    assert [g["tau"] for g in alone["grid"]] == pytest.approx([i / 10 for i in range(11)])
    assert alone["grid"][0]["accuracy"] > 0.8  # the shipped model on the FER+ majority
    assert mean == alone  # a model averaged with itself is that model (the same decisions)
    assert report["models"][ensemble.AVERAGE] == alone  # so are its weights averaged with themselves
    card = json.loads((average / "model.json").read_text())
    assert card["name"] == "vgg" and card["version"] == "9" and card["training"]["labels"] == "ferplus"
    assert card["training"]["accuracy"]["PublicTest"] > 0.8  # its own figure, as the trainer's cards have
    assert [m["model"] for m in card["training"]["members"]] == [str(shipped), str(twin)]
    assert card["training"]["members"][0]["command"].startswith("fer-train-image ")
    assert card["training"]["command"] == f"fer-ensemble --labels ferplus --models {shipped} {twin} --version 9"


def test_weight_average_refuses_models_of_two_architectures(tmp_path, capsys):
    """Before any data is read (there is none in --data-dir here)."""
    from fer_training.training.ensemble import main

    models = Path(__file__).parents[1] / "src/fer_ros/models"
    assert main(["--models", str(models / "image"), str(models / "image_v1"), "--average", str(tmp_path),
                 "--data-dir", str(tmp_path / "none")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: ") and "architecture" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "model.keras").exists()


def test_training_tools_refuse_a_missing_or_damaged_model_in_one_line(tmp_path, capsys):
    """--teachers, --init, --image-model and --models: one line naming the model file and exit
    code 2, before any data is read (there is none in --data-dir here) and with nothing written;
    a clip model where an image model belongs alike."""
    from fer_training.training import clip_command, ensemble

    empty, damaged, out, no_data = tmp_path / "empty", tmp_path / "damaged", tmp_path / "out", tmp_path / "no_data"
    clip = Path(__file__).parents[1] / "src/fer_ros/models/clip_lstm"
    empty.mkdir()
    damaged.mkdir()
    (damaged / "model.keras").write_bytes(b"not a zip file")
    for main, argv, says in (
            (train_image.main, ["--out", str(out), "--teachers", str(empty)], f"{empty}/model.keras not found"),
            (train_image.main, ["--out", str(out), "--init", str(damaged)], f"cannot load model file {damaged}"),
            (clip_command.main, ["--model", "lstm", "--out", str(out), "--image-model", str(empty)], str(empty)),
            (ensemble.main, ["--models", str(damaged)], f"cannot load model file {damaged}"),
            (clip_command.main, ["--model", "c3d", "--out", str(out), "--image-model", str(clip)],
             f"{clip}/model.keras: not an image model"),
            (train_image.main, ["--out", str(out), "--teachers", str(clip)], f"{clip}/model.keras: not an image"),
            (ensemble.main, ["--models", str(clip)], f"{clip}/model.keras: not an image model")):
        assert main([*argv, "--data-dir", str(no_data)]) == 2, argv
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("error: ") and says in err[0], (argv, err)
    assert not out.exists()


@needs.data_sets("fer2013")
def test_training_refuses_an_init_model_of_another_architecture(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(image_training, "load_split",
                        lambda data_dir, split: tuple(a[::60] for a in load_split(data_dir, split)))
    v1 = Path(__file__).parents[1] / "src/fer_ros/models/image_v1"  # DeXpression
    assert train_image.main(["--out", str(tmp_path / "out"), "--arch", "vgg", "--init", str(v1)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: --init {v1} holds no vgg model (--arch)"] and not (tmp_path / "out").exists()


def test_class_weights_and_new_augmentations():
    labels = np.array([0] * 90 + [1] * 10)
    weights = image_training.class_weights(labels, "balanced", 2)
    assert np.allclose(weights * np.bincount(labels), 50.0)  # each class weighs the same in total
    assert np.allclose(image_training.class_weights(labels, "none", 2), 1.0)
    images = real_faces(32)
    plain = augment(images, np.random.default_rng(3))
    assert np.array_equal(plain, augment(images, np.random.default_rng(3), brightness=0.0, erase=0.0))
    erased = augment(images, np.random.default_rng(3), erase=1.0)
    assert np.mean(np.any(erased != plain, axis=(1, 2))) == 1.0  # every image got a rectangle
    assert np.array_equal(plain, augment(images, np.random.default_rng(3), degrade=0.0))  # off: no draws
    degraded = augment(images, np.random.default_rng(3), degrade=1.0)
    changed = np.any(degraded != plain, axis=(1, 2))
    assert 0.8 <= changed.mean() and degraded.dtype == np.uint8  # all but the 1 in 16 drawn with no change
    # Lower resolution and blur take detail away: less high-frequency energy than the plain images.
    sharpness = [np.abs(np.diff(x.astype(float), axis=1)).mean() for x in (plain, degraded)]
    assert sharpness[1] < sharpness[0]


def test_logit_adjusted_loss_adds_tau_log_prior_before_the_cross_entropy():
    import keras

    prior = np.array([0.1, 0.2, 0.7])
    scores = np.array([[0.2, 0.3, 0.5], [0.6, 0.3, 0.1]], np.float32)
    truth = np.array([[1, 0, 0], [0, 0, 1]], np.float32)
    adjusted = np.log(scores) + 0.5 * np.log(prior)
    adjusted = np.exp(adjusted) / np.exp(adjusted).sum(axis=1, keepdims=True)
    expected = -np.mean(np.log((truth * adjusted).sum(axis=1)))
    loss = image_training.LogitAdjustedLoss(np.log(prior).tolist(), tau=0.5)
    assert float(loss(truth, scores)) == pytest.approx(expected, rel=1e-5)
    plain = keras.losses.CategoricalCrossentropy()(truth, scores)
    assert float(image_training.LogitAdjustedLoss(np.log(prior).tolist(), tau=0.0)(truth, scores)) == pytest.approx(
        float(plain), rel=1e-5)
    # A face of a rare class costs more, one of a frequent class less: rare classes must score higher.
    each = image_training.LogitAdjustedLoss(np.log(prior).tolist(), tau=0.5, reduction=None)(truth, scores)
    plain_each = keras.losses.CategoricalCrossentropy(reduction=None)(truth, scores)
    assert float(each[0]) > float(plain_each[0]) and float(each[1]) < float(plain_each[1])
    assert np.allclose(target_prior(np.array([[1, 0, 0], [0.5, 0.5, 0]])), [0.75, 0.25, 0])


@needs.data_sets("fer2013")
def test_preprocess_writes_a_drop_in_data_folder(tmp_path):
    from fer_training.data.preprocess_fer2013 import main as preprocess

    assert preprocess(["--out", str(tmp_path), "--limit", "40", "--workers", "2"]) == 0
    report = json.loads((tmp_path / "fer2013" / "report.json").read_text())
    for split in ("Training", "PublicTest", "PrivateTest"):
        images, labels = load_split(tmp_path, split)
        original, original_labels = load_split(default_data_dir(), split)
        assert images.shape == (40, 48, 48) and np.array_equal(labels, original_labels[:40])
        figures = report["splits"][split]
        # YuNet finds a face in 97.2 % of all Training tiles (39, 40 and 39 of these first 40): a
        # detector or aligner that broke would find far fewer.
        assert figures["n"] == 40 and 36 <= figures["detected"] <= 40
        # Tiles without a face found are kept as they were; aligned ones differ.
        unchanged = np.all(images == original[:40], axis=(1, 2))
        assert unchanged.sum() == 40 - figures["detected"]
        # The FER+ votes come along for the tiles written, so `--labels ferplus` works on the folder.
        assert np.array_equal(load_votes(tmp_path, split), load_votes(default_data_dir(), split)[:40])


@needs.data_sets("fer2013")
def test_preprocess_crops_one_split_in_the_framing_asked(tmp_path, capsys):
    from fer_training.data.preprocess_fer2013 import main as preprocess

    first, default = tmp_path / "first", tmp_path / "default"
    assert preprocess(["--out", str(first), "--limit", "30", "--splits", "PublicTest",
                       "--x-factor", "2.1", "--y-factor", "3.2"]) == 0
    assert preprocess(["--out", str(default), "--limit", "30", "--splits", "PublicTest"]) == 0
    assert sorted(p.name for p in (first / "fer2013").glob("*.png")) == ["publictest.png"]
    report = json.loads((first / "fer2013" / "report.json").read_text())
    assert list(report["splits"]) == ["PublicTest"] and (report["x_factor"], report["y_factor"]) == (2.1, 3.2)
    a, labels = load_split(first, "PublicTest")
    b, _ = load_split(default, "PublicTest")
    found = ~np.all(a == load_split(default_data_dir(), "PublicTest")[0][:30], axis=(1, 2))
    assert found.sum() >= 25 and np.all(np.any(a[found] != b[found], axis=(1, 2)))  # another crop of each face
    capsys.readouterr()
    assert preprocess(["--out", str(tmp_path / "bad"), "--x-factor", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--x-factor" in err[0] and not (tmp_path / "bad").exists()


def test_training_commands_answer_help_at_once_without_tensorflow():
    # Before TensorFlow loads: no start-up chatter, no seconds of import (the modules are checked,
    # not the time).
    for command in ("fer-train-image", "fer-train-clips"):
        result = subprocess.run([str(Path(sys.executable).parent / command), "--help"], capture_output=True, text=True,
                                timeout=60)
        assert result.returncode == 0 and result.stdout.startswith(f"usage: {command}") and result.stderr == ""
    probe = ("import sys, fer_training.training.image_command, fer_training.training.clip_command; "
             "print(sorted({'tensorflow', 'keras'} & set(sys.modules)))")
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True).stdout.strip() == "[]"
