"""The daily campaign-results task moved from campaigns.tasks to optimizer.tasks (layers): point
the existing schedule rows at the new dotted path. Idempotent; reversible."""

from django.db import migrations

OLD = "campaigns.tasks.campaign_results_task"
NEW = "optimizer.tasks.campaign_results_task"


def forwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=OLD).update(func=NEW)


def backwards(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(func=NEW).update(func=OLD)


class Migration(migrations.Migration):
    dependencies = [
        ("optimizer", "0004_allocation_budget_one_rule"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(forwards, backwards)]
