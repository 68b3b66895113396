"""The `tinybt` command. Each subcommand is a thin wrapper around a module."""

import os
import sys

import click

from tinybt import __version__
from tinybt.errors import TinyBTError
from tinybt.train.config import TrainConfig


@click.group()
@click.version_option(__version__, prog_name="tinybt")
def cli():
    """Barlow Twins for user sequence modeling, from scratch in NumPy/Numba."""


@cli.command()
@click.option("--only", default=None, help="Check only cases whose name contains this text.")
@click.option("--seed", default=0, show_default=True, help="Seed for the random test tensors.")
def gradcheck(only, seed):
    """Float64 finite-difference check of every layer, loss and model."""
    from tinybt.gradcheck import run_all

    if not run_all(only=only, seed=seed, echo=click.echo):
        sys.exit(1)


@cli.group()
def golden():
    """Golden files (inputs, params, outputs, grads) for checking ports to other frameworks."""


@golden.command("export")
@click.argument("dir", type=click.Path(file_okay=False))
@click.option("--force", is_flag=True, help="Replace DIR even if it is not empty.")
def golden_export(dir, force):
    """Write every case to DIR (manifest.json + one .npz per case, float64)."""
    from tinybt.golden import export

    names = export(dir, force=force)
    click.echo(f"wrote {len(names)} cases to {dir}")


@golden.command("check")
@click.argument("dir", type=click.Path(file_okay=False))
def golden_check(dir):
    """Recompute every case in DIR with this tinybt and compare (exit 1 on a difference)."""
    from tinybt.golden import check

    if not check(dir, echo=click.echo):
        sys.exit(1)


_T = TrainConfig()      # train's flag defaults are the config's field defaults


@cli.command()
@click.option("--dataset", default=_T.dataset, show_default=True, help="ml-1m, ml-20m, ml-100k, yelp or synthetic.")
@click.option("--data-dir", default=None, help="Folder holding the dataset's files (else the download cache).")
@click.option("--objective", type=click.Choice(["barlow", "dual"]), default=_T.objective, show_default=True)
@click.option("--encoder", type=click.Choice(["gru", "transformer"]), default=_T.encoder, show_default=True)
@click.option("--epochs", type=int, default=_T.epochs, show_default=True)
@click.option("--batch-size", type=int, default=_T.batch_size, show_default=True)
@click.option("--max-len", type=int, default=_T.max_len, show_default=True, help="History items the encoder sees.")
@click.option("--dim", type=int, default=_T.dim, show_default=True, help="User vector / item embedding size D.")
@click.option("--layers", type=int, default=_T.layers, show_default=True, help="Transformer blocks.")
@click.option("--heads", type=int, default=_T.heads, show_default=True, help="Attention heads (divide --dim).")
@click.option("--pooling", type=click.Choice(["last", "mean"]), default=_T.pooling, show_default=True,
              help="GRU user vector: last hidden state or mean of the states.")
@click.option("--projector", default=_T.projector, show_default=True, help="BT projector widths.")
@click.option("--lambd", type=float, default=_T.lambd, show_default=True, help="BT off-diagonal weight.")
@click.option("--tau", type=float, default=_T.tau, show_default=True, help="Dual-encoder temperature.")
@click.option("--lr", type=float, default=_T.lr, show_default=True, help="Peak learning rate.")
@click.option("--warmup", type=float, default=_T.warmup, show_default=True, help="Warm-up fraction of all steps.")
@click.option("--min-lr", type=float, default=_T.min_lr, show_default=True, help="Learning rate at the end of the cosine.")
@click.option("--weight-decay", type=float, default=_T.weight_decay, show_default=True, help="Decoupled (AdamW).")
@click.option("--grad-clip", type=float, default=_T.grad_clip, show_default=True, help="Global norm; 0 = off.")
@click.option("--augment", default=_T.augment, show_default=True, help="BT views: ops and rates.")
@click.option("--seed", type=int, default=_T.seed, show_default=True)
@click.option("--split-seed", type=int, default=_T.split_seed, show_default=True)
@click.option("--min-interactions", type=int, default=_T.min_interactions, show_default=True,
              help="Users with fewer interactions are dropped.")
