"""manage.py create_retailer SLUG --name NAME [--currency EUR] [--time-zone Europe/Helsinki]"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from retailers.services import retailer_create


class Command(BaseCommand):
    help = "Create a retailer (tenant)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("slug", help="short id: lowercase letters, digits and dashes")
        parser.add_argument("--name", required=True, help="display name")
        parser.add_argument("--currency", default="EUR", help="ISO 4217 code (default EUR)")
        parser.add_argument("--time-zone", default="UTC", help="IANA time zone (default UTC)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            retailer = retailer_create(
                slug=options["slug"],
                name=options["name"],
                currency=options["currency"],
                time_zone=options["time_zone"],
            )
        except ValidationError as exc:
            problems = "; ".join(
                f"{field}: {' '.join(messages)}" for field, messages in exc.message_dict.items()
            )
            raise CommandError(f"retailer not created: {problems}") from None
        self.stdout.write(
            f"Created retailer {retailer.slug} ({retailer.name}, {retailer.currency}, "
            f"{retailer.time_zone})."
        )
