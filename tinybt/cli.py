"""The `tinybt` command. Each subcommand is a thin wrapper around a module.

Whatever fails in a command ends as one line on stderr and a non-zero exit
(tinybt.errors.one_line); `--debug` or TINYBT_DEBUG=1 shows the traceback instead.
Warnings (e.g. a skipped truncated line) are one `warning: ...` line each.
"""

import os
import signal
import sys
import warnings

import click

from tinybt import __version__
from tinybt.atomic import check_folder
from tinybt.errors import TinyBTError, one_line
from tinybt.backend import BACKENDS, use_backend
from tinybt.run.config import LR, LR_BATCH, TrainConfig


def _show_warning(message, category, filename, lineno, file=None, line=None):
    click.echo(f"warning: {message}", err=True)


def _show_click_error(e):
    """A bad flag or command as one line (`tinybt` or `tinybt data` alone still show their help)."""
    if isinstance(e, getattr(click.exceptions, "NoArgsIsHelpError", ())):
        e.show()
        return
    hint = f" (see `{e.ctx.command_path} --help`)" if isinstance(e, click.UsageError) and e.ctx else ""
    click.echo(f"error: {e.format_message()}{hint}", err=True)


class _Group(click.Group):
    """Runs a subcommand with one-line errors and warnings (also under click's CliRunner)."""

    def invoke(self, ctx):
        debug = ctx.params.get("debug") or os.environ.get("TINYBT_DEBUG", "") not in ("", "0")
        with warnings.catch_warnings():
            warnings.showwarning = _show_warning
            try:
                return super().invoke(ctx)
            except (click.exceptions.Exit, click.exceptions.Abort):
                raise
            except click.ClickException as e:       # a bad flag value, an unknown command
                if debug:
                    raise
                _show_click_error(e)
                ctx.exit(e.exit_code)
            except Exception as e:                  # KeyboardInterrupt passes: click makes it exit 130
                if isinstance(e.__cause__, KeyboardInterrupt):
                    # Ctrl-C while a compiled kernel ran: Numba's dispatcher returns with the
                    # interrupt pending, and Python reports SystemError caused by it
                    raise e.__cause__ from None
                if debug:
                    raise
                message, code = one_line(e)
                click.echo(f"error: {message}", err=True)
                ctx.exit(code)


@click.group(cls=_Group)
@click.version_option(__version__, prog_name="tinybt")
@click.option("--debug", is_flag=True, help="Show the full traceback of an error (also: TINYBT_DEBUG=1).")
def cli(debug):
    """Barlow Twins for user sequence modeling, from scratch in NumPy/Numba."""


@cli.command()
@click.option("--only", default=None, help="Check only cases whose name contains this text.")
@click.option("--seed", default=0, show_default=True, help="Seed for the random test tensors.")
def gradcheck(only, seed):
    """Float64 finite-difference check of every layer, loss and model."""
    from tinybt.check.gradcheck import run_all

    if seed < 0:
        raise TinyBTError(f"--seed: must be >= 0, got {seed}")
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
    from tinybt.check.golden import export

    names = export(dir, force=force)
    click.echo(f"wrote {len(names)} cases to {dir}")


@golden.command("check")
@click.argument("dir", type=click.Path(file_okay=False))
@click.option("--only", multiple=True, metavar="PAT",
              help="Check only cases whose name contains PAT (repeat for several; `tinybt golden list`).")
def golden_check(dir, only):
    """Recompute every case in DIR with this tinybt and compare (exit 1 on a difference)."""
    from tinybt.check.golden import check

    if not check(dir, echo=click.echo, only=only):
        sys.exit(1)


@golden.command("list")
def golden_list():
    """Every golden case with a one-line description."""
    from tinybt.check.golden import list_cases

    cases = list_cases()
    width = max(len(name) for name, _ in cases)
    for name, doc in cases:
        click.echo(f"{name:<{width}}  {doc}")


_T = TrainConfig()      # train's flag defaults are the config's field defaults


class _IntOrAll(click.ParamType):
    """An integer, or the word "all" (TrainConfig.validate resolves it)."""
    name = "INTEGER|all"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or value == "all":
            return value
        try:
            return int(value)
        except ValueError:
            self.fail(f"expected an integer or all, got {value!r}", param, ctx)


@cli.command()
@click.option("--dataset", default=_T.dataset, show_default=True,
              help="ml-1m, ml-20m, ml-100k (downloaded into $TINYBT_HOME, default ~/.cache/tinybt), "
                   "yelp (cannot be downloaded: needs --data-dir) or synthetic (generated).")
