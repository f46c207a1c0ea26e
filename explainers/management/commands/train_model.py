import hashlib
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from explainers import cli
from explainers import compute as compute_settings
from explainers.files import atomic_write_all, to_json
from explainers.model import TrainConfig, accuracy, architecture, checkpoint_bytes, new_model, train


class Command(BaseCommand):
    help = (
        "Train the paper's CNN (for MNIST, or built for --data's image shape and classes) and save the checkpoint "
        "with a JSON manifest beside it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--out", default=None, help=f"checkpoint path (default {cli.default_model_path()})")
        parser.add_argument(
            "--epochs", type=int, default=TrainConfig.epochs, help="training epochs (default %(default)s)"
        )
        cli.add_common_options(parser)
        cli.add_train_size_option(parser)
        cli.add_precision_option(parser)

    def handle(self, *args, **opts):
        cli.positive("epochs", opts["epochs"])
        out = Path(opts["out"]) if opts["out"] else cli.default_model_path()
        if out.is_dir():
            raise CommandError(f"--out {out}: is a directory (expected a file path such as {out / 'mnist_cnn.pt'})")
        device = cli.device(opts["device"])
        compute = cli.compute(opts["precision"], device)
        data = cli.train_subset(cli.load_data(opts), opts["train_size"])
        config = TrainConfig(epochs=opts["epochs"])
        start = time.perf_counter()
        try:
            model = new_model(opts["seed"], shape=data.shape, n_classes=data.n_classes)
        except ValueError as exc:  # images too small for two conv blocks
            raise CommandError(f"--data: {exc}") from None
        with tqdm(total=config.epochs, desc="training", unit="epoch", disable=opts["verbosity"] == 0) as bar:

            def progress(epoch, loss):
                bar.set_postfix(loss=f"{loss:.4f}")
                bar.update(1)

            with compute_settings.using(compute):
                train(
                    model,
                    data.x_train,
                    data.y_train,
                    config=config,
                    seed=opts["seed"],
                    device=device,
                    progress=progress,
                )
                test_accuracy = accuracy(model, data.x_test, data.y_test)
        seconds = time.perf_counter() - start
        checkpoint = checkpoint_bytes(model.cpu(), data.classes)  # the state dict loads into either memory format
        manifest = {
            "checkpoint": str(out),
            "sha256": hashlib.sha256(checkpoint).hexdigest(),
            "architecture": architecture(model),
            "data": data.describe(),
            "test_accuracy": test_accuracy,
            "seed": opts["seed"],
            "epochs": config.epochs,
            "training": {
                "batch_size": config.batch_size,
                "lr": config.lr,
                "optimizer": "Adam + cosine",
                "shift": config.shift,
            },
            "device": str(device),
            "compute": compute.describe(),
            "versions": cli.versions(),
            "seconds": round(seconds, 2),
        }
        manifest_path = Path(f"{out}.json")
        # Both or neither: a checkpoint is never left beside another training's manifest. Training is
        # not saved along the way, so a rerun after a full disk trains again (it does not resume).
        with cli.stops_on_a_full_disk(out, resumes=False):
            out.parent.mkdir(parents=True, exist_ok=True)
            atomic_write_all({out: checkpoint, manifest_path: to_json(manifest)})
        self.stdout.write(
            self.style.SUCCESS(
                f"Trained for {config.epochs} epochs in {seconds:.0f} s: test accuracy {test_accuracy:.2%} "
                f"on {len(data.y_test)} held-out images. Saved {out} and {manifest_path.name}."
            )
        )
