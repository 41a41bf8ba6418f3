"""A trace reads the first and the newest events of its subject by when they were observed,
and counts them: one index range each, however many events the subject has."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('dashboard', '0003_order_observed_at'),
    ]

    operations = [
        migrations.AddIndex(
            model_name='observedevent',
            index=models.Index(fields=['order_id', 'observed_at', 'id'], name='event_order_seen'),
        ),
    ]
