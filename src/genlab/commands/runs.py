"""genlab info, report, compare and serve: looking at runs."""

from __future__ import annotations

import json
import time

from genlab.commands.common import (
    add_device,
    add_num_samples,
    add_output,
    add_seed,
    lazy,
    progress,
    whole,
    with_examples,
)
from genlab.errors import GenlabError

summary, html, compare = (
    lazy("genlab.report.summary"), lazy("genlab.report.html"), lazy("genlab.report.compare"),
)


def register(commands, common) -> None:
    info = commands.add_parser("info", parents=[common], help="describe a run: model, data, progress, last metrics")
    info.add_argument("run", help="run directory or model folder")
    info.add_argument("--json", action="store_true", help="print JSON instead of a table")
    info.set_defaults(handler=run_info)

    report = commands.add_parser(
        "report", parents=[common], help="one self-contained HTML page about a run (opens from disk, no network)",
        description="Summary, config, loss curves, sample grids across training, reconstructions, a latent map and the "
                    "metrics of `genlab eval` (run it first to include them), in one HTML file.")
    report.add_argument("run", help="run directory")
    report.add_argument("-o", "--output", help="the .html to write (default RUN/report.html)")
    report.add_argument("--eval", dest="eval_file", help="results JSON of genlab eval (default: the run's latest)")
    add_device(report)
    report.set_defaults(handler=run_report)

    comparison = commands.add_parser(
        "compare", parents=[common],
        help="compare generators on one dataset: quality, diversity, reconstruction, speed, size, stability",
        description="Runs that differ only in their seed are one recipe (mean and spread over seeds). Evaluation results "
                    "missing from a run's eval.json are computed and stored there; training and sampling speed are "
                    "measured side by side in this process. Writes OUTPUT.html, .md and .json.",
        **with_examples("genlab compare runs/vae-s0 runs/vae-s1 runs/vae-s2 runs/gan-s0 runs/gan-s1 runs/gan-s2 "
                        "-o vae-vs-gan.html"))
    comparison.add_argument("runs", nargs="+", metavar="RUN", help="run directories (at least two)")
    add_output(comparison, "the .html to write; .md and .json go beside it", default="compare.html")
    add_num_samples(comparison, 5000, "generated samples per run")
    add_seed(comparison)
    add_device(comparison)
    comparison.set_defaults(handler=run_compare)

    serve = commands.add_parser(
        "serve", parents=[common], help="a local web app to explore a model: samples, latent map, sliders, your own images",
        description="Serves one run in the browser: draw samples, click a 2-D map of the latent space, move sliders, "
                    "interpolate, and upload or draw an image to see its reconstruction, a denoised version and its "
                    "anomaly score. Binds to loopback unless --host says otherwise. Needs the serve extra "
                    "(pip install 'genlab[serve]').")
    serve.add_argument("run", help="run directory of an image model (ae, dae, vae, cvae, gan, cgan, ...)")
    serve.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    serve.add_argument("--port", type=whole(0, 65_535), default=8000, help="port (default 8000)")
    add_device(serve)
    serve.set_defaults(handler=run_serve)


def run_info(args) -> None:
    described = summary.run_summary(args.run)
    if args.json:  # strict JSON that any reader takes: a diverged run's NaN or infinite loss comes out as null
        print(json.dumps(json.loads(json.dumps(described), parse_constant=lambda _: None), indent=2))
        return
    width = max(len(key) for key in described)
    for key, value in described.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k} {v:.5g}" if isinstance(v, float) else f"{k} {v}" for k, v in value.items()) or "-"
        elif isinstance(value, int) and not isinstance(value, bool) and value >= 10_000:
            value = f"{value:,}"
        print(f"{key:<{width}}  {value}")


def run_report(args) -> None:
    started = time.perf_counter()
    path = html.render_report(args.run, args.output, args.eval_file, device=args.device)
    print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB, {time.perf_counter() - started:.1f} s)")


def run_compare(args) -> None:
    result = compare.compare_runs(args.runs, args.output, samples=args.num_samples, seed=args.seed, device=args.device,
                                  progress=progress(args))
    print(compare.to_markdown(result))
    output = compare.output_paths(args.output)
    print(f"wrote {', '.join(str(path) for path in output)}")


def run_serve(args) -> None:
    if not 0 < args.port < 65536:
        raise GenlabError(f"--port must be between 1 and 65535 (got {args.port})")
    lazy("genlab.serve.app").serve(args.run, args.host, args.port, device=args.device)
