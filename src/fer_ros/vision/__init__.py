"""The vision core: detect, align, classify, track, clip stage and the per-frame pipeline, in
plain Python and numpy with no ROS import, so that nodes, training, evaluation and benchmarks
run the same functions (`test/test_runtime.py` checks that nothing here imports ROS)."""