@click.option("--pretrain-users", type=click.Choice(["all", "train"]), default=_T.pretrain_users, show_default=True,
              help="Pretrain on every user's history, or on train users only.")
@click.option("--out", default=None, help="Run folder [default: runs/<dataset>-<objective>-<encoder>-<time>].")
@click.option("--resume", default=None, help="Continue the run in this folder with its saved config.")
@click.option("--threads", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--no-probe", is_flag=True, help="Skip the linear probe table at the end.")
@click.pass_context
def train(ctx, out, resume, threads, no_probe, **settings):
    """Pretrain a user-sequence encoder (Barlow Twins or the dual-encoder baseline)."""
    from tinybt.train.trainer import train as run_training

    if resume is not None:
        given = [k for k in settings if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]
        if given or out is not None:
            flag = "--" + (given[0] if given else "out").replace("_", "-")
            raise TinyBTError(f"{flag}: --resume continues with the run's saved config.json; drop {flag}")
        path = run_training(resume=resume, threads=threads)
    else:
        path = run_training(TrainConfig(**settings, threads=threads), out=out)
    click.echo(f"run folder: {path}")
    if not no_probe:
        ctx.invoke(probe, run_dir=str(path))


_EVAL_HELP = "Evaluation protocol: docs/protocol.md."


def _eval_options(f):
    """Flags probe and compare share (one definition each)."""
    for opt in reversed([
        click.option("--tasks", default=None, help="Comma-separated [default: the dataset's default tasks, docs/protocol.md]."),
        click.option("--label-fractions", default="0.01,0.1,1", show_default=True,
                     help="Fractions of the training folds' users that get a label."),
        click.option("--seeds", type=int, default=5, show_default=True, help="Label subsets per fraction."),
        click.option("--folds", type=int, default=5, show_default=True, help="Stratified cross-validation folds."),
        click.option("--split", type=click.Choice(["test", "val"]), default="test", show_default=True,
                     help="Pool: test = every user outside the validation split (report); val = validation users (tuning)."),
        click.option("--jobs", type=int, default=min(4, os.cpu_count() or 1), show_default=True,
                     help="Probe processes (forked; each a copy-on-write copy of the features)."),
    ]):
        f = opt(f)
    return f


@cli.command(epilog=_EVAL_HELP)
@click.argument("run_dir", type=click.Path())
@_eval_options
def probe(run_dir, tasks, label_fractions, seeds, folds, split, jobs):
    """Cross-validated linear probes and next-item retrieval of a run's frozen user vectors,
    with the reference rows and 95 % intervals -> results.json/.md (results-val.* for --split val)."""
    from tinybt.evaluate import evaluate, parse_list

    if jobs < 1:
        raise TinyBTError(f"--jobs: must be at least 1, got {jobs}")
    fractions = parse_list(label_fractions, "--label-fractions", float)
    _, md = evaluate(run_dir, parse_list(tasks, "--tasks"), fractions, seeds, split, folds, jobs,
                     echo=lambda s: click.echo(s, err=True))
    click.echo(md)


@cli.command(epilog=_EVAL_HELP)
@click.option("--batch-sizes", default="16,32,64,128,256", show_default=True)
@click.option("--seeds-pretrain", type=int, default=3, show_default=True,
              help="Pretraining seeds per (objective, batch size): seed, seed+1, ...")
@click.option("--lr-scaling", type=click.Choice(["none", "sqrt"]), default="none", show_default=True,
              help="Peak lr per batch size: the same, or lr·sqrt(B/128).")
@click.option("--out", default=None, help="Folder [default: runs/compare-<dataset>-<encoder>].")
@_eval_options
def compare(batch_sizes, seeds_pretrain, lr_scaling, out, tasks, label_fractions, seeds, folds, split, jobs, **settings):
    """Barlow Twins vs dual encoder at each batch size (same examples seen, several pretraining seeds),
    evaluated with paired 95 % intervals -> OUT/compare.md."""
    from tinybt.compare import compare as run_compare
    from tinybt.evaluate import parse_list

    if jobs < 1:
        raise TinyBTError(f"--jobs: must be at least 1, got {jobs}")
    md = run_compare(settings, parse_list(batch_sizes, "--batch-sizes", int), out, lr_scaling,
                     parse_list(tasks, "--tasks"), parse_list(label_fractions, "--label-fractions", float),
                     seeds, split, folds, seeds_pretrain, jobs, echo=lambda s: click.echo(s, err=True))
    click.echo(md.read_text())


# compare shares train's model and optimiser flags (one definition each)
compare.params += [p for p in train.params if p.name not in ("objective", "batch_size", "out", "resume", "no_probe")]


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .npy or .csv file.")
def embed(run_dir, out):
    """Write the user vector of every user of a trained run (.npy, or .csv with user ids)."""
    from tinybt.train.embed import embed as write_vectors

    n, d = write_vectors(run_dir, out)
    click.echo(f"wrote {n} user vectors of dimension {d} to {out}")


@cli.group()
def data():
    """Datasets: download, inspect, synthesize in the real file formats."""


def _load_data(name, data_dir, download=True):
    """load_dataset, with loader warnings (e.g. a truncated last line) echoed to stderr."""
    import warnings

    from tinybt.data.load import load_dataset

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = load_dataset(name, data_dir=data_dir, download=download)
    for w in caught:
        click.echo(f"warning: {w.message}", err=True)
    return ds


@data.command("download")
@click.argument("name")
@click.option("--data-dir", default=None, help="Check and parse this folder instead of downloading.")
def data_download(name, data_dir):
    """Fetch NAME (ml-1m, ml-20m, ml-100k) into $TINYBT_HOME, verify and parse it."""
    from tinybt.data.download import locate
    from tinybt.data.load import check_name

    check_name(name)
    ds = _load_data(name, data_dir)
    click.echo(f"{name}: {len(ds.user):,} interactions, {ds.n_users:,} users, {ds.n_items:,} items "
               f"in {locate(name, data_dir, download=False)}")


@data.command("info")
@click.argument("name")
@click.option("--data-dir", default=None, help="Folder holding the dataset's files.")
@click.option("--max-len", type=int, default=50, show_default=True, help="History items the encoder sees.")
def data_info(name, data_dir, max_len):
    """Counts, sequence-length percentiles and label balance of every task."""
    from tinybt.data.info import describe

    click.echo("\n".join(describe(_load_data(name, data_dir, download=False), max_len=max_len)))


@data.command("synthesize")
@click.option("--format", "fmt", type=click.Choice(["ml-1m", "ml-20m", "ml-100k", "yelp"]), required=True)
@click.option("--users", type=int, default=1000, show_default=True)
@click.option("--items", type=int, default=500, show_default=True)
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Folder to write the files to.")
@click.option("--seed", type=int, default=0, show_default=True)
def data_synthesize(fmt, users, items, out, seed):
    """Write a synthetic dataset in a real file format (for loader tests and benchmarks)."""
    from tinybt.data.synthetic import generate
    from tinybt.data.writers import write_dataset

    if users < 1:
        raise TinyBTError(f"--users: must be at least 1, got {users}")
    if items < 2:
        raise TinyBTError(f"--items: must be at least 2, got {items}")
    ds = generate(n_users=users, n_items=items, seed=seed)
    write_dataset(ds, fmt, out)
    click.echo(f"wrote {len(ds.user):,} interactions of {users:,} users in the {fmt} format to {out}")


def main():
    try:
        rv = cli(standalone_mode=False)
    except TinyBTError as e:
        click.echo(f"error: {e}", err=True)
        sys.exit(2)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    sys.exit(rv if isinstance(rv, int) else 0)
