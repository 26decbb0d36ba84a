"""genlab latent: pictures of a model's code space."""

from __future__ import annotations

from genlab.bounds import MAX_PICTURE_STEPS
from genlab.commands.common import (
    add_data,
    add_device,
    add_num_samples,
    add_output,
    lazy,
    whole,
    with_examples,
)

api, latent = lazy("genlab.api"), lazy("genlab.apps.latent")


def register(commands, common) -> None:
    parser = commands.add_parser("latent", parents=[common],
                                 help="pictures of the latent space: scatter, grid, interpolation, traversal",
                                 **with_examples("genlab latent RUN --plot interpolate --index 0 7 -o morph.png",
                                                 "genlab latent RUN a.wav b.wav --plot interpolate -o morph.wav  # audio"))
    parser.add_argument("run", help="run directory or model folder")
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="files whose codes to use (images, audio clips, arrays); default: a split of --data")
    parser.add_argument("--plot", required=True, choices=["scatter", "grid", "interpolate", "traverse"])
    add_output(parser, "the .png to write, or a .wav of the decoded clips (a model of audio)")
    add_data(parser)
    add_num_samples(parser, 5000, "points in a scatter")
    parser.add_argument("--method", default="pca", choices=["pca", "tsne"], help="scatter: projection of codes over 2-D")
    parser.add_argument("--index", type=whole(0, 10**12), nargs="+", default=[0, 1],
                        help="interpolate: the two inputs (default 0 1); traverse: the input (default 0)")
    parser.add_argument("--steps", type=whole(2, MAX_PICTURE_STEPS), default=10, help="images per row (grid: per side) (default 10)")
    add_device(parser)
    parser.set_defaults(handler=run)


def run(args) -> None:
    model = api.load(args.run, device=args.device)
    latent.latent_picture(model, args.run, args.plot, args.output, data=args.data, split=args.split,
                          count=args.num_samples, method=args.method, index=args.index, steps=args.steps,
                          inputs=args.inputs)
    print(f"wrote {args.plot} of {model.model_name} codes to {args.output}")