@click.option("--data-dir", default=None,
              help="Folder holding the dataset's files (else the download cache $TINYBT_HOME); "
                   "required for yelp, which cannot be downloaded.")
@click.option("--objective", type=click.Choice(["barlow", "dual"]), default=_T.objective, show_default=True)
@click.option("--encoder", type=click.Choice(["gru", "transformer"]), default=_T.encoder, show_default=True)
@click.option("--epochs", type=int, default=_T.epochs, show_default=True)
@click.option("--batch-size", type=int, default=_T.batch_size, show_default=True)
@click.option("--max-len", type=_IntOrAll(), default=_T.max_len, show_default=True,
              help="History items the encoder sees (the last ones); all: the longest history in the data, "
                   "resolved to its number in config.json.")
@click.option("--dim", type=int, default=_T.dim, show_default=True, help="User vector / item embedding size D.")
@click.option("--layers", type=int, default=_T.layers, show_default=True, help="Transformer blocks.")
@click.option("--heads", type=int, default=_T.heads, show_default=True, help="Attention heads (divide --dim).")
@click.option("--pooling", type=click.Choice(["last", "mean"]), default=_T.pooling, show_default=True,
              help="GRU user vector: last hidden state or mean of the states.")
@click.option("--projector", default=_T.projector, show_default=True, help="BT projector widths.")
@click.option("--lambd", type=float, default=_T.lambd, show_default=True, help="BT off-diagonal weight.")
@click.option("--tau", type=float, default=_T.tau, show_default=True, help="Dual-encoder temperature.")
@click.option("--sampling-correction", type=click.Choice(["logq", "none"]), default=_T.sampling_correction,
              show_default=True, help="Dual encoder: subtract each in-batch item's log target frequency.")
@click.option("--lr", type=float, default=None,
              help=f"Peak learning rate [default: {LR:g}·√(batch size / {LR_BATCH}), docs/tuning.md].")
@click.option("--warmup", type=float, default=_T.warmup, show_default=True, help="Warm-up fraction of all steps.")
@click.option("--min-lr", type=float, default=_T.min_lr, show_default=True, help="Learning rate at the end of the cosine.")
@click.option("--weight-decay", type=float, default=_T.weight_decay, show_default=True, help="Decoupled (AdamW).")
@click.option("--grad-clip", type=float, default=_T.grad_clip, show_default=True, help="Global norm; 0 = off.")
@click.option("--embedding-grad", type=click.Choice(["dense", "sparse"]), default=_T.embedding_grad, show_default=True,
              help="Item table: dense gradient and Adam, or the batch's rows and lazy Adam (large vocabularies).")
@click.option("--augment", default=_T.augment, show_default=True,
              help="BT views: comma-separated ops, each op[:rate]; each view applies one of them, drawn "
                   "uniformly. crop keeps a window of rate·L items, mask hides rate·L scattered items, "
                   "reorder shuffles a span of rate·L items, segment (opt-in, default rate 0.3) hides a "
                   "span of rate·L items; hidden items become [MASK] (id V+1, a trained embedding row). "
                   "Example: --augment crop:0.5,mask:0.2 (no reorder).")
@click.option("--seed", type=int, default=_T.seed, show_default=True,
              help="Training randomness: initial weights, batch order, augmented views, next-item cut points.")
@click.option("--split-seed", type=int, default=_T.split_seed, show_default=True,
              help="Which users are train / validation / test (independent of --seed).")
@click.option("--min-interactions", type=int, default=_T.min_interactions, show_default=True,
              help="Users with fewer interactions are dropped.")
@click.option("--pretrain-users", type=click.Choice(["all", "train"]), default=_T.pretrain_users, show_default=True,
              help="Pretrain on every user's history, or on train users only.")
@click.option("--out", default=None, help="Run folder [default: runs/<dataset>-<objective>-<encoder>-<time>].")
@click.option("--resume", default=None,
              help="Continue the run in this folder with its saved config (--data-dir: where its data is now).")
@click.option("--threads", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--backend", type=click.Choice(BACKENDS), default="fast", show_default=True,
              help="fast: the Numba kernels; reference: the plain NumPy layers (same maths, slower).")
