"""Adapters that let other RL engines drive the spy game: optional extras over the same rules and rewards."""
