"""Redrive jobs (dashboard/redrive_jobs.py): a queue's dead letters handed back in the
background, with progress every dashboard process sees; at most one running per queue."""

import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("dashboard", "0004_trace_index"),
    ]

    operations = [
        migrations.CreateModel(
            name="RedriveJob",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False,
                                           verbose_name="ID")),
                ("queue", models.CharField(help_text="The dead-letter queue's name.",
                                           max_length=64)),
                ("state", models.CharField(choices=[("running", "running"),
                                                    ("finished", "finished"),
                                                    ("failed", "failed")],
                                           default="running", max_length=16)),
                ("total", models.IntegerField(help_text="Dead letters in the queue as it began.",
                                              null=True)),
                ("moved", models.IntegerField(default=0, help_text="Handed back and deleted.")),
                ("kept", models.IntegerField(
                    default=0, help_text="Holding nothing to hand back; left in place.")),
                ("failed", models.IntegerField(
                    default=0, help_text="Refused where they go back; left in place.")),
                ("error", models.TextField(blank=True,
                                           help_text="Why the job stopped, if it failed.")),
                ("started_at", models.DateTimeField(default=django.utils.timezone.now)),
                ("updated_at", models.DateTimeField(
                    default=django.utils.timezone.now,
                    help_text="Its last progress: how a stopped job is told.")),
                ("finished_at", models.DateTimeField(null=True)),
            ],
            options={
                "ordering": ["-started_at"],
                "indexes": [models.Index(fields=["queue", "-started_at"],
                                         name="redrive_queue_recent")],
                "constraints": [models.UniqueConstraint(
                    condition=models.Q(("state", "running")), fields=("queue",),
                    name="one_running_redrive_per_queue")],
            },
        ),
    ]