@click.option("--no-probe", is_flag=True, help="Skip the linear probe table at the end.")
@click.pass_context
def train(ctx, out, resume, threads, backend, no_probe, **settings):
    """Pretrain a user-sequence encoder (Barlow Twins or the dual-encoder baseline)."""
    from tinybt.run import run_dir
    from tinybt.train.trainer import train as run_training

    given = _given(ctx, settings)
    if resume is not None:
        if set(given) - {"data_dir"} or out is not None:
            flag = "--" + next((k for k in given if k != "data_dir"), "out").replace("_", "-")
            raise TinyBTError(f"{flag}: --resume continues with the run's saved config.json; drop {flag}")
        with run_dir.data_moved_to(settings["data_dir"]), use_backend(backend):
            path = run_training(resume=resume, threads=threads)
    else:
        _refuse_transformer_flags(given, settings["encoder"])
        with use_backend(backend):
            path = run_training(TrainConfig(**settings, threads=threads), out=out)
    click.echo(f"run folder: {path}")
    if not no_probe:
        ctx.invoke(probe, run_dir=str(path))


def _given(ctx, settings):
    """The settings the user typed on the command line (not defaults)."""
    return [k for k in settings if ctx.get_parameter_source(k) == click.core.ParameterSource.COMMANDLINE]


def _refuse_transformer_flags(given, encoder):
    """A flag that would change nothing is a mistake, not a no-op."""
    for k in ("heads", "layers"):
        if k in given and encoder == "gru":
            raise TinyBTError(f"--{k}: only the transformer has {k}; drop --{k} or pass --encoder transformer")


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
                     help="Probe processes (spawned; they share the features through memory-mapped files)."),
        click.option("--probe-projector", is_flag=True,
                     help="Barlow Twins runs: also probe the projector output (P-dimensional, badly "
                          "conditioned: several times the probe time of the encoder output)."),
    ]):
        f = opt(f)
    return f


