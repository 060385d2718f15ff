"""One sampling-settings value: checked once, keywords override it, the trainer config hands it over."""

import pytest

from agents.sampling import Sampling, sampling_with
from algorithms.train_config import SPOConfig


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"temperature": -1.0}, "temperature must be >= 0"),
        ({"top_p": 0.0}, "top_p must be in"),
        ({"max_new_tokens": 0}, "need 1 <= max_new_tokens"),
        ({"max_new_tokens": 4, "min_new_tokens": 5}, "0 <= min_new_tokens <= max_new_tokens"),
    ],
)
def test_settings_no_sampler_can_honour_are_rejected(settings, message):
    with pytest.raises(ValueError, match=message):
        Sampling(**settings)


def test_keywords_given_replace_the_settings_and_the_rest_are_kept():
    base = Sampling(temperature=0.5, max_new_tokens=32)
    assert sampling_with(base, top_p=0.9, max_new_tokens=None) == Sampling(0.5, 0.9, 32, 0)
    assert sampling_with(None, max_new_tokens=12) == Sampling(0.8, 1.0, 12, 0)
    assert isinstance(Sampling(temperature=1).temperature, float)


def test_the_trainer_config_gives_its_rollout_sampling():
    config = SPOConfig(temperature=0.7, top_p=0.95, max_new_tokens=24, min_new_tokens=2)
    assert config.sampling == Sampling(0.7, 0.95, 24, 2)
