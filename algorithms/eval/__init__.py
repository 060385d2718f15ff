"""Evaluation in one place: head to head, the detection test, the visual probe, the rating league, reports.

`head_to_head.evaluate` (policy A against B, seats swapped), `versus_start` (a trained run against its
start), `detection.detection_test` (votes on scene-bot clues), `probe` and `probe_questions` (the visual
probe), `league` with `ratings` and `league_plot` (Bradley-Terry ratings of many policies), and `rates`
(Wilson intervals and the vote rates every report writes).
"""
