"""Which hri_face_detect face image to classify (`face_image` of the hri_expression node), chosen
on FER2013 PublicTest (the selection split; JAFFE, CK+ and PrivateTest only report).

    PYTHONPATH=src:test/hri_stand_ins .venv-hri/bin/python tools/hri_face_images.py crops OUT.npz
.venv/bin/python tools/hri_face_images.py score OUT.npz   (both take --data-dir DIR)

`crops` (hri_face_detect's venv; PYTHONPATH=src:test/hri_stand_ins): each PublicTest tile with a FER+
majority, upscaled to 240x240, through hri_face_detect's own C++ YuNet (`FaceDetector`) and its own
`publish_cropped_face` and `publish_aligned_face`; keeps both 128x128 images, the roi and the
pupils. `score` (our venv): our classifier, as the node runs it, on our framing of each (the
hri_expression node's path), and on the images as they are (no framing), against the FER+ majority.
"""

import argparse
from pathlib import Path

import cv2
import numpy as np


def crops(out: Path, data_dir: Path) -> None:
    from hri_face_detect.node_face_detect import Face, FaceDetector, FacialLandmarks

    from fer_training.data.fer2013 import load_split  # plain numpy and OpenCV: it runs in that venv too

    images, _ = load_split(data_dir, "PublicTest")

    class Capture:  # stands in for a publisher: keeps the image message
        msg = None

        def get_subscription_count(self) -> int:
            return 1

        def publish(self, msg) -> None:
            self.msg = msg

    detector, kept = FaceDetector(0.75, 0.5), {"index": [], "cropped": [], "aligned": [], "box": [], "eyes": []}
    for index, tile in enumerate(images):
        frame = cv2.cvtColor(cv2.resize(tile, (240, 240), interpolation=cv2.INTER_CUBIC), cv2.COLOR_GRAY2BGR)
        found = detector.detect(frame)
        if not found:
            continue
        face = Face.__new__(Face)
        face.ready, face.bb, face.landmarks = False, found[0].bb, found[0].landmarks
        face.cropped_pub, face.aligned_pub = Capture(), Capture()
        face.publish_cropped_face(frame, None)
        face.publish_aligned_face(frame, None)
        right, left = face.landmarks[FacialLandmarks.RIGHT_PUPIL], face.landmarks[FacialLandmarks.LEFT_PUPIL]
        kept["index"].append(index)
        for name in ("cropped", "aligned"):
            msg = getattr(face, f"{name}_pub").msg
            kept[name].append(np.frombuffer(bytes(msg.data), np.uint8).reshape(msg.height, msg.width, 3))
        kept["box"].append((face.bb.xmin, face.bb.ymin, face.bb.width, face.bb.height))
        kept["eyes"].append(((right.x, right.y), (left.x, left.y)))
    np.savez_compressed(out, **{k: np.array(v) for k, v in kept.items()})
    print(f"{len(kept['index'])} of {len(images)} tiles found by hri_face_detect's YuNet")


def score(out: Path, data_dir: Path) -> None:
    from fer_ros.vision.align import X_FACTOR, Y_FACTOR
    from fer_ros.vision.classify import EmotionClassifier
    from fer_ros.vision.detect import Box
    from fer_ros.vision.hri_crops import eyes_in_aligned, eyes_in_cropped, frame_face_image
    from fer_training.data.fer2013 import load_split
    from fer_training.data.ferplus import split_labels

    _, labels = load_split(data_dir, "PublicTest")
    majority = split_labels(data_dir, "PublicTest", "ferplus", labels)
    found = np.load(out)
    classifier = EmotionClassifier(flip=True)
    rows = {"cropped, our framing": [], "aligned, our framing": [], "cropped as is": [], "aligned as is": []}
    for cropped, aligned, box, eyes in zip(found["cropped"], found["aligned"], found["box"], found["eyes"]):
        box, eyes = Box(*map(int, box)), tuple(map(tuple, eyes.astype(float)))
        rows["cropped, our framing"].append(frame_face_image(cropped, eyes_in_cropped(box, eyes, 128, 128),
                                                             X_FACTOR, Y_FACTOR, box).crop)
        rows["aligned, our framing"].append(frame_face_image(aligned, eyes_in_aligned(box, eyes, (240, 240), 128, 128),
                                                             X_FACTOR, Y_FACTOR, box).crop)
        for name, image in (("cropped as is", cropped), ("aligned as is", aligned)):
            grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
            rows[name].append(cv2.resize(grey, (48, 48), interpolation=cv2.INTER_AREA))
    truth = majority[found["index"]]
    usable = truth >= 0
    print(f"PublicTest tiles with a FER+ majority that hri_face_detect found: {int(usable.sum())} of "
          f"{int((majority >= 0).sum())}")
    for name, faces in rows.items():
        predicted = np.argmax(classifier.scores(np.stack(faces)), axis=1)
        print(f"{name:<22} {np.mean(predicted[usable] == truth[usable]) * 100:.2f} %")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("step", choices=("crops", "score"))
    p.add_argument("out", type=Path)
    p.add_argument("--data-dir", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    args = p.parse_args()
    (crops if args.step == "crops" else score)(args.out, args.data_dir)
