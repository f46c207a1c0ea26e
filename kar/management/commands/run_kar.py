"""manage.py run_kar: the paper's Keep-And-Retrain evaluation (Fig. 5-6), resumable, on CPU or GPU."""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import numpy as np
from django.core.management.base import BaseCommand, CommandError

from explainers import cli
from explainers.model import CheckpointError, file_sha256, load_checkpoint
from kar.core import report as kar_report
from kar.core.errors import KarError
from kar.core.masking import MODES
from kar.core.rankings import METHODS, LocalWeights
from kar.core.runner import run_kar
from kar.core.spaces import FEATURE_SETS, conv_space, explained_models, pixel_space
from kar.core.spec import DEFAULT_SETTINGS as DEFAULTS
from kar.core.spec import PAPER_SETTINGS as PAPER
from kar.core.spec import KarSpec
from kar.core.store import MANIFEST, RANKINGS, RESULTS, SUMMARY
from kar.locations import kar_root


class Command(BaseCommand):
    help = (
        "Keep-And-Retrain (or --mode roar): rank pixels and conv features by each method, remove the least "
        "important, retrain, and report the error gain per method and threshold (paper Fig. 5-6)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--model", default=None, help=f"checkpoint to explain (default {cli.default_model_path()})")
        parser.add_argument(
            "--explanations", default="auto",
            help="ExplanationSet whose local_weights.npz gives the pixel LIME/NormLIME rankings: a name, "
            "'auto' (the newest set of this model, if any; default) or 'none' (compute them here)",
        )
        parser.add_argument("--out", default=None, help=f"output folder (default {kar_root()}/<mode>-default or <mode>-paper)")
        parser.add_argument("--feature-sets", default=",".join(FEATURE_SETS), help="comma list of pixels, conv (default both)")
        parser.add_argument("--methods", default=",".join(METHODS), help="comma list (default all six)")
        parser.add_argument("--thresholds", default=None, help=f"comma list of %% removed, each 1-99 (default {','.join(map(str, DEFAULTS['thresholds']))}; --paper 10,20,...,90)")
        parser.add_argument("--runs", type=int, default=None, help=f"independent retrainings per cell (default {DEFAULTS['runs']}; --paper {PAPER['runs']})")
        parser.add_argument("--epochs", type=int, default=None, help=f"training epochs per cell (default {DEFAULTS['epochs']}; --paper {PAPER['epochs']})")
        parser.add_argument("--mode", choices=MODES, default="kar", help="kar: remove least important first (paper); roar: most important first")
        parser.add_argument("--paper", action="store_true", help="the paper's grid: 9 thresholds x 5 runs, full training, larger ranking samples")
        parser.add_argument("--restart", action="store_true", help="discard the results already in --out instead of resuming")
        parser.add_argument("--jobs", type=int, default=None, help="cells trained in parallel processes (default: CPU cores; 1 on a GPU)")
        parser.add_argument("--label", default=None, help="a description of the run kept in its manifest and shown on the KAR page (e.g. what it is for)")
        for name, what in (
            ("lime-per-class", "local LIME explanations per class when computed here"),
            ("lime-samples", "LIME perturbations per explanation"),
            ("noise-per-class", "SmoothGrad/VarGrad images per class"),
            ("noise-samples", "SmoothGrad/VarGrad noise samples per image"),
            ("shap-per-class", "Kernel SHAP images per class"),
            ("shap-samples", "Kernel SHAP coalitions per image"),
        ):
            key = name.replace("-", "_")
            parser.add_argument(f"--{name}", type=int, default=None, help=f"{what} (default {DEFAULTS[key]}; --paper {PAPER[key]})")
        cli.add_common_options(parser)

    def handle(self, *args, **opts):
        spec = spec_from_options(opts)
        feature_sets, methods, thresholds = spec.feature_sets, spec.methods, spec.thresholds
        device = cli.device(opts["device"])
        jobs = opts["jobs"] if opts["jobs"] is not None else (1 if device.type == "cuda" else available_cpus())
        cli.positive("jobs", jobs)
        out = Path(opts["out"]) if opts["out"] else kar_root() / f"{spec.mode}-{'paper' if opts['paper'] else 'default'}"
        if out.exists() and not out.is_dir():
            raise CommandError(f"--out {out}: exists and is not a folder")

        model_path = Path(opts["model"]) if opts["model"] else cli.default_model_path()
        try:
            checkpoint = load_checkpoint(model_path, device)
        except CheckpointError as exc:
            raise CommandError(str(exc)) from None
        model_sha = file_sha256(model_path)
        needs_lime = "pixels" in feature_sets and {"normlime", "lime"} & set(methods)
        explanations = resolve_explanations(opts["explanations"], model_sha, needs_lime)
        data = cli.load_data(opts["mnist_dir"])

        quiet = opts["verbosity"] == 0
        start = time.perf_counter()
        spaces = {"pixels": pixel_space(data)} if "pixels" in feature_sets else {}
        if "conv" in feature_sets:
            spaces["conv"] = conv_space(data, checkpoint)
        inputs = {
            "model_sha256": model_sha,
            "data": data.describe(),
            "local_weights": explanations.source if explanations else None,
        }
        extra = {
            "model": {"path": str(model_path.resolve()), "sha256": model_sha},
            "explanation_set": explanations.source if explanations else None,
            "data": data.describe(),
            "versions": cli.versions(),
            "command": "manage.py run_kar " + " ".join(sys.argv[2:]) if len(sys.argv) > 1 and sys.argv[1] == "run_kar" else "run_kar",
            "error_gain": "retrained test error - retrained baseline (0 % removed, same seed and training) test error, "
            "in percentage points",
        }
        if opts.get("label"):
            extra["label"] = opts["label"]  # a description only: not part of the fingerprint, so a rerun may relabel
        self.stdout.write(
            f"KAR ({spec.mode}) into {out}: {len(spec.cells())} cells "
            f"({len(feature_sets)} feature sets x {len(methods)} methods x {len(thresholds)} thresholds x {spec.runs} runs "
            f"+ baselines), {spec.train.epochs} epochs each, on {device} with {jobs} job{'s' if jobs > 1 else ''}; "
            f"pixel LIME weights: {explanations.source['name'] if explanations else 'computed here'}."
        )
        try:
            outcome = run_kar(
                spec, spaces, explained_models(checkpoint), out,
                inputs=inputs, local_weights={"pixels": explanations} if explanations else None,
                device=device, jobs=jobs, restart=opts["restart"], progress=not quiet, manifest_extra=extra,
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
        self.stdout.write(kar_report.text_tables(report.summary))
        seconds = time.perf_counter() - start
        figures = ", ".join(name for _, name in report.figures)
        self.stdout.write(
            self.style.SUCCESS(
                f"KAR done: {outcome.ran} cells trained now, {outcome.skipped} reused from an earlier run, "
                f"in {kar_report.format_seconds(seconds)}. Wrote {RESULTS}, {SUMMARY}, {figures}, "
                f"{RANKINGS} and {MANIFEST} to {out}."
            )
        )


def spec_from_options(opts: dict) -> KarSpec:
    """The grid and configuration: explicit options over --paper's values over the defaults."""
    paper = bool(opts.get("paper"))
    overrides = {k: opts[k] for k in DEFAULTS if k != "thresholds" and opts.get(k) is not None}
    for key, value in overrides.items():
        cli.positive(key.replace("_", "-"), value)
    if opts.get("thresholds") is not None:
        overrides["thresholds"] = parse_thresholds(opts["thresholds"])
    try:
        return KarSpec.preset(
            paper,
            feature_sets=parse_names("feature-sets", opts.get("feature_sets") or ",".join(FEATURE_SETS), FEATURE_SETS),
            methods=parse_names("methods", opts.get("methods") or ",".join(METHODS), METHODS),
            seed=opts.get("seed", 0),
            mode=opts.get("mode", "kar"),
            **overrides,
        )
    except KarError as exc:
        raise CommandError(str(exc)) from None


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


def resolve_explanations(choice: str, model_sha: str, needed) -> LocalWeights | None:
    """The pixel local LIME weights of an ExplanationSet of this model, or None to compute them."""
    from explainers.models import ExplanationSet

    if choice == "none":
        return None
    if choice == "auto":
        if not needed:
            return None
        for candidate in ExplanationSet.objects.filter(model_sha256=model_sha).order_by("-created_at"):
            if (Path(candidate.directory) / "local_weights.npz").is_file():
                try:
                    return load_local_weights(candidate, model_sha)
                except CommandError:
                    continue
        return None
    explanation_set = ExplanationSet.objects.filter(name=choice).first()
    if explanation_set is None:
        known = ", ".join(ExplanationSet.objects.values_list("name", flat=True)[:10]) or "none yet"
        raise CommandError(f"--explanations {choice}: no ExplanationSet of that name (known: {known}; or 'auto', 'none')")
    return load_local_weights(explanation_set, model_sha)


def load_local_weights(explanation_set, model_sha: str) -> LocalWeights:
    path = Path(explanation_set.directory) / "local_weights.npz"
    name = explanation_set.name
    if explanation_set.model_sha256 and explanation_set.model_sha256 != model_sha:
        raise CommandError(
            f"--explanations {name}: made with model {explanation_set.model_sha256[:12]}, not --model's {model_sha[:12]}"
        )
    try:
        with np.load(path, allow_pickle=False) as f:
            W = np.asarray(f["W"], dtype=np.float64)
    except (OSError, ValueError, KeyError) as exc:
        raise CommandError(f"--explanations {name}: {path} is missing or unreadable ({type(exc).__name__})") from None
    if W.ndim != 2 or W.shape[1] != 784 or not len(W) or not np.isfinite(W).all():
        raise CommandError(f"--explanations {name}: {path} holds W of shape {W.shape}; expected (n, 784) finite weights")
    return LocalWeights(W, {"name": name, "path": str(path), "sha256": file_sha256(path), "explanations": len(W)})
