"""Fixtures shared across the suite: small MNIST files and a tiny trained network."""

import shutil
from pathlib import Path

import numpy as np
import pytest

from explainers.data import load_embedded, write_idx


def _tiny_arrays(train_per_class: int = 40, test_per_class: int = 10):
    """Real digits taken from the embedded subset, as uint8 images (so files look like MNIST's)."""
    data = load_embedded()
    rng = np.random.default_rng(0)

    def take(x, y, per_class):
        idx = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)])
        idx = rng.permutation(idx)
        return (x[idx] * 255).round().astype(np.uint8).reshape(-1, 28, 28), y[idx].astype(np.uint8)

    return take(data.x_train, data.y_train, train_per_class) + take(data.x_test, data.y_test, test_per_class)


@pytest.fixture(scope="session")
def tiny_mnist_dir(tmp_path_factory) -> Path:
    """400 training and 100 test digits written as the four official IDX files (gzipped)."""
    root = tmp_path_factory.mktemp("mnist")
    x_train, y_train, x_test, y_test = _tiny_arrays()
    write_idx(root / "train-images-idx3-ubyte.gz", x_train)
    write_idx(root / "train-labels-idx1-ubyte.gz", y_train)
    write_idx(root / "t10k-images-idx3-ubyte.gz", x_test)
    write_idx(root / "t10k-labels-idx1-ubyte.gz", y_test)
    return root


@pytest.fixture(scope="session")
def tiny_model_path(tiny_mnist_dir, tmp_path_factory) -> Path:
    """A network trained for eight epochs on the tiny files (weak but real)."""
    from explainers.data import load_mnist
    from explainers.model import TrainConfig, new_model, save_checkpoint, train

    data = load_mnist(tiny_mnist_dir)
    model = train(new_model(0), data.x_train, data.y_train, config=TrainConfig(epochs=8), seed=0)
    path = tmp_path_factory.mktemp("model") / "tiny.pt"
    save_checkpoint(model, path)
    return path


@pytest.fixture(scope="session")
def shapes_dir(tmp_path_factory) -> Path:
    """The example image folder: three named RGB classes (circle, square, triangle) at 32 x 32,
    12 images each, drawn by explainers.example_images (read-only: copy it to change it)."""
    from explainers.example_images import write_example_folder

    return write_example_folder(tmp_path_factory.mktemp("shapes"), per_class=12)


@pytest.fixture
def small_volume(tmp_path):
    """``small_volume("256k")``: a tmpfs of that size mounted for the test (a disk that really fills
    up), unmounted after it; the test is skipped where mounting is not permitted. See tests/disk.py."""
    from tests.disk import SmallVolume

    volumes = []

    def mount(size: str) -> SmallVolume:
        volumes.append(SmallVolume(tmp_path / f"volume-{len(volumes)}"))
        return volumes[-1].mount(size)

    yield mount
    for volume in volumes:
        volume.unmount()


@pytest.fixture
def staff_user(db, django_user_model):
    """A researcher: a staff member, who may open the research pages."""
    return django_user_model.objects.create_user("staff", password="x", is_staff=True)


@pytest.fixture
def staff_client(client, staff_user):
    """A researcher's browser, logged in as :func:`staff_user`."""
    client.force_login(staff_user)
    return client


#: Fixtures that train a network or hand one out trained for the session: a test using one is ``slow``.
TRAINING_FIXTURES = frozenset({"tiny_model_path", "explained"})


def pytest_collection_modifyitems(items):
    """Mark ``slow`` every test that needs a trained network (the rest is ``make test-fast``'s loop)."""
    for item in items:
        if TRAINING_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium, one per test module (see tests/browser.py)."""
    from tests.browser import CHROME_FLAGS, CHROMEDRIVER, CHROMIUM

    missing = [
        path for path in (CHROMIUM, CHROMEDRIVER) if not Path(path).exists() and not shutil.which(Path(path).name)
    ]
    if missing:
        pytest.fail(
            f"{' and '.join(missing)} not found: install Debian's chromium and chromium-driver "
            "(apt-get install -y chromium chromium-driver); the project's set-up does this"
        )
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()
