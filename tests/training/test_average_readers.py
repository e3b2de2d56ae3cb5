"""training/average_readers.py: the uniform soup is the element-wise mean, checked names and shapes."""

import pytest

torch = pytest.importorskip("torch")

from training.average_readers import average_state_dicts  # noqa: E402


def test_mean_of_two_readers_in_fp16():
    a = {"w": torch.tensor([1.0, 2.0]), "b": torch.tensor([0.0])}
    b = {"w": torch.tensor([3.0, 6.0]), "b": torch.tensor([1.0])}
    out = average_state_dicts([a, b], ["a", "b"])
    assert out["w"].dtype == torch.float16
    assert out["w"].tolist() == [2.0, 4.0]
    assert out["b"].tolist() == [0.5]


def test_mismatched_readers_are_named():
    a = {"w": torch.zeros(2)}
    with pytest.raises(ValueError, match="second: tensor names differ"):
        average_state_dicts([a, {"v": torch.zeros(2)}], ["first", "second"])
    with pytest.raises(ValueError, match=r"second: w has shape \(3,\)"):
        average_state_dicts([a, {"w": torch.zeros(3)}], ["first", "second"])
    with pytest.raises(ValueError, match="at least two"):
        average_state_dicts([a], ["first"])
