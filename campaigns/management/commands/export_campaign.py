"""``manage.py export_campaign <id> [--output FILE]``: an approved campaign's audience as CSV."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from campaigns.exceptions import TransitionNotAllowed
from campaigns.models import Campaign
from campaigns.services.audience import campaign_audience_check, campaign_audience_write


class Command(BaseCommand):
    help = "Write an approved campaign's recipients (for an external ESP or CRM) as CSV."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("campaign_id", type=int)
        parser.add_argument("--output", "-o", help="File to write (default: standard output).")

    def handle(self, *args: Any, **options: Any) -> None:
        campaign = Campaign.objects.filter(pk=options["campaign_id"]).first()
        if campaign is None:
            raise CommandError(f"campaign #{options['campaign_id']} does not exist")
        try:
            campaign_audience_check(campaign=campaign)  # before a file is created
            if options["output"]:
                with Path(options["output"]).open("w", newline="", encoding="utf-8") as stream:
                    rows = campaign_audience_write(
                        campaign=campaign, stream=stream, actor_label="export_campaign"
                    )
            else:
                rows = campaign_audience_write(
                    campaign=campaign, stream=self.stdout, actor_label="export_campaign"
                )
        except TransitionNotAllowed as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"campaign #{campaign.pk}: {rows} recipients exported")
