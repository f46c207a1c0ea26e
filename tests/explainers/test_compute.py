"""explainers.compute: memory format and precision of every network batch."""

import numpy as np
import pytest
import torch

from explainers import compute
from explainers.compute import Compute, PrecisionUnsupported
from explainers.methods import integrated_gradients, lime_local, smoothgrad_sq
from explainers.model import TrainConfig, new_model, predict, probabilities, train

CONTIGUOUS = Compute("fp32", "contiguous")
CHANNELS_LAST = Compute("fp32", "channels_last")
BF16 = Compute("bf16", "channels_last")
needs_bf16 = pytest.mark.skipif(not compute.bf16_supported("cpu"), reason="this CPU has no native bfloat16")


def images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 784), dtype=np.float32)


def tiny_training(setting: Compute, seed: int = 0) -> dict[str, torch.Tensor]:
    x = images(96, 1)
    y = np.arange(96) % 10
    with compute.using(setting):
        model = train(new_model(seed), x, y, config=TrainConfig(epochs=2, batch_size=32), seed=seed)
    return {k: v.contiguous() for k, v in model.state_dict().items()}


def test_the_default_is_fp32_in_channels_last():
    assert compute.current() == Compute("fp32", "channels_last")
    assert compute.current().describe() == {"precision": "fp32", "memory_format": "channels_last"}


def test_using_sets_the_setting_for_the_block_only():
    with compute.using(BF16):
        assert compute.current() is BF16
    assert compute.current() == Compute()


def test_the_network_runs_its_convolutions_in_the_memory_format_in_effect():
    model = new_model(0).eval()
    seen = []
    model.features[1].register_forward_hook(
        lambda m, i, o: seen.append(o.is_contiguous(memory_format=torch.channels_last))
    )
    for setting in (CHANNELS_LAST, CONTIGUOUS):
        with compute.using(setting), torch.no_grad():
            compute.forward(model, torch.rand(4, 784))
    assert seen == [True, False]


def test_channels_last_probabilities_equal_the_contiguous_ones_up_to_float_rounding():
    f = probabilities(new_model(0))
    x = torch.as_tensor(images(50))
    with compute.using(CONTIGUOUS), torch.no_grad():
        expected = compute.forward(f, x)
    with compute.using(CHANNELS_LAST), torch.no_grad():
        got = compute.forward(f, x)
    torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)


def test_channels_last_explanations_equal_the_contiguous_ones_up_to_float_rounding():
    f = probabilities(new_model(0))
    x = images(3)
    results = {}
    for setting in (CONTIGUOUS, CHANNELS_LAST):
        with compute.using(setting):
            results[setting.memory_format] = (
                lime_local(f, x, num_samples=300, num_features=5, seed=1),
                smoothgrad_sq(f, x, num_samples=8, seed=1),
                integrated_gradients(f, x, steps=8),
            )
    for got, expected in zip(results["channels_last"], results["contiguous"]):
        np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-9)
    lime_cl, lime_c = results["channels_last"][0], results["contiguous"][0]
    assert ((lime_cl != 0) == (lime_c != 0)).all()  # the same selected features


@pytest.mark.slow  # trains a network
def test_channels_last_training_equals_contiguous_training_up_to_float_rounding():
    got, expected = tiny_training(CHANNELS_LAST), tiny_training(CONTIGUOUS)
    for name in expected:
        torch.testing.assert_close(got[name], expected[name], rtol=1e-3, atol=1e-4, msg=name)


@pytest.mark.slow  # trains a network
def test_seeded_training_repeats_exactly_in_channels_last():
    first, second = tiny_training(CHANNELS_LAST), tiny_training(CHANNELS_LAST)
    for name in first:
        assert torch.equal(first[name], second[name]), name


def test_seeded_explanations_repeat_exactly_in_channels_last():
    f = probabilities(new_model(0))
    runs = [lime_local(f, images(2), num_samples=200, num_features=5, seed=3) for _ in range(2)]
    np.testing.assert_array_equal(runs[0], runs[1])


def test_bf16_is_refused_in_one_line_where_the_hardware_lacks_it(monkeypatch):
    monkeypatch.setattr(compute, "bf16_supported", lambda device="cpu": False)
    with pytest.raises(PrecisionUnsupported, match="--precision bf16: this CPU has no native bfloat16") as info:
        BF16.check("cpu")
    assert "\n" not in str(info.value)
    assert CHANNELS_LAST.check("cpu") is CHANNELS_LAST  # fp32 runs everywhere


def test_bf16_support_on_cpu_follows_the_cpu_flags(monkeypatch):
    monkeypatch.setattr(torch.cpu, "_is_avx512_bf16_supported", lambda: False)
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: False)
    assert not compute.bf16_supported("cpu")
    monkeypatch.setattr(torch.cpu, "_is_amx_tile_supported", lambda: True)
    assert compute.bf16_supported("cpu")


def test_an_unknown_precision_or_memory_format_is_refused():
    with pytest.raises(ValueError, match="unknown precision 'fp16'"):
        Compute("fp16")
    with pytest.raises(ValueError, match="unknown memory format 'nhwc'"):
        Compute(memory_format="nhwc")


@needs_bf16
def test_bf16_probabilities_are_float32_and_close_to_fp32():
    f = probabilities(new_model(0))
    x = torch.as_tensor(images(50))
    with torch.no_grad():
        expected = compute.forward(f, x)
        with compute.using(BF16):
            got = compute.forward(f, x)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, expected, rtol=0, atol=2e-2)
    assert not torch.equal(got, expected)  # it did run in bfloat16


@needs_bf16
@pytest.mark.slow  # trains a network
def test_bf16_predictions_and_training_stay_close_to_fp32():
    x = images(96, 1)
    with compute.using(BF16):
        model = train(new_model(0), x, np.arange(96) % 10, config=TrainConfig(epochs=1, batch_size=32), seed=0)
        bf16_predicted = predict(model, x)
    assert all(torch.isfinite(p).all() for p in model.parameters())
    assert all(p.dtype == torch.float32 for p in model.parameters())  # autocast: the weights stay fp32
    assert (bf16_predicted == predict(model, x)).mean() >= 0.9
