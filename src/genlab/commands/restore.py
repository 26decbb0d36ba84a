"""genlab denoise and genlab inpaint: repairing inputs with a trained autoencoder."""

from __future__ import annotations

from genlab.bounds import MAX_INPAINT_STEPS
from genlab.commands.common import OUTPUT_HELP, add_device, add_inputs, add_output, lazy, whole, with_examples

api, denoising, inpainting = (
    lazy("genlab.api"), lazy("genlab.apps.denoising"), lazy("genlab.apps.inpainting"),
)


def register(commands, common) -> None:
    denoise = commands.add_parser(
        "denoise", parents=[common], help="remove noise with a denoising autoencoder",
        **with_examples("genlab train dae --data mnist --set model.noise=gaussian --set model.noise_level=0.3",
                        "genlab denoise RUN noisy/ -o clean/"))
    denoise.add_argument("run", help="run directory or model folder (a dae trained for the noise at hand)")
    add_inputs(denoise)
    add_output(denoise, OUTPUT_HELP)
    add_device(denoise)
    denoise.set_defaults(handler=run_denoise)

    inpaint = commands.add_parser(
        "inpaint", parents=[common], help="fill missing pixels, keeping the known ones",
        description="Fit the code of each input to its known pixels and fill the holes from the decoding; known "
                    "pixels are left exactly as they were.")
    inpaint.add_argument("run", help="run directory or model folder of an ae or vae")
    add_inputs(inpaint)
    inpaint.add_argument("--mask", required=True,
                         help="image (white = missing) or 0/1 array (1 = missing): one for all inputs or one per input")
    add_output(inpaint, OUTPUT_HELP)
    inpaint.add_argument("--steps", type=whole(1, MAX_INPAINT_STEPS), default=300, help="optimisation steps on the codes (default 300)")
    add_device(inpaint)
    inpaint.set_defaults(handler=run_inpaint)


def run_denoise(args) -> None:
    model = api.load(args.run, device=args.device)
    count = denoising.denoise_files(model, args.inputs, args.output)
    print(f"denoised {count} samples into {args.output}")


def run_inpaint(args) -> None:
    model = api.load(args.run, device=args.device)
    count, filled = inpainting.inpaint_files(model, args.inputs, args.mask, args.output, steps=args.steps)
    print(f"filled {filled:,} missing values in {count} samples; wrote {args.output}")
