"""genlab compress and genlab decompress."""

from __future__ import annotations

from genlab.commands.common import add_device, add_inputs, add_output, lazy, with_examples

api, codec = lazy("genlab.api"), lazy("genlab.apps.codec")


def register(commands, common) -> None:
    compress = commands.add_parser(
        "compress", parents=[common], help="compress images into one file with an autoencoder's quantised codes",
        description="Quantise each input's code and entropy-code them all into one file (format: genlab.apps.codec). "
                    "--step is the quality knob: smaller steps give larger files and better images.",
        **with_examples("genlab compress RUN digits/*.png -o digits.glz --step 0.1"))
    compress.add_argument("run", help="run directory or model folder of an ae, vae, dae or sparse-ae")
    add_inputs(compress)
    add_output(compress, "the compressed file to write")
    compress.add_argument("--step", type=float, default=0.1,
                          help="quantisation step in code standard deviations (a linear model's: their root mean "
                               "square); smaller gives larger, more faithful files (default 0.1)")
    add_device(compress)
    compress.set_defaults(handler=run_compress)

    decompress = commands.add_parser("decompress", parents=[common], help="decode a file written by genlab compress")
    decompress.add_argument("file", help="the compressed file")
    add_output(decompress, "a folder for PNG images, or a .npy/.npz/.csv file")
    decompress.add_argument("--run", help="the run it was compressed with (default: the location stored in the file)")
    add_device(decompress)
    decompress.set_defaults(handler=run_decompress)


def run_compress(args) -> None:
    model = api.load(args.run, device=args.device)
    count, size = codec.compress_files(model, args.inputs, args.output, args.step, model_hint=args.run)
    print(f"compressed {count} samples into {args.output}: {size:,} bytes ({size / count:.1f} per sample)")


def run_decompress(args) -> None:
    count, written = codec.decompress_file(args.file, args.output, run=args.run, device=args.device)
    print(f"decoded {count} samples into {args.output if len(written) > 1 else written[0]}")
