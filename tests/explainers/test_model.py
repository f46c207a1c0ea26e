"""The paper's CNN: its shape, training, checkpoints."""

import numpy as np
import pytest
import torch

from explainers.model import (
    CONV_FEATURES,
    CheckpointError,
    MnistCNN,
    TrainConfig,
    accuracy,
    load_checkpoint,
    new_model,
    probabilities,
    resolve_device,
    save_checkpoint,
    shift_images,
    train,
)


def test_the_network_has_two_conv_blocks_then_128_128_10_with_dropout():
    model = MnistCNN()
    convs = [m for m in model.features if isinstance(m, torch.nn.Conv2d)]
    pools = [m for m in model.features if isinstance(m, torch.nn.MaxPool2d)]
    linears = [m for m in model.head if isinstance(m, torch.nn.Linear)]
    dropouts = [m for m in model.head if isinstance(m, torch.nn.Dropout)]
    assert len(convs) == 2 and len(pools) == 2 and len(dropouts) == 2
    assert [m.out_features for m in linears] == [128, 128, 10]
    assert model.features(torch.zeros(3, 1, 28, 28)).shape == (3, CONV_FEATURES)


def test_it_accepts_flat_rows_or_images_and_the_probability_wrapper_sums_to_one():
    model = new_model(0).eval()
    x = torch.rand(4, 784)
    torch.testing.assert_close(model(x), model(x.reshape(4, 1, 28, 28)))
    torch.testing.assert_close(probabilities(model)(x).sum(1), torch.ones(4))


def test_new_models_with_the_same_seed_are_identical():
    a, b = new_model(3), new_model(3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


@pytest.mark.slow  # trains a network
def test_training_on_real_digits_beats_chance_by_far(tiny_mnist_dir):
    from explainers.data import load_mnist

    data = load_mnist(tiny_mnist_dir)
    model = train(new_model(0), data.x_train, data.y_train, config=TrainConfig(epochs=8), seed=0)
    assert accuracy(model, data.x_test, data.y_test) > 0.6  # 10 classes: chance is 0.1


def test_shifting_moves_the_image_by_whole_pixels_and_pads_with_zero():
    x = torch.zeros(1, 784)
    x[0, 14 * 28 + 14] = 1.0
    gen = torch.Generator().manual_seed(0)
    shifted = shift_images(x, 1, gen).reshape(28, 28)
    r, c = (shifted == 1).nonzero()[0].tolist()
    assert abs(r - 14) <= 1 and abs(c - 14) <= 1 and shifted.sum() == 1


def test_a_checkpoint_round_trips(tmp_path):
    model = new_model(1).eval()
    digest = save_checkpoint(model, tmp_path / "m.pt")
    loaded = load_checkpoint(tmp_path / "m.pt")
    x = torch.rand(2, 784)
    torch.testing.assert_close(model(x), loaded(x))
    assert len(digest) == 64


def test_a_missing_or_foreign_checkpoint_gives_a_one_line_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such model checkpoint"):
        load_checkpoint(tmp_path / "absent.pt")
    (tmp_path / "junk.pt").write_bytes(b"junk")
    with pytest.raises(CheckpointError, match="not a MnistCNN checkpoint"):
        load_checkpoint(tmp_path / "junk.pt")


def test_asking_for_a_gpu_that_is_not_there_is_refused(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="no CUDA GPU"):
        resolve_device("cuda")
    assert resolve_device("auto").type == "cpu"


def test_accuracy_counts_correct_predictions():
    model = new_model(0).eval()
    x = np.random.default_rng(0).random((5, 784)).astype(np.float32)
    predicted = model(torch.tensor(x)).argmax(1).numpy()
    assert accuracy(model, x, predicted) == 1.0
    assert accuracy(model, x, (predicted + 1) % 10) == 0.0
