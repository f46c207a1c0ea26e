"""manage.py run_kar: the paper's Keep-And-Retrain evaluation (Fig. 5-6), resumable, on CPU or GPU."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from explainers import cli
from explainers.compute import DEFAULT_PRECISION
from explainers.data import EMBEDDED_TRAIN_SIZE
from explainers.methods import registry
from explainers.model import file_sha256
from kar.core import rankers
from kar.core import report as kar_report
from kar.core.errors import KarError
from kar.core.masking import MODES
from kar.core.runner import run_kar
from kar.core.spaces import FEATURE_SETS, conv_space, explained_models, has_conv_features, pixel_space
from kar.core.spec import DEFAULT_SETTINGS as DEFAULTS
from kar.core.spec import PAPER_SETTINGS, KarSpec, data_fingerprint, set_fingerprint
from kar.core.store import COMPARISONS, MANIFEST, RANKINGS, REPORT_MD, RESULTS, SUMMARY, VERDICTS
from kar.locations import kar_root

#: The cells' training images without --train-size: as many as the embedded subset's, so a cell costs the same
#: on any data set.
TRAIN_SIZE = EMBEDDED_TRAIN_SIZE


class Command(BaseCommand):
    help = (
        "Keep-And-Retrain (or --mode roar): rank pixels and conv features by each method, remove the least "
        "important, retrain, and report the error gain per method and threshold (paper Fig. 5-6)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--model",
            default=None,
            help=f"the model to explain (default {cli.default_model_path()}): our checkpoint for --data's images, "
            "a TorchScript file, or a state_dict with --model-class (pixels only: conv features need our CNN). "
            "Cells always retrain the paper's CNN built for the data set's image shape and classes",
        )
        cli.add_model_class_option(parser)
        parser.add_argument(
            "--explanations",
            default="auto",
            help="the ExplanationSet this run is checked against (same model, same data fingerprint): a name, "
            "'auto' (the newest set of this model, if any; default) or 'none'. Rankings are always computed "
            "here, from the same --per-class images for every method",
        )
        parser.add_argument(
            "--out", default=None, help=f"output folder (default {kar_root()}/<mode>-default or <mode>-paper)"
        )
        parser.add_argument(
            "--feature-sets", default=",".join(FEATURE_SETS), help="comma list of pixels, conv (default both)"
        )
        methods = registry.names(kar=True)
        parser.add_argument(
            "--methods",
            default=",".join(methods),
            help=f"comma list (default all {len(methods)} methods of the registry: {','.join(methods)}; "
            f"KAR's own variants too: {','.join(rankers.variant_names())})",
        )
        parser.add_argument(
            "--confounds",
            action="store_true",
            help="add KAR's variants to --methods: NormLIME and LIME from standardised weights and from LIME "
            "fitted to log-probabilities, and the feature-variance baseline (see docs/kar.md)",
        )
        parser.add_argument(
            "--thresholds",
            default=None,
            help=f"comma list of %% removed, each 1-99 (default {','.join(map(str, DEFAULTS['thresholds']))}; --paper 10,20,...,90)",
        )
        parser.add_argument(
            "--runs",
            type=int,
            default=None,
            help=f"independent retrainings per cell (default {DEFAULTS['runs']}; --paper {PAPER_SETTINGS['runs']})",
        )
        parser.add_argument(
            "--epochs",
            type=int,
            default=None,
            help=f"training epochs per cell (default {DEFAULTS['epochs']}; --paper {PAPER_SETTINGS['epochs']})",
        )
        parser.add_argument(
            "--mode",
            choices=MODES,
            default="kar",
            help="kar: remove least important first (paper); roar: most important first",
        )
        parser.add_argument(
            "--paper",
            action="store_true",
            help=f"the paper's grid: {len(PAPER_SETTINGS['thresholds'])} thresholds x {PAPER_SETTINGS['runs']} runs, {PAPER_SETTINGS['epochs']} epochs per cell",
        )
        parser.add_argument(
            "--restart", action="store_true", help="discard the results already in --out instead of resuming"
        )
        parser.add_argument(
            "--jobs",
            type=int,
            default=None,
            help="cells trained in parallel: a Dask LocalCluster of this many one-thread worker processes "
            "(default: CPU cores; 1 on a GPU; 1 trains in this process)",
        )
        parser.add_argument(
            "--scheduler",
            default=None,
            help="a Dask scheduler (tcp://HOST:8786) whose workers train the cells instead (see docs/kar.md)",
        )
        cli.add_precision_option(parser)
        parser.add_argument(
            "--label",
            default=None,
            help="a description of the run kept in its manifest and shown on the KAR page (e.g. what it is for)",
        )
        parser.add_argument(
            "--per-class",
            type=int,
            default=None,
            help=f"training images per class (by true label) that every method explains to rank features "
            f"(default {DEFAULTS['per_class']}; --paper {PAPER_SETTINGS['per_class']})",
        )
        for name, what in (
            ("lime-samples", "LIME perturbations per explanation"),
            ("noise-samples", "SmoothGrad/VarGrad noise samples per image"),
            ("shap-samples", "Kernel SHAP coalitions per image (default 2d + 2048; fewer than d/2 + 1 is refused)"),
        ):
            parser.add_argument(f"--{name}", type=int, default=None, help=what)
        cli.add_common_options(parser)
        cli.add_train_size_option(parser, default=TRAIN_SIZE)

    def handle(self, *args, **opts):
        spec = spec_from_options(opts)
        feature_sets, methods, thresholds = spec.feature_sets, spec.methods, spec.thresholds
        device = cli.device(opts["device"])
        cli.compute(opts.get("precision") or DEFAULT_PRECISION, device)  # bf16 without the hardware: one line
        jobs = opts["jobs"] if opts["jobs"] is not None else (1 if device.type == "cuda" else available_cpus())
        cli.positive("jobs", jobs)
        out = (
            Path(opts["out"]) if opts["out"] else kar_root() / f"{spec.mode}-{'paper' if opts['paper'] else 'default'}"
        )
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out}: exists and is not a folder")

        model_path = Path(opts["model"]) if opts["model"] else cli.default_model_path()
        data = cli.train_subset(cli.load_data(opts), opts.get("train_size"), default=TRAIN_SIZE)
        checkpoint = cli.load_model(model_path, device, data, opts.get("model_class"))
        if "conv" in feature_sets and not has_conv_features(checkpoint):
            raise CommandError(
                f"--feature-sets conv: --model {model_path.name} is not the paper's CNN (no features block and "
                "head to take conv features from, as train_model's checkpoints have); use --feature-sets pixels"
            )
        model_sha = file_sha256(model_path)
        explanations = resolve_explanations(opts["explanations"], model_sha, warn=lambda m: self.stderr.write(m))
        data_check = check_data(data.describe(), model_path, explanations)

        quiet = opts["verbosity"] == 0
        start = time.perf_counter()
        spaces = {"pixels": pixel_space(data)} if "pixels" in feature_sets else {}
        if "conv" in feature_sets:
            spaces["conv"] = conv_space(data, checkpoint)
        inputs = {
            "model_sha256": model_sha,
            "data": data.describe(),
            "data_fingerprint": data_check["data_fingerprint"],
        }
        extra = {
            "model": {"path": str(model_path.resolve()), "sha256": model_sha},
            "explanation_set": explanations,
            "data": data.describe(),
            "data_check": data_check,
            "versions": cli.versions(),
            "command": "manage.py run_kar " + " ".join(sys.argv[2:])
            if len(sys.argv) > 1 and sys.argv[1] == "run_kar"
            else "run_kar",
            "error_gain": "retrained test error - retrained baseline (0 % removed, same seed and training) test error, "
            "in percentage points",
            "original_model": original_model(checkpoint, data),
        }
        if opts.get("label"):
            extra["label"] = opts["label"]  # a description only: not part of the fingerprint, so a rerun may relabel
        self.stdout.write(
            f"KAR ({spec.mode}) into {out}: {len(spec.cells())} cells "
            f"({len(feature_sets)} feature sets x {len(methods)} methods x {len(thresholds)} thresholds x {spec.runs} runs "
            f"+ baselines), {spec.train.epochs} epochs each, on {device} with {jobs} job{'s' if jobs > 1 else ''}; "
            f"checked against explanation set: {explanations['name'] if explanations else 'none'}."
        )
        # Every cell is in results.csv as soon as it is trained and every other file is written whole,
        # so a full disk stops in one line and the same command resumes.
        with cli.stops_on_a_full_disk(out, resumes=True):
            try:
                outcome = run_kar(
                    spec,
                    spaces,
                    explained_models(checkpoint),
                    out,
                    inputs=inputs,
                    device=device,
                    jobs=jobs,
                    scheduler=opts["scheduler"],
                    restart=opts["restart"],
                    progress=not quiet,
                    manifest_extra=extra,
                )
            except KarError as exc:
                raise CommandError(str(exc)) from None
            except KeyboardInterrupt:
                report = _partial_report(out)
                raise CommandError(
                    f"interrupted: {len(report.results) if report else 0} cells are saved in {out / RESULTS}; "
                    "run the same command again to resume"
                ) from None
            report = kar_report.write_report(out)
        self.stdout.write(kar_report.console_text(report))
        seconds = time.perf_counter() - start
        figures = ", ".join(name for _, name in report.figures)
        self.stdout.write(
            self.style.SUCCESS(
                f"KAR done: {outcome.ran} cells trained now, {outcome.skipped} reused from an earlier run, "
                f"in {kar_report.format_seconds(seconds)}. Wrote {RESULTS}, {SUMMARY}, {COMPARISONS}, {VERDICTS + ', ' if report.verdicts else ''}{REPORT_MD}, {figures}, "
                f"{RANKINGS} and {MANIFEST} to {out}."
            )
        )


def original_model(checkpoint, data) -> dict:
    """The explained checkpoint's own accuracy on the run's test images (the claims' "original model")."""
    from explainers.model import accuracy

    return {
        "accuracy": round(accuracy(checkpoint, data.x_test, data.y_test), 6),
        "test_images": len(data.y_test),
        "what": "the explained checkpoint (--model), trained once on all features, on the same test images",
    }


def spec_from_options(opts: dict) -> KarSpec:
    """The grid and configuration: explicit options over --paper's values over the defaults."""
    paper = bool(opts.get("paper"))
    keys = (*DEFAULTS, "lime_samples", "noise_samples", "shap_samples")
    overrides = {k: opts[k] for k in keys if k != "thresholds" and opts.get(k) is not None}
    for key, value in overrides.items():
        cli.positive(key.replace("_", "-"), value)
    if opts.get("thresholds") is not None:
        overrides["thresholds"] = parse_thresholds(opts["thresholds"])
    try:
        return KarSpec.preset(
            paper,
            feature_sets=parse_names("feature-sets", opts.get("feature_sets") or ",".join(FEATURE_SETS), FEATURE_SETS),
            methods=_methods(opts),
            seed=opts.get("seed", 0),
            mode=opts.get("mode", "kar"),
            precision=opts.get("precision") or DEFAULT_PRECISION,
            **overrides,
        )
    except KarError as exc:
        raise CommandError(str(exc)) from None


def _methods(opts: dict) -> tuple[str, ...]:
    methods = parse_names("methods", opts.get("methods") or ",".join(registry.names(kar=True)), rankers.names())
    if opts.get("confounds"):
        methods += tuple(v for v in rankers.variant_names() if v not in methods)
    return methods


def _partial_report(out: Path):
    try:
        return kar_report.write_report(out)
    except Exception:  # the report of an interrupted run is a courtesy; never hide the interruption
        return None


def available_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


def parse_names(option: str, text: str, known: tuple[str, ...]) -> tuple[str, ...]:
    names = tuple(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    if not names:
        raise CommandError(f"--{option}: name at least one of {', '.join(known)}")
    for name in names:
        if name not in known:
            raise CommandError(f"--{option}: unknown name {name!r} (choose from {', '.join(known)})")
    return names


def parse_thresholds(text: str) -> tuple[int, ...]:
    values = []
    for part in (p.strip() for p in text.split(",")):
        try:
            value = int(part)
        except ValueError:
            raise CommandError(f"--thresholds: {part!r} is not a whole number of percent") from None
        if not 1 <= value <= 99:
            raise CommandError(f"--thresholds: {value} is outside 1-99 (percent of features removed)")
        values.append(value)
    if not values:
        raise CommandError("--thresholds: give at least one percentage")
    return tuple(sorted(set(values)))


def resolve_explanations(choice: str, model_sha: str, warn=None) -> dict | None:
    """The provenance of the ExplanationSet this run is checked against (same model), or None.

    Without a usable database (e.g. a fresh checkout never migrated), 'auto' finds none and says
    so through ``warn``; a named set is a one-line error.
    """
    from django.db import DatabaseError

    if choice == "none":
        return None
    try:
        return _explanation_set(choice, model_sha)
    except DatabaseError as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if choice == "auto":
            if warn is not None:
                warn(
                    f"no explanation set to check against: the database cannot be read ({reason}; "
                    "run manage.py migrate); the model's data is still checked"
                )
            return None
        raise CommandError(
            f"--explanations {choice}: the database cannot be read ({reason}); run manage.py migrate"
        ) from None


def _explanation_set(choice: str, model_sha: str) -> dict | None:
    from explainers.models import ExplanationSet

    if choice == "auto":
        explanation_set = ExplanationSet.objects.filter(model_sha256=model_sha).order_by("-created_at").first()
        if explanation_set is None:
            return None
    else:
        explanation_set = ExplanationSet.objects.filter(name=choice).first()
        if explanation_set is None:
            known = ", ".join(ExplanationSet.objects.values_list("name", flat=True)[:10]) or "none yet"
            raise CommandError(
                f"--explanations {choice}: no ExplanationSet of that name (known: {known}; or 'auto', 'none')"
            )
    name = explanation_set.name
    if explanation_set.model_sha256 and explanation_set.model_sha256 != model_sha:
        raise CommandError(
            f"--explanations {name}: made with model {explanation_set.model_sha256[:12]}, not --model's {model_sha[:12]}"
        )
    data = (explanation_set.manifest or {}).get("data")
    return {
        "name": name,
        "model_sha256": explanation_set.model_sha256,
        "data_fingerprint": set_fingerprint(data) if data else None,
    }


def check_data(described: dict, model_path: Path, explanations: dict | None) -> dict:
    """The model, the explanation set and this run must come from the same data; else a one-line error.

    The model's data is read from its training manifest (``<checkpoint>.json``, written by
    ``train_model``); a checkpoint without one cannot be checked, which the run's manifest says.
    """
    mine = data_fingerprint(described)
    check = {"data_fingerprint": mine}
    whole = set_fingerprint(described)  # a --train-size subset is checked as the set it is drawn from
    try:
        model_data = json.loads(Path(f"{model_path}.json").read_text(encoding="utf-8")).get("data")
    except (OSError, ValueError, AttributeError):
        model_data = None
    if model_data is None:
        check["model"] = "not checked: the checkpoint has no training manifest with its data"
    elif set_fingerprint(model_data) != whole:
        raise CommandError(
            f"--model {model_path.name} was trained on other data ({model_data.get('source', '?')}, fingerprint "
            f"{set_fingerprint(model_data)}) than this run's ({described.get('source', '?')}, {whole}); pass the model's --data (or --mnist-dir) to match"
        )
    else:
        check["model"] = "same data"
    if explanations is not None:
        theirs = explanations.get("data_fingerprint")
        if theirs is not None and theirs != whole:
            raise CommandError(
                f"--explanations {explanations['name']}: made from other data (fingerprint {theirs}) than this run's "
                f"({whole}); pass the set's --data (or --mnist-dir) to match or --explanations none"
            )
        check["explanation_set"] = "same data" if theirs else "not checked: the set records no data"
    return check
