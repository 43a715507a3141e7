"""emotion_reactions: an example robot behaviour, the template to copy for your own.

Subscribes to /fer/emotions and /fer/clip_emotions, keeps per-track state
(`fer_ros.vision.reactions.EmotionHolds`) and publishes a `std_msgs/String` on /fer/reactions when a
face has held one emotion above `min_confidence` for `hold_time` seconds, e.g.
"face 3: happy for 1.2 s (clip lstm: happy 0.81)". Replace `react()` with what your robot does.
"""

from fer_msgs.msg import ClipEmotion, FaceEmotionArray
from rclpy.node import Node
from std_msgs.msg import String

from fer_ros.ros.node_main import run_node
from fer_ros.ros.params import ParameterError, Spec, declare_all
from fer_ros.vision.reactions import EmotionHolds, Reaction

PARAMETERS = {
    "min_confidence": Spec(0.5, "score an emotion needs to be taken up", low=0.0, high=1.0),
    "release_confidence": Spec(0.35, "score below which a held emotion counts a miss (<= min_confidence)",
                               low=0.0, high=1.0),
    "hold_time": Spec(1.0, "seconds an emotion must be held before the reaction", low=0.0, high=3600.0),
    "max_misses": Spec(2, "consecutive frames below release_confidence that do not end a hold", low=0, high=100),
    "forget_after": Spec(2.0, "seconds after which a face no longer seen is forgotten", low=0.0, high=3600.0),
}


class EmotionReactions(Node):
    def __init__(self, **kwargs):
        super().__init__("reactions", **kwargs)
        p = declare_all(self, PARAMETERS)
        try:
            self.holds = EmotionHolds(**p)
        except ValueError as e:
            raise ParameterError(f"parameter 'release_confidence': {e}") from e
        self.last_clip: dict[int, str] = {}
        self.publisher = self.create_publisher(String, "reactions", 10)
        self.create_subscription(FaceEmotionArray, "emotions", self.on_emotions, 10)
        self.create_subscription(ClipEmotion, "clip_emotions", self.on_clip, 10)
        self.get_logger().info(f"reacting to {p['hold_time']:g} s of one emotion above {p['min_confidence']:g} "
                               f"on {self.publisher.topic_name}")

    def on_emotions(self, msg: FaceEmotionArray) -> None:
        time_s = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        faces = [(f.track_id, dict(zip(msg.labels, f.scores))) for f in msg.faces
                 if len(f.scores) == len(msg.labels) > 0]
        if len(faces) < len(msg.faces):  # from another publisher, or damaged: skipped, never fatal
            self.get_logger().warning(f"{len(msg.faces) - len(faces)} face(s) whose scores do not match the "
                                      f"{len(msg.labels)} labels skipped", throttle_duration_sec=5.0)
        present = {track_id for track_id, _ in faces}
        self.last_clip = {t: text for t, text in self.last_clip.items() if t in present}
        for reaction in self.holds.update(time_s, faces):
            self.react(reaction)

    def on_clip(self, msg: ClipEmotion) -> None:
        self.last_clip[msg.track_id] = f"clip {msg.model}: {msg.label} {msg.confidence:.2f}"

    def react(self, reaction: Reaction) -> None:
        """What the robot does: here, say it on /fer/reactions and in the log."""
        text = reaction.text(self.last_clip.get(reaction.track_id))
        self.publisher.publish(String(data=text))
        self.get_logger().info(text)


def main(args: list[str] | None = None) -> int:
    return run_node(EmotionReactions, args)
