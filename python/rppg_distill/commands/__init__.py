"""Subcommands of the `rppg-distill` CLI; see `rppg_distill.cli`."""
