"""``manage.py line_partitions [--drop-empty] [--merge [--target-lines N]]``.

Lists the transaction-line partitions that big imports loaded (``customers.line_partitions``)
with their ranges of transaction ids and line counts (the planner's statistics: no partition is
read). ``--drop-empty`` drops those left without
lines; ``--merge`` folds neighbouring partitions together, each merged one holding at most
``--target-lines`` lines (10,000,000 by default): one partition per nightly import adds up to
hundreds a year, and every query that does not name its transactions plans each of them.
Merging blocks the lines for the length of the swap: run it in a quiet hour.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from customers import line_partitions


class Command(BaseCommand):
    help = "List, drop empty or merge the transaction-line partitions of big imports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--drop-empty", action="store_true", help="drop partitions without lines"
        )
        parser.add_argument("--merge", action="store_true", help="merge neighbouring partitions")
        parser.add_argument(
            "--target-lines",
            type=int,
            default=10_000_000,
            help="most lines of a merged partition (default 10,000,000)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["drop_empty"]:
            for name in line_partitions.drop_empty():
                self.stdout.write(f"dropped {name} (no lines)")
        if options["merge"]:
            plan = line_partitions.merge_plan(
                line_partitions.import_partitions(), options["target_lines"]
            )
            for run in plan:
                merged = line_partitions.merge(run)
                self.stdout.write(
                    f"merged {len(run)} partitions into {merged.name} "
                    f"(about {merged.lines:,} lines)"
                )
        partitions = line_partitions.import_partitions()
        for partition in partitions:
            self.stdout.write(
                f"{partition.name}: transactions {partition.low:,} to {partition.high - 1:,}, "
                f"about {partition.lines:,} lines"
            )
        self.stdout.write(f"{len(partitions)} import partitions")
