"""The DeXpression definition and the shipped model: shape, labels, accuracy, bad files."""

import json
import shutil

import numpy as np
import pytest

from fer_ros.align import get_faces
from fer_ros.classify import EmotionClassifier, apply_temperature
from fer_ros.labels import LABELS
from fer_ros.model_files import METADATA_FILE, MODEL_FILE, SHIPPED_IMAGE_MODEL, ModelFileError
from fer_ros.sample_clip import face_photo
from fer_training.fer2013 import default_data_dir, load_split
from fer_training.models import make_dexpression


@pytest.fixture(scope="module")
def classifier() -> EmotionClassifier:
    return EmotionClassifier()


def test_dexpression_builds_with_the_expected_shapes():
    model = make_dexpression()
    assert model.input_shape == (None, 48, 48, 1)
    assert model.output_shape == (None, len(LABELS))
    scores = np.asarray(model(np.zeros((2, 48, 48, 1), np.float32)))
    assert scores.shape == (2, 7) and np.allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    assert model.count_params() < 1_000_000


def test_shipped_model_card_and_size():
    card = json.loads((SHIPPED_IMAGE_MODEL / METADATA_FILE).read_text())
    assert card["labels"] == list(LABELS)
    assert card["training"]["accuracy"]["PrivateTest"] >= 0.62
    assert (SHIPPED_IMAGE_MODEL / MODEL_FILE).stat().st_size < 5_000_000


def test_shipped_model_classifies_a_real_face(classifier):
    faces, _ = get_faces(face_photo())
    scores = classifier.scores(faces)
    assert scores.shape == (1, 7) and np.isclose(scores.sum(), 1.0, atol=1e-4)
    assert classifier.scores([]).shape == (0, 7)


def test_shipped_model_accuracy_on_a_publictest_sample(classifier):
    # Every 7th PublicTest image (513, all classes): a wrong or damaged model falls far below.
    images, labels = load_split(default_data_dir(), "PublicTest")
    predicted = classifier.scores_batched(images[::7]).argmax(axis=1)
    assert np.mean(predicted == labels[::7]) > 0.6


def test_missing_model_file_is_named(tmp_path):
    shutil.copy(SHIPPED_IMAGE_MODEL / METADATA_FILE, tmp_path)
    with pytest.raises(ModelFileError, match=str(tmp_path / MODEL_FILE)):
        EmotionClassifier(tmp_path)


def test_corrupt_model_file_is_named(tmp_path):
    shutil.copy(SHIPPED_IMAGE_MODEL / METADATA_FILE, tmp_path)
    data = (SHIPPED_IMAGE_MODEL / MODEL_FILE).read_bytes()
    (tmp_path / MODEL_FILE).write_bytes(data[: len(data) // 2])
    with pytest.raises(ModelFileError, match="cannot load model file"):
        EmotionClassifier(tmp_path)


def test_missing_or_mismatched_card_is_refused(tmp_path):
    with pytest.raises(ModelFileError, match="model card not found"):
        EmotionClassifier(tmp_path)
    shutil.copy(SHIPPED_IMAGE_MODEL / MODEL_FILE, tmp_path)
    card = json.loads((SHIPPED_IMAGE_MODEL / METADATA_FILE).read_text())
    card["labels"] = card["labels"][:6]
    (tmp_path / METADATA_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelFileError, match="gives 7 scores but its card lists 6 labels"):
        EmotionClassifier(tmp_path)


def test_shipped_model_loads_with_its_temperature_and_scores_sum_to_1(classifier):
    card = json.loads((SHIPPED_IMAGE_MODEL / METADATA_FILE).read_text())
    assert classifier.temperature == card["temperature"] == card["calibration"]["temperature"]
    assert EmotionClassifier(flip=True).temperature == card["temperature_flip"]
    images, _ = load_split(default_data_dir(), "PublicTest")
    scores = classifier.scores(images[:20])
    np.testing.assert_allclose(scores.sum(axis=1), 1.0, atol=1e-5)
    # The temperature softens the raw scores without changing a single label.
    classifier.temperature = 1.0
    raw = classifier.scores(images[:20])
    classifier.temperature = card["temperature"]
    assert np.array_equal(raw.argmax(axis=1), scores.argmax(axis=1))
    assert (scores.max(axis=1) < raw.max(axis=1)).all() if card["temperature"] > 1 else True


def test_fitted_temperature_undoes_a_known_over_confidence():
    from fer_training.calibrate import fit_temperature

    rng = np.random.default_rng(0)
    truth = rng.integers(0, 7, 4000)
    logits = rng.normal(0, 1, (4000, 7))
    logits[np.arange(4000), truth] += 1.5
    # The true posterior of this draw is softmax(1.5 x logits): calibrated by construction.
    calibrated = np.exp(1.5 * logits) / np.exp(1.5 * logits).sum(axis=1, keepdims=True)
    over_confident = apply_temperature(calibrated, 0.5)  # logits doubled
    assert abs(fit_temperature(over_confident, truth) - 2.0) < 0.15
    assert abs(fit_temperature(calibrated, truth) - 1.0) < 0.1


def test_flip_averages_a_face_with_its_mirror_image():
    images, _ = load_split(default_data_dir(), "PublicTest")
    plain, flipped = EmotionClassifier(), EmotionClassifier(flip=True)
    assert flipped.name.endswith("+flip")
    both = flipped.scores(images[:8])
    plain.temperature = 1.0  # the mean is taken of raw scores, then calibrated
    raw = (plain.scores(images[:8]) + plain.scores(images[:8, :, ::-1])) / 2
    expected = apply_temperature(raw, flipped.temperature)
    np.testing.assert_allclose(both, expected, atol=1e-5)
    scores, features = flipped.scores_and_features(images[:3])
    assert scores.shape == (3, 7) and features.shape == (3, 6, 6, 272)


def test_tensorflow_lite_and_tensorflow_paths_give_the_same_scores(classifier):
    from fer_ros.classify import LITE_MAX_BATCH

    images, _ = load_split(default_data_dir(), "PublicTest")
    through_lite = np.concatenate([classifier.scores(images[i:i + 4]) for i in range(0, 20, 4)])
    through_tf = classifier.scores_batched(images[:20], batch_size=20)  # above LITE_MAX_BATCH
    assert 20 > LITE_MAX_BATCH
    np.testing.assert_allclose(through_lite, through_tf, atol=1e-5)
    _, lite_features = classifier.scores_and_features(images[:2])
    _, tf_features = classifier.scores_and_features(images[:LITE_MAX_BATCH + 1])
    np.testing.assert_allclose(lite_features, tf_features[:2], atol=1e-4)
