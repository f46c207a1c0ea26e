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


class _Tiny(torch.nn.Module):
    """A researcher's own network for 3 x 12 x 12 images of two classes."""

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(3 * 12 * 12, 2)

    def forward(self, x):
        return self.linear(x.reshape(len(x), -1))


def test_the_cnn_is_built_for_any_image_shape_and_number_of_classes():
    from explainers.model import ImageCNN, conv_features

    # 32 x 32 -> conv 30 -> pool 15 -> conv 13 -> pool 6: 64 x 6 x 6 features.
    assert conv_features((3, 32, 32)) == 64 * 6 * 6 and conv_features((1, 28, 28)) == 1600
    model = ImageCNN(shape=(3, 32, 32), n_classes=3)
    assert model.features[0].in_channels == 3 and model.head[0].in_features == 2304
    assert model.head[-1].out_features == 3
    assert model(torch.zeros(2, 3 * 32 * 32)).shape == (2, 3)
    with pytest.raises(ValueError, match="too small"):
        ImageCNN(shape=(1, 8, 8))


def test_the_mnist_network_is_built_as_before_from_its_seed():
    # The default is MNIST's: the same layers, in the same order, so a seed gives the same weights
    # (the committed checkpoint's keys and the KAR results rely on it).
    a, b = new_model(3), new_model(3, shape=(1, 28, 28), n_classes=10)
    assert list(a.state_dict()) == list(b.state_dict())
    assert all(torch.equal(a.state_dict()[k], b.state_dict()[k]) for k in a.state_dict())


def test_shifting_an_rgb_image_moves_every_channel_alike():
    x = torch.zeros(1, 2 * 4 * 4)
    img = x.view(1, 2, 4, 4)
    img[0, 0, 1, 1], img[0, 1, 1, 1] = 1.0, 2.0
    gen = torch.Generator().manual_seed(0)
    out = shift_images(x, 1, gen, shape=(2, 4, 4)).view(1, 2, 4, 4)
    (r0, c0), (r1, c1) = (torch.nonzero(out[0, ch]).tolist()[0] for ch in (0, 1))
    assert (r0, c0) == (r1, c1) and out[0, 0, r0, c0] == 1.0 and out[0, 1, r1, c1] == 2.0
    assert abs(r0 - 1) <= 1 and abs(c0 - 1) <= 1


def test_a_checkpoint_records_its_shape_and_classes_and_is_checked_against_the_data(tmp_path):
    from explainers.model import CheckpointError, load_model

    path = tmp_path / "rgb.pt"
    save_checkpoint(new_model(0, shape=(3, 16, 16), n_classes=3), path, ["cat", "dog", "emu"])
    model = load_model(path, "cpu", (3, 16, 16), ["cat", "dog", "emu"])
    assert model(torch.zeros(1, 768)).shape == (1, 3)
    with pytest.raises(CheckpointError, match="made for images of 3 x 16 x 16, but the data set's are 1 x 28 x 28"):
        load_model(path, "cpu", (1, 28, 28), [str(d) for d in range(10)])
    with pytest.raises(CheckpointError, match="made for the classes cat, dog, emu, but the data set's are a, b, c"):
        load_model(path, "cpu", (3, 16, 16), ["a", "b", "c"])


def test_a_torchscript_model_is_loaded_and_checked(tmp_path):
    from explainers.model import CheckpointError, load_model

    path = tmp_path / "own.pt"
    torch.jit.save(torch.jit.script(_Tiny()), str(path))
    assert load_model(path, "cpu", (3, 12, 12), ["a", "b"])(torch.zeros(1, 432)).shape == (1, 2)
    with pytest.raises(
        CheckpointError, match="gives outputs of shape \\(2,\\) per image, but the data set has 3 classes"
    ):
        load_model(path, "cpu", (3, 12, 12), ["a", "b", "c"])
    with pytest.raises(CheckpointError, match="does not take images of 1 x 28 x 28"):
        load_model(path, "cpu", (1, 28, 28), ["a", "b"])


def test_a_state_dict_is_loaded_into_the_class_named(tmp_path):
    from explainers.model import CheckpointError, load_model

    path = tmp_path / "state.pt"
    torch.save(_Tiny().state_dict(), path)
    model = load_model(path, "cpu", (3, 12, 12), ["a", "b"], model_class=f"{__name__}:_Tiny")
    assert isinstance(model, _Tiny)
    with pytest.raises(CheckpointError, match="write module:Class"):
        load_model(path, "cpu", (3, 12, 12), ["a", "b"], model_class="_Tiny")
    with pytest.raises(CheckpointError, match="cannot be imported"):
        load_model(path, "cpu", (3, 12, 12), ["a", "b"], model_class="no.such.module:Net")
    with pytest.raises(CheckpointError, match="not a state_dict of"):
        load_model(path, "cpu", (3, 12, 12), ["a", "b"], model_class="torch.nn:Identity")