@cli.command(epilog=_EVAL_HELP)
@click.argument("run_dir", type=click.Path())
@_eval_options
@click.option("--threads", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--data-dir", default=None, help="Where the run's data is now, if it moved.")
def probe(run_dir, tasks, label_fractions, seeds, folds, split, jobs, probe_projector, threads, data_dir):
    """Cross-validated linear probes and next-item retrieval of a run's frozen user vectors,
    with the reference rows and 95 % intervals -> results.json/.md (results-val.* for --split val)."""
    from tinybt.probe.evaluate import check_run_dir, evaluate, parse_list
    from tinybt.run import lock
    from tinybt.run.config import use_threads
    from tinybt.run.run_dir import data_moved_to

    fractions = parse_list(label_fractions, "--label-fractions", float)
    use_threads(threads)
    with lock.acquire(check_run_dir(run_dir), "RUN_DIR"), data_moved_to(data_dir):
        _, md = evaluate(run_dir, parse_list(tasks, "--tasks"), fractions, seeds, split, folds, jobs,
                         echo=lambda s: click.echo(s, err=True), projector=probe_projector)
    click.echo(md)


@cli.command(epilog=_EVAL_HELP)
@click.option("--batch-sizes", default="16,32,64,128,256", show_default=True)
@click.option("--seeds-pretrain", type=int, default=3, show_default=True,
              help="Pretraining seeds per (objective, batch size): seed, seed+1, ...")
@click.option("--lr-scaling", type=click.Choice(["none", "sqrt"]), default="none", show_default=True,
              help="With --lr: the same peak lr at every batch size, or lr·sqrt(B/128). Without --lr "
                   "each batch size takes its default.")
@click.option("--out", default=None, help="Folder [default: runs/compare-<dataset>-<encoder>].")
@_eval_options
@click.pass_context
def compare(ctx, batch_sizes, seeds_pretrain, lr_scaling, out, tasks, label_fractions, seeds, folds, split, jobs,
            probe_projector, **settings):
    """Barlow Twins vs dual encoder at each batch size (same examples seen, several pretraining seeds),
    evaluated with paired 95 % intervals -> OUT/compare.md."""
    from tinybt.probe.compare import compare as run_compare
    from tinybt.probe.evaluate import parse_list

    _refuse_transformer_flags(_given(ctx, settings), settings["encoder"])
    md = run_compare(settings, parse_list(batch_sizes, "--batch-sizes", int), out, lr_scaling,
                     parse_list(tasks, "--tasks"), parse_list(label_fractions, "--label-fractions", float),
                     seeds, split, folds, seeds_pretrain, jobs, echo=lambda s: click.echo(s, err=True),
                     projector=probe_projector)
    click.echo(md.read_text(encoding="utf-8"))


# compare shares train's model and optimiser flags (one definition each)
compare.params += [p for p in train.params
                   if p.name not in ("objective", "batch_size", "out", "resume", "no_probe", "backend")]


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--out", required=True, type=click.Path(dir_okay=False), help="Output .npy or .csv file.")
@click.option("--threads", type=int, default=None, help="Numba threads [default: all cores].")
@click.option("--data-dir", default=None, help="Where the run's data is now, if it moved.")
def embed(run_dir, out, threads, data_dir):
    """Write the user vector of every user of a trained run (.npy, or .csv with user ids)."""
    from tinybt.run.config import use_threads
    from tinybt.train.embed import embed as write_vectors
    from tinybt.run.run_dir import data_moved_to

    use_threads(threads)
    with data_moved_to(data_dir):
        n, d = write_vectors(run_dir, out)
    click.echo(f"wrote {n} user vectors of dimension {d} to {out}")


@cli.group()
def data():
    """Datasets: download, inspect, synthesize in the real file formats."""


@data.command("download")
@click.argument("name")
@click.option("--data-dir", default=None, help="Check and parse this folder instead of downloading.")
def data_download(name, data_dir):
    """Fetch NAME (ml-1m, ml-20m, ml-100k) into $TINYBT_HOME, verify and parse it."""
    from tinybt.data.download import locate
    from tinybt.data.load import load_dataset
    from tinybt.data.registry import check_name

    check_name(name)
    if name == "synthetic":
        raise TinyBTError("synthetic is generated, there is nothing to download; "
                          "use `tinybt data synthesize` to write it as files")
    ds = load_dataset(name, data_dir=data_dir)
    click.echo(f"{name}: {len(ds.user):,} interactions, {ds.n_users:,} users, {ds.n_items:,} items "
               f"in {locate(name, data_dir, download=False)}")


@data.command("info")
@click.argument("name")
@click.option("--data-dir", default=None, help="Folder holding the dataset's files.")
@click.option("--max-len", type=int, default=_T.max_len, show_default=True, help="History items the encoder sees.")
@click.option("--min-interactions", type=int, default=_T.min_interactions, show_default=True,
              help="Users with fewer interactions are dropped.")
def data_info(name, data_dir, max_len, min_interactions):
    """Counts, sequence-length percentiles and label balance of every task."""
    from tinybt.data.info import describe
    from tinybt.data.load import load_dataset
    from tinybt.data.registry import check_name

    check_name(name)
    from tinybt.run import memory

    cfg = TrainConfig(dataset=name, data_dir=data_dir, max_len=max_len, min_interactions=min_interactions).validate()
    ds = load_dataset(name, data_dir=data_dir, download=False)
    click.echo("\n".join(describe(ds, max_len=max_len, min_interactions=min_interactions)))
    click.echo(f"with the default settings, {memory.describe(cfg, ds.n_items, len(ds.user))}")


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
    if seed < 0:
        raise TinyBTError(f"--seed: must be >= 0, got {seed}")
    check_folder(out, "--out")
    ds = generate(n_users=users, n_items=items, seed=seed)
    write_dataset(ds, fmt, out)
    click.echo(f"wrote {len(ds.user):,} interactions of {users:,} users in the {fmt} format to {out}")


class Terminated(KeyboardInterrupt):
    """SIGTERM (`kill`, `timeout`, a scheduler) or SIGHUP (the terminal closed), raised where the
    program is: it then stops as Ctrl-C does (a run keeps its last finished epoch to resume from,
    probe workers are stopped), and says so in one line instead of vanishing."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


def _terminate(signum, frame):
    raise Terminated(signum)


def main():
    # not where they are ignored (`nohup` ignores SIGHUP); no SIGHUP on Windows
    stops = [getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)]
    previous = {s: signal.signal(s, _terminate) for s in stops if signal.getsignal(s) is signal.SIG_DFL}
    try:
        rv = cli(standalone_mode=False)
    except click.exceptions.Abort as e:         # click turns KeyboardInterrupt into Abort
        if isinstance(e.__cause__, Terminated):
            click.echo(f"terminated by {signal.Signals(e.__cause__.signum).name}", err=True)
            sys.exit(128 + e.__cause__.signum)
        click.echo("aborted", err=True)         # Ctrl-C
        sys.exit(130)
    except click.ClickException as e:           # a bad option of `tinybt` itself
        _show_click_error(e)
        sys.exit(e.exit_code)
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
    sys.exit(rv if isinstance(rv, int) else 0)
