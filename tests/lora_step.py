"""The smallest run that trains: one LoRA iteration on clues, shared by the export and the families tests."""

# Untrained clues are malformed: the format term gives them non-zero advantages.
ENV = {"image_size": (64, 48), "num_players": 4, "num_rounds": 1, "clue_format_weight": 1.0}
TRAINER = {
    "iterations": 1,
    "games_per_iter": 1,
    "group_size": 2,
    "max_new_tokens": 4,
    "learning_rate": 1e-2,
    "warmup_ratio": 0.0,
    "start_stage": "clue",
    "checkpoint_every": 1,
}
