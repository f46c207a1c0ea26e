import json
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from explainers import cli
from explainers import compute as compute_settings
from explainers.executor import ExecutorError, default_executor
from explainers.generation import GenerationConfig, generate, method_options
from explainers.methods import registry
from explainers.model import file_sha256
from explainers.services import SET_NAME, SetInUse, check_replaceable, register_explanation_set


class Command(BaseCommand):
    help = (
        f"Compute local LIME explanations and the class-level maps of every registered method "
        f"({', '.join(m.label for m in registry.METHODS)}), "
        "write them with PNGs and a manifest to --out, and register the set for the survey. Any image data set "
        "(--data): the maps are one channel, a map per class, and the set records the classes and image shape."
    )

    def add_arguments(self, parser):
        d = GenerationConfig()
        parser.add_argument("--out", default=None, help=f"output folder (default {cli.default_explanations_dir()})")
        parser.add_argument(
            "--model", default=None, help=f"checkpoint or TorchScript file (default {cli.default_model_path()})"
        )
        cli.add_model_class_option(parser)
        parser.add_argument("--name", default=None, help="name of the set in the database (default: the folder's name)")
        parser.add_argument(
            "--per-class", type=int, default=d.per_class, help="local explanations per class (default %(default)s)"
        )
        parser.add_argument(
            "--num-samples", type=int, default=d.num_samples, help="LIME samples per explanation (default %(default)s)"
        )
        parser.add_argument(
            "--num-features",
            type=int,
            default=d.num_features,
            help="K, features per local explanation (default %(default)s)",
        )
        parser.add_argument(
            "--sigma", type=float, default=d.sigma, help="LIME sampling noise in pixel units (default %(default)s)"
        )
        parser.add_argument(
            "--images-per-class",
            type=int,
            default=d.images_per_class,
            help="training images per class for the per-image methods (SmoothGrad², SHAP...; default %(default)s)",
        )
        parser.add_argument(
            "--option",
            action="append",
            default=[],
            metavar="METHOD.KEY=VALUE",
            help="replace one of a method's registry options, e.g. shap.patch=4 (repeatable)",
        )
        parser.add_argument(
            "--batch-size", type=int, default=d.batch_size, help="rows per forward pass (default %(default)s)"
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=1,
            help="LIME batches in parallel: a Dask LocalCluster of this many one-thread worker processes "
            "(default 1: this process, with all its threads)",
        )
        parser.add_argument(
            "--scheduler",
            default=None,
            help="a Dask scheduler (tcp://HOST:8786) whose workers compute the LIME batches (see docs/kar.md)",
        )
        cli.add_common_options(parser)
        cli.add_precision_option(parser)

    def handle(self, *args, **opts):
        for name in ("per_class", "num_samples", "num_features", "sigma", "images_per_class", "batch_size", "jobs"):
            cli.positive(name.replace("_", "-"), opts[name])
        out = Path(opts["out"]) if opts["out"] else cli.default_explanations_dir()
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out}: exists and is not a folder")
        name = opts["name"] or out.resolve().name
        if not SET_NAME.match(name):
            raise CommandError(f"--name {name!r}: use letters, digits, '-' and '_' only")
        try:
            check_replaceable(name)
        except SetInUse as exc:
            raise CommandError(str(exc)) from None
        model_path = Path(opts["model"]) if opts["model"] else cli.default_model_path()
        device = cli.device(opts["device"])
        compute = cli.compute(opts["precision"], device)
        data = cli.load_data(opts)
        model = cli.load_model(model_path, device, data, opts["model_class"])
        config = GenerationConfig(
            per_class=opts["per_class"],
            num_samples=opts["num_samples"],
            num_features=opts["num_features"],
            sigma=opts["sigma"],
            images_per_class=opts["images_per_class"],
            batch_size=opts["batch_size"],
            seed=opts["seed"],
            options=parse_options(opts["option"]),
        )
        try:
            for method in registry.METHODS:  # unknown options fail now, not after the LIME stage
                method_options(method, config)
        except ValueError as exc:
            raise CommandError(f"--option: {exc}") from None
        quiet = opts["verbosity"] == 0
        start = time.perf_counter()
        bars = {}

        def progress(key, desc, unit):
            def update(done, total):
                if key not in bars:
                    bars[key] = tqdm(total=total, desc=desc, unit=unit, disable=quiet)
                bars[key].update(done - bars[key].n)

            return update

        # The LIME weights are cached as they come and the set's files are written all or none, so a
        # full disk stops in one line and the same command resumes from the cache.
        try:
            with cli.stops_on_a_full_disk(out, resumes=True), compute_settings.using(compute):
                result = generate(
                    model,
                    file_sha256(model_path),
                    data,
                    out,
                    config,
                    lime_progress=progress("lime", "LIME local explanations", "expl"),
                    image_progress=lambda what, done, total: progress(what, what, "img")(done, total),
                    executor=default_executor(opts["jobs"], opts["scheduler"]),
                    manifest_extra={
                        "model": {"path": str(model_path.resolve())},
                        "device": str(device),
                        "versions": cli.versions(),
                        "name": name,
                    },
                )
        except ExecutorError as exc:
            raise CommandError(str(exc)) from None
        finally:
            for bar in bars.values():
                bar.close()
        manifest = result.manifest
        explanation_set = register_explanation_set(name, out, result.maps, manifest)
        seconds = time.perf_counter() - start
        pictures = explanation_set.maps.count()
        resumed = f" (resumed after {result.resumed_from} cached)" if result.resumed_from else ""
        self.stdout.write(
            self.style.SUCCESS(
                f"Explained {manifest['explained']['local_explanations']} images{resumed} in {seconds:.0f} s; "
                f"wrote maps.npz, local_weights.npz, {pictures} PNGs and overview.png to {out}; "
                f"registered set '{explanation_set.name}' ({explanation_set.get_absolute_url()})."
            )
        )


def parse_options(items: list[str]) -> dict[str, dict]:
    """``["shap.patch=4"]`` -> ``{"shap": {"patch": 4}}`` (values read as JSON, else kept as text)."""
    options: dict[str, dict] = {}
    for item in items:
        key, sep, text = item.partition("=")
        method, dot, name = key.strip().partition(".")
        if not (sep and dot and method and name):
            raise CommandError(f"--option {item!r}: write METHOD.KEY=VALUE, e.g. shap.patch=4")
        if method not in registry.names():
            raise CommandError(f"--option {item!r}: unknown method {method!r} (known: {', '.join(registry.names())})")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        options.setdefault(method, {})[name] = value
    return options
