"""genlab eval."""

from __future__ import annotations

from genlab.bounds import MAX_BOOTSTRAP, MAX_EVAL_K
from genlab.commands.common import add_device, add_num_samples, add_seed, lazy, progress, whole, with_examples
from genlab.errors import GenlabError

features, formatting, runner = lazy("genlab.eval.features"), lazy("genlab.eval.formatting"), lazy("genlab.eval.runner")
stored, files = lazy("genlab.eval.stored"), lazy("genlab.files")


def register(commands, common) -> None:
    parser = commands.add_parser(
        "eval", parents=[common], help="evaluate a run: likelihood, reconstruction, sample quality, probes (offline)",
        description="Evaluate a trained model on a split of its data. Every number is written with its protocol "
                    "(split, counts, seeds, k, the feature extractor's SHA-256, torch version, machine); a run "
                    "directory keeps its latest results in eval.json for reports and comparisons.",
        **with_examples("genlab eval RUN", "genlab eval RUN --metrics likelihood --k 5000 -o nll.json",
                        "genlab eval RUN --metrics quality diversity -n 10000 --sampler gmm",
                        "genlab eval --prepare-features mnist"))
    parser.add_argument("run", nargs="?", help="run directory or model folder")
    parser.add_argument("--metrics", nargs="+", metavar="GROUP",
                        help="likelihood, reconstruction, quality, diversity, representation, classification "
                             "(default: every group that applies to the model)")
    parser.add_argument("--data", help="dataset to evaluate on (default: the run's own data settings)")
    parser.add_argument("--split", default="test", choices=["train", "val", "test"], help="(default test)")
    add_num_samples(parser, 10_000, "generated samples for quality and diversity")
    parser.add_argument("--k", type=whole(1, MAX_EVAL_K), default=5000, help="importance samples per example for the NLL (default 5000)")
    parser.add_argument("--sampler", choices=["prior", "gmm"], default="prior", help="how samples are drawn (default prior)")
    parser.add_argument("--components", type=whole(1, 10_000), default=10, help="mixture components for --sampler gmm (default 10)")
    parser.add_argument("--bootstrap", type=whole(0, MAX_BOOTSTRAP), default=200, help="bootstrap resamples for intervals (0: none; default 200)")
    parser.add_argument("--limit", type=whole(1, 10**12), help="use only the first N examples of the split (quick checks)")
    add_seed(parser)
    parser.add_argument("--inception-weights", metavar="FILE",
                        help="the FID Inception weights (pt_inception-2015-12-05-*.pth): adds FID/KID in that space")
    parser.add_argument("-o", "--output", help="also write the results and protocol as JSON to this file")
    add_device(parser)
    parser.add_argument("--prepare-features", metavar="DATASET",
                        help="train and cache the reference classifier of DATASET (mnist, fashion-mnist, digits)")
    parser.add_argument("--root", help="data root for --prepare-features (default $GENLAB_DATA or ~/.cache/genlab)")
    parser.set_defaults(handler=run)


def run(args) -> None:
    if args.prepare_features:
        if args.run:
            raise GenlabError("--prepare-features trains a reference classifier; run it without a RUN argument")
        target = features.train_reference_classifier(args.prepare_features, root=args.root, progress=progress(args))
        print(f"reference classifier for {args.prepare_features} in {target} "
              f"(sha256 {features.reference_sha256(args.prepare_features, args.root)})")
        return
    if not args.run:
        raise GenlabError("name the run to evaluate (genlab eval RUN), or use --prepare-features DATASET")
    output = files.check_output_path(args.output, (".json",)) if args.output else None
    results = runner.evaluate(args.run, args.metrics, data=args.data, split=args.split, samples=args.num_samples, k=args.k,
                              seed=args.seed, sampler=args.sampler, components=args.components, bootstrap=args.bootstrap,
                              limit=args.limit, inception_weights=args.inception_weights, device=args.device,
                              progress=progress(args))
    print(formatting.format_results(results))
    if output is not None:  # the file asked for first: when it cannot be written, the run is left unchanged
        files.write_text_atomic(output, stored.results_json(results))
    stored.store_eval(args.run, results)
    if output is not None:
        print(f"wrote {output}")
