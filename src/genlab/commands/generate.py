"""genlab sample, reconstruct and encode."""

from __future__ import annotations

from genlab.commands.common import (
    OUTPUT_HELP,
    add_data,
    add_device,
    add_num_samples,
    add_output,
    add_seed,
    lazy,
    whole,
    with_examples,
)

api, generation = lazy("genlab.api"), lazy("genlab.apps.generation")


def register(commands, common) -> None:
    sample = commands.add_parser("sample", parents=[common], help="draw new samples from a trained model",
                                 **with_examples("genlab sample RUN -n 64 -o samples.png",
                                                 "genlab sample RUN --class 7 -n 100 -o sevens.npy",
                                                 "genlab sample RUN --class 7 -n 5 -o sevens.wav  # a model of audio"))
    sample.add_argument("run", help="run directory or model folder")
    add_num_samples(sample, 64)
    add_output(sample, OUTPUT_HELP, default="samples.png")
    add_seed(sample)
    sample.add_argument("--class", dest="label", help="generate this class, by index or by name "
                        "(conditional models: cgan, cvae)")
    sample.add_argument("--sampler", choices=["prior", "gmm"], default="prior",
                        help="prior: the model's own; gmm: a Gaussian mixture fitted to training codes (ae, vae)")
    sample.add_argument("--components", type=whole(1, 10_000), default=10, help="mixture components for --sampler gmm (default 10)")
    add_device(sample)
    sample.set_defaults(handler=run_sample)

    reconstruct = commands.add_parser("reconstruct", parents=[common],
                                      help="encode and decode data: a grid of originals over reconstructions",
                                      **with_examples("genlab reconstruct RUN -n 32 -o reconstructions.png",
                                                      "genlab reconstruct RUN in.wav -o out.wav  # a model of audio"))
    reconstruct.add_argument("run", help="run directory or model folder")
    reconstruct.add_argument("inputs", nargs="*", metavar="INPUT",
                             help="files to reconstruct (images, audio clips, arrays); default: a split of --data")
    add_data(reconstruct)
    add_num_samples(reconstruct, 32, "inputs")
    add_output(reconstruct, ".png grid (originals above reconstructions), .npy/.npz/.csv values in the data's units, "
               "or .wav (a model of audio: the reconstructions one after another)", default="reconstructions.png")
    add_device(reconstruct)
    reconstruct.set_defaults(handler=run_reconstruct)

    encode = commands.add_parser("encode", parents=[common], help="write the latent codes of a dataset split")
    encode.add_argument("run", help="run directory or model folder")
    add_data(encode)
    add_output(encode, ".npy (codes) or .npz (codes and labels)", default="codes.npy")
    add_device(encode)
    encode.set_defaults(handler=run_encode)


def run_sample(args) -> None:
    model = api.load(args.run, device=args.device)
    paths = generation.sample_to_file(model, args.run, args.output, args.num_samples, seed=args.seed, label=args.label,
                                      sampler=args.sampler, components=args.components)
    print(f"wrote {args.num_samples} samples to {paths[0] if len(paths) == 1 else args.output}")


def run_reconstruct(args) -> None:
    model = api.load(args.run, device=args.device)
    count, error = generation.reconstruct_to_file(model, args.run, args.output, args.num_samples, data=args.data,
                                                  split=args.split, inputs=args.inputs)
    print(f"wrote {count} reconstructions to {args.output} (mean squared error {error:.5f} in model units)")


def run_encode(args) -> None:
    model = api.load(args.run, device=args.device)
    shape = generation.encode_to_file(model, args.run, args.output, data=args.data, split=args.split)
    print(f"wrote codes of shape {shape} to {args.output}")
