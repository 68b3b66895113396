"""The `tinybt` command. Each subcommand is a thin wrapper around a module."""

import sys

import click

from tinybt import __version__
from tinybt.errors import TinyBTError


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
