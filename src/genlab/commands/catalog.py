"""genlab models and genlab data: what can be trained, on what."""

from __future__ import annotations

from genlab.commands.common import lazy

models, settings, datasets, download = (
    lazy("genlab.models"), lazy("genlab.settings"), lazy("genlab.data.catalog"), lazy("genlab.data.download"),
)


def register(commands, common) -> None:
    listing = commands.add_parser("models", parents=[common], help="list the models and their settings")
    listing.add_argument("name", nargs="?", help="show one model's settings and defaults")
    listing.set_defaults(handler=run_models)

    data = commands.add_parser("data", parents=[common], help="list, download and verify named datasets")
    actions = data.add_subparsers(title="data commands", metavar="ACTION")
    data_list = actions.add_parser("list", parents=[common], help="named datasets and whether they are cached")
    data_list.add_argument("--root", help="dataset cache (default $GENLAB_DATA or ~/.cache/genlab)")
    data_list.set_defaults(handler=run_data_list)
    fetch = actions.add_parser("fetch", parents=[common], help="download a dataset into the cache and verify it")
    fetch.add_argument("name")
    fetch.add_argument("--mirror", help="URL or local folder holding the published files (.gz or archive)")
    fetch.add_argument("--root", help="dataset cache (default $GENLAB_DATA or ~/.cache/genlab)")
    fetch.set_defaults(handler=run_data_fetch)
    verify = actions.add_parser("verify", parents=[common], help="check the SHA-256 of every cached file of a dataset")
    verify.add_argument("name")
    verify.add_argument("--root", help="dataset cache (default $GENLAB_DATA or ~/.cache/genlab)")
    verify.set_defaults(handler=run_data_verify)
    data.set_defaults(handler=lambda _: data.print_help())


def run_models(args) -> None:
    names = [args.name] if args.name else models.list_models()
    for name in names:
        cls = models.get_model_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name:<14} {cls.__name__}: {doc}")
        if args.name:
            for field, default, note in settings.field_table(cls.config_class):
                print(f"  model.{field:<22} default {default!r}" + (f"  # {note}" if note else ""))


def run_data_list(args) -> None:
    root = download.data_root(args.root)
    print(f"cache: {root}")
    for named in datasets.NAMED_DATASETS.values():
        state = datasets.cache_state(named, root)
        print(f"  {named.name:<14} {state:<10} {named.download_size:>8}  {named.description}")


def run_data_fetch(args) -> None:
    named = _named_with_files(args.name, "fetch")
    if named is not None:
        directory = lazy("genlab.data.dataset").ensure_named_dataset(named, args.root, download=True, mirror=args.mirror)
        print(f"{named.name}: {len(named.files)} files verified in {directory}")


def run_data_verify(args) -> None:
    named = _named_with_files(args.name, "verify")
    if named is not None:
        directory = datasets.verify_named(named, args.root)
        print(f"{named.name}: {len(named.files)} files match their SHA-256 in {directory}")


def _named_with_files(name: str, verb: str):
    """The named dataset, or None (said so) when it ships with a package and has no files to `verb`."""
    named = datasets.get_named_dataset(name)
    if not named.needs_files:
        print(f"{named.name} ships with scikit-learn; nothing to {verb}")
        return None
    return named
